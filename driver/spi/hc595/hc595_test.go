package hc595

import (
	"testing"

	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"
)

func TestChain(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{
		{W: []byte{0x00, 0x80, 0x01}}, // outputs 0 and 15: register 0 bit 0, register 1 bit 7; the last register's byte goes first
		{W: []byte{0x04, 0x80, 0x00}}, // output 0 cleared, 18 set (register 2 bit 2)
		{W: []byte{0x00, 0x00, 0x00}}, // halt
	}, DontPanic: true}
	d, err := New(pb, &Opts{Registers: 3})
	require.NoError(t, err)
	require.NoError(t, d.Set(0, true))
	require.NoError(t, d.Set(15, true))
	require.NoError(t, d.Flush())
	require.NoError(t, d.Set(0, false))
	require.NoError(t, d.Set(18, true))
	require.NoError(t, d.Flush())
	require.NoError(t, d.Halt())
	require.NoError(t, pb.Close())
	require.ErrorIs(t, d.Set(24, true), ErrRange)
	_, err = New(pb, &Opts{})
	require.ErrorIs(t, err, ErrConfig)
}

func TestWrongByteFails(t *testing.T) {
	pb := &conntest.Playback{Ops: []conntest.IO{{W: []byte{0x01}}}, DontPanic: true}
	d, err := New(pb, &Opts{Registers: 1})
	require.NoError(t, err)
	require.NoError(t, d.Set(1, true))
	require.Error(t, d.Flush())
}
