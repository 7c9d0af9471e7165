package ad5450

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/spukit/spukit/driver/spi/bus"
)

type recPin struct {
	gpiotest.Pin
	levels []gpio.Level
}

func (p *recPin) Out(l gpio.Level) error { p.levels = append(p.levels, l); return p.Pin.Out(l) }

// Frames from the datasheet's layout: C1 C0 = 00, code left-aligned in
// bits 13:0.
func TestPlayback(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{
		{W: []byte{0x3f, 0xf0}}, // AD5451 code 1023: 0x3ff<<4
		{W: []byte{0x00, 0x10}}, // code 1: 1<<4
		{W: []byte{0x20, 0x00}}, // midscale 512: 0x200<<4
		{W: []byte{0x00, 0x00}}, // halt: code 0
	}, DontPanic: true}
	sync := &recPin{Pin: gpiotest.Pin{N: "SYNC3"}}
	d, err := New(pb, &Opts{Sync: sync})
	require.NoError(t, err)
	assert.Equal(t, 1023, d.Max())
	for _, c := range []int{1023, 1, 512} {
		require.NoError(t, d.Write(c))
	}
	assert.Equal(t, 512, d.Code())
	require.NoError(t, d.Halt())
	assert.Equal(t, 0, d.Code())
	want := []gpio.Level{gpio.High}
	for range 4 {
		want = append(want, gpio.Low, gpio.High)
	}
	assert.Equal(t, want, sync.levels, "SYNC idles high and frames every write")
	require.NoError(t, pb.Close())
}

func TestResolutions(t *testing.T) {
	// Full scale of each part lands in bits 13:0 with its low bits zero.
	for bits, want := range map[int][2]byte{8: {0x3f, 0xc0}, 10: {0x3f, 0xf0}, 12: {0x3f, 0xfc}, 14: {0x3f, 0xff}} {
		assert.Equal(t, want, Frame(bits, 1<<bits-1), "%d bits", bits)
	}
	assert.Equal(t, [2]byte{0x00, 0x40}, Frame(8, 1), "AD5450 ignores six LSBs")
}

func TestErrors(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{{W: []byte{0x00, 0x20}}}, DontPanic: true}
	sync := &gpiotest.Pin{N: "SYNC"}
	d, err := New(pb, &Opts{Bits: 10, Sync: sync})
	require.NoError(t, err)
	err = d.Write(1) // sends 0x0010, playback expects 0x0020
	require.Error(t, err, "a wrong byte fails")
	assert.Contains(t, err.Error(), "write 1")
	assert.Equal(t, gpio.High, sync.L, "SYNC released after a failed transfer")
	assert.Equal(t, -1, d.Code(), "after a failed write the code is unknown")
	var re *bus.RangeError
	require.ErrorAs(t, d.Write(1024), &re)
	assert.Equal(t, 1023, re.Max)
	assert.Equal(t, "ad5450 code = 1024 is outside the allowed range [0, 1023]", re.Error())
	require.ErrorIs(t, d.Write(-1), ErrRange)
	_, err = New(pb, &Opts{Bits: 11})
	require.ErrorIs(t, err, ErrConfig)
	_, err = New(nil, nil)
	require.ErrorIs(t, err, ErrConfig)
}
