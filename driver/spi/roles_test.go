package spi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/hal"
)

// prepareOps is what Prepare sends to a chain of two: wake, unlock, read
// control, then a NOP that clocks out the two control words ctl (chip 1's
// frame first).
func prepareOps(ctl []byte) []conntest.IO {
	return []conntest.IO{
		{W: []byte{0x20, 0x00, 0x20, 0x00}},
		{W: []byte{0x18, 0x02, 0x18, 0x02}},
		{W: []byte{0x1c, 0x00, 0x1c, 0x00}},
		{W: make([]byte, 4), R: ctl},
	}
}

// Only the write-enable bit of the control readback decides: chips that
// return other bits set open (issue 12, point 4); a chip whose bit is
// clear still refuses, naming the chip and the bit.
func TestPrepareChecksOnlyWriteEnable(t *testing.T) {
	open := func(ctl []byte) error {
		pb := &conntest.Playback{Ops: prepareOps(ctl), DontPanic: true}
		ch, err := ad5293.NewChain(pb, 2)
		require.NoError(t, err)
		err = (&rheostatChain{ch: ch, port: "SPI1.0"}).Prepare()
		require.NoError(t, pb.Close())
		return err
	}
	require.NoError(t, open([]byte{0x00, 0x02, 0x00, 0x02}), "the plain 0x002")
	require.NoError(t, open([]byte{0x03, 0xfe, 0x00, 0x06}), "other bits set: 0x3fe and normal mode")

	err := open([]byte{0x03, 0xfd, 0x00, 0x02}) // chip 1: every bit but write-enable
	require.ErrorIs(t, err, hal.ErrDisconnected)
	assert.Contains(t, err.Error(), "chip 1 reads control 0x3fd after unlock, want write-enable bit 0x002 set")
	assert.Contains(t, err.Error(), "check the chain length (wiring says 2 chips)")
}
