package ad5676

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"

	"github.com/spukit/spukit/driver/spi/bus"
)

// Byte sequences follow the frame format in the package doc: command in the
// top nibble, channel in the next, then the 16-bit data MSB first.
func TestPlayback(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{
		{W: []byte{0x30, 0x12, 0x34}},                              // write-and-update ch0 = 0x1234
		{W: []byte{0x37, 0xff, 0xff}},                              // ch7 = full scale
		{W: []byte{0x13, 0x80, 0x00}},                              // write input ch3 = mid scale
		{W: []byte{0x23, 0x00, 0x00}},                              // update ch3
		{W: []byte{0x95, 0x00, 0x00}},                              // readback enable ch5
		{W: []byte{0x00, 0x00, 0x00}, R: []byte{0x00, 0xbe, 0xef}}, // NOP clocks it out
		{W: []byte{0x60, 0x12, 0x34}},                              // software reset with its key
		{W: []byte{0x40, 0x55, 0x55}},                              // halt: all channels 1 kΩ to ground
		{W: []byte{0x40, 0x00, 0x00}},                              // power up: all channels normal
		{W: []byte{0x70, 0x00, 0x01}},                              // internal reference off (AD5686_REF_BIT_MSK)
		{W: []byte{0x70, 0x00, 0x00}},                              // internal reference on
	}, DontPanic: true}
	d, err := New(pb, nil)
	require.NoError(t, err)
	require.NoError(t, d.Write(0, 0x1234))
	require.NoError(t, d.Write(7, 0xffff))
	require.NoError(t, d.WriteInput(3, 0x8000))
	require.NoError(t, d.Update(3))
	v, err := d.Readback(5)
	require.NoError(t, err)
	assert.Equal(t, uint16(0xbeef), v)
	require.NoError(t, d.Reset())
	require.NoError(t, d.Halt())
	require.NoError(t, d.PowerUp())
	require.NoError(t, d.InternalReference(false))
	require.NoError(t, d.InternalReference(true))
	require.NoError(t, pb.Close(), "every expected frame was sent")
	assert.Contains(t, d.String(), "AD5676")
}

// A frame that differs from the datasheet's by one bit fails the test, and
// the driver returns the bus error naming the command.
func TestWrongByteFails(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{{W: []byte{0x30, 0x12, 0x35}}}, DontPanic: true}
	d, err := New(pb, nil)
	require.NoError(t, err)
	err = d.Write(0, 0x1234)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "command 0x3 channel 0")
}

func TestBadChannel(t *testing.T) {
	pb := &conntest.Playback{DontPanic: true}
	d, err := New(pb, nil)
	require.NoError(t, err)
	for _, ch := range []int{-1, 8} {
		err := d.Write(ch, 1)
		var re *bus.RangeError
		require.ErrorAs(t, err, &re)
		require.ErrorIs(t, err, ErrRange)
	}
	_, err = d.Readback(9)
	require.ErrorIs(t, err, ErrRange)
	require.NoError(t, pb.Close(), "nothing was sent for a bad channel")
	_, err = New(nil, nil)
	require.ErrorIs(t, err, ErrConfig)
}
