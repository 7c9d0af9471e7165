package spi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/hal"
)

// echoOps is Prepare's echo check on a chain of two: NOPs tagged 2 and 1
// (chip 1's frame first), then NOPs that clock out echo.
func echoOps(echo []byte) []conntest.IO {
	return []conntest.IO{
		{W: []byte{0x00, 0x02, 0x00, 0x01}},
		{W: make([]byte, 4), R: echo},
	}
}

// prepareOps is what Prepare sends to a chain of two that answers its
// echo: then wake, unlock, read control, and a NOP that clocks out the two
// control words ctl (chip 1's frame first).
func prepareOps(ctl []byte) []conntest.IO {
	return append(echoOps([]byte{0x00, 0x02, 0x00, 0x01}), []conntest.IO{
		{W: []byte{0x20, 0x00, 0x20, 0x00}},
		{W: []byte{0x18, 0x02, 0x18, 0x02}},
		{W: []byte{0x1c, 0x00, 0x1c, 0x00}},
		{W: make([]byte, 4), R: ctl},
	}...)
}

// A chain that does not echo its tagged NOPs refuses to open, naming the
// chain position MISO clocks out first that is wrong and the likely cause:
// MISO floating high (all ones) passed the old write-enable check, since
// 0x3ff has bit 0x002 set (issue 12, point 4's side effect).
func TestPrepareNeedsEcho(t *testing.T) {
	open := func(echo []byte) error {
		pb := &conntest.Playback{Ops: echoOps(echo), DontPanic: true}
		ch, err := ad5293.NewChain(pb, 2)
		require.NoError(t, err)
		err = (&rheostatChain{ch: ch, port: "SPI1.0", elements: [][2]int{{0, 0}, {0, 1}}}).Prepare()
		require.NoError(t, pb.Close())
		return err
	}
	for _, c := range []struct {
		name string
		echo []byte
		want []string
	}{
		{"MISO high", []byte{0xff, 0xff, 0xff, 0xff}, []string{"chip 1 (A[0][1]) returns 0xffff for its echo frame 0x0002", "floating at the SDO pull-up"}},
		{"MISO low", []byte{0, 0, 0, 0}, []string{"chip 1 (A[0][1]) returns 0x0000", "stuck low"}},
		{"one chip short", []byte{0x00, 0x01, 0x00, 0x00}, []string{"chip 1 (A[0][1]) returns 0x0001", "1 chip(s) shorter than the 2 wired"}},
		{"corrupted", []byte{0x00, 0x02, 0x00, 0x41}, []string{"chip 0 (A[0][0]) returns 0x0041", "chain clock"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := open(c.echo)
			require.ErrorIs(t, err, hal.ErrDisconnected)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
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
