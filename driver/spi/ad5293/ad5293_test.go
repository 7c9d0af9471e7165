package ad5293

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"

	"github.com/spukit/spukit/driver/spi/bus"
)

// Byte sequences from the frame format in the package doc:
// command<<10 | data, MSB first.
func TestPlayback(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{
		{W: []byte{0x18, 0x02}},                        // unlock: control = 0x002
		{W: []byte{0x07, 0xff}},                        // wiper 1023: 0x1<<10 | 0x3ff
		{W: []byte{0x04, 0x00}},                        // wiper 0
		{W: []byte{0x08, 0x00}},                        // read RDAC
		{W: []byte{0x00, 0x00}, R: []byte{0x02, 0x0a}}, // NOP clocks out 0x20a
		{W: []byte{0x10, 0x00}},                        // reset
		{W: []byte{0x20, 0x01}},                        // halt: shutdown
	}, DontPanic: true}
	d, err := New(pb, nil)
	require.NoError(t, err)
	d.ch.sleep = func(time.Duration) {} // TestResetWaits checks the wait
	require.ErrorIs(t, d.Write(5), ErrLocked, "refused before unlock, nothing sent")
	require.NoError(t, d.Unlock())
	require.NoError(t, d.Write(1023))
	require.NoError(t, d.Write(0))
	v, err := d.Read()
	require.NoError(t, err)
	assert.Equal(t, 0x20a, v)
	require.NoError(t, d.Reset())
	require.ErrorIs(t, d.Write(1), ErrLocked, "reset locks the wiper again")
	require.NoError(t, d.Halt())
	require.NoError(t, pb.Close())
}

func TestErrors(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{{W: []byte{0x18, 0x03}}}, DontPanic: true}
	d, err := New(pb, nil)
	require.NoError(t, err)
	err = d.Unlock()
	require.Error(t, err, "a wrong byte fails")
	assert.Contains(t, err.Error(), "command 0x6")
	d.ch.unlocked = true
	var re *bus.RangeError
	require.ErrorAs(t, d.Write(1024), &re)
	require.ErrorIs(t, d.Write(-1), ErrRange)
	_, err = New(nil, nil)
	require.ErrorIs(t, err, ErrConfig)
}

// A chain of three: chip k's frame is frame 2−k of each transaction.
func TestChainPlayback(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{
		{W: []byte{0x18, 0x02, 0x18, 0x02, 0x18, 0x02}}, // unlock all
		{W: []byte{0x04, 0x03, 0x04, 0x02, 0x04, 0x01}}, // wipers 1, 2, 3 → chip 2's frame first
		{W: []byte{0x08, 0x00, 0x08, 0x00, 0x08, 0x00}}, // read all
		{W: make([]byte, 6), R: []byte{0x00, 0x03, 0x03, 0xff, 0x00, 0x01}},
		{W: []byte{0x20, 0x01, 0x20, 0x01, 0x20, 0x01}}, // shutdown all
		{W: []byte{0x20, 0x00, 0x20, 0x00, 0x20, 0x00}}, // wake all
		{W: []byte{0x1c, 0x00, 0x1c, 0x00, 0x1c, 0x00}}, // read control: 0x7<<10
		{W: make([]byte, 6), R: []byte{0x00, 0x02, 0x00, 0x02, 0x00, 0x00}},
		{W: []byte{0x80, 0x01, 0x80, 0x01, 0x80, 0x01}}, // SDO to high impedance …
		{W: make([]byte, 6)}, // … takes effect with a NOP
	}, DontPanic: true}
	ch, err := NewChain(pb, 3)
	require.NoError(t, err)
	assert.Equal(t, 3, ch.Len())
	require.ErrorIs(t, ch.Write([]int{1, 2, 3}), ErrLocked)
	require.NoError(t, ch.Unlock())
	require.ErrorIs(t, ch.Write([]int{1, 2}), ErrLength)
	require.ErrorIs(t, ch.Write([]int{1, 2000, 3}), ErrRange, "checked before anything is sent")
	assert.EqualError(t, ch.Write([]int{1, 2000, 3}), "ad5293 wiper code (chip 1) = 2000 is outside the allowed range [0, 1023]")
	assert.EqualError(t, ch.Write([]int{1, 2}), "ad5293: wrong number of entries: 2 codes for 3 chips")
	require.NoError(t, ch.Write([]int{1, 2, 3}))
	got := make([]int, 3)
	require.NoError(t, ch.Read(got))
	assert.Equal(t, []int{1, 1023, 3}, got)
	require.NoError(t, ch.Halt())
	require.NoError(t, ch.Wake())
	require.NoError(t, ch.ReadControl(got))
	assert.Equal(t, []int{0, 2, 2}, got, "chip 0 answers last (here: still locked)")
	require.NoError(t, ch.FloatSDO())
	require.NoError(t, pb.Close())
	_, err = NewChain(pb, 0)
	require.ErrorIs(t, err, ErrConfig)
}

// After the reset frame the chain waits ResetTime (ADI's no-OS
// ad5293_soft_reset waits 2 ms) before the next command is sent.
func TestResetWaits(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{
		{W: []byte{0x10, 0x00, 0x10, 0x00}}, // reset both
		{W: []byte{0x18, 0x02, 0x18, 0x02}}, // unlock both
	}, DontPanic: true}
	ch, err := NewChain(pb, 2)
	require.NoError(t, err)
	var slept []time.Duration
	var sentBefore []int
	ch.sleep = func(d time.Duration) {
		slept = append(slept, d)
		sentBefore = append(sentBefore, pb.Count)
	}
	require.NoError(t, ch.Reset())
	require.NoError(t, ch.Unlock())
	require.NoError(t, pb.Close())
	assert.Equal(t, []time.Duration{2 * time.Millisecond}, slept, "one wait of 2 ms")
	assert.Equal(t, []int{1}, sentBefore, "between the reset frame and the next command")
	assert.Equal(t, 2*time.Millisecond, ResetTime)
}

// Echo tags every chip's NOP (1 + k) and returns what each slot clocks
// out: chip k's frame is frame n−1−k in both directions.
func TestEcho(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{
		{W: []byte{0x00, 0x03, 0x00, 0x02, 0x00, 0x01}},                     // NOP tags 3, 2, 1 (chips 2, 1, 0)
		{W: make([]byte, 6), R: []byte{0x00, 0x03, 0x00, 0x02, 0xff, 0xff}}, // chip 0's slot reads all ones
	}, DontPanic: true}
	ch, err := NewChain(pb, 3)
	require.NoError(t, err)
	got := make([]uint16, 3)
	require.NoError(t, ch.Echo(got))
	assert.Equal(t, []uint16{0xffff, 0x0002, 0x0003}, got)
	assert.Equal(t, []uint16{1, 2, 3}, []uint16{EchoFrame(0), EchoFrame(1), EchoFrame(2)})
	assert.Equal(t, uint16(1), EchoFrame(1023), "tags wrap and are never zero")
	require.NoError(t, pb.Close())
	require.ErrorIs(t, ch.Echo(make([]uint16, 2)), ErrLength)
	require.ErrorIs(t, ch.ReadEcho(make([]uint16, 4)), ErrLength)
}
