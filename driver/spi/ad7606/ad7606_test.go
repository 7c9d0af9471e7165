package ad7606

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// recPin records every level CONVST is driven to.
type recPin struct {
	gpiotest.Pin
	levels []gpio.Level
}

func (p *recPin) Out(l gpio.Level) error { p.levels = append(p.levels, l); return p.Pin.Out(l) }

// busyPin falls (reports an edge) only while CONVST is high, after any
// stale edges left from an earlier conversion.
type busyPin struct {
	gpiotest.Pin
	convst *recPin
	stale  int
	early  bool // a stale edge ended the wait for a conversion
}

func (p *busyPin) WaitForEdge(time.Duration) bool {
	if p.stale > 0 {
		p.stale--
		p.early = p.early || p.convst.L == gpio.High
		return true
	}
	return p.convst.L == gpio.High
}

func (p *busyPin) In(gpio.Pull, gpio.Edge) error { return nil }

func TestConvert(t *testing.T) {
	// Channel codes: 0x7fff (+FS−1), 0x8000 (−FS), 0, 1, −1, 0x1234, 0xedcc, 0x4000.
	read := []byte{0x7f, 0xff, 0x80, 0x00, 0, 0, 0, 1, 0xff, 0xff, 0x12, 0x34, 0xed, 0xcc, 0x40, 0x00}
	pb := &conntest.Playback{Ops: []conntest.IO{{W: make([]byte, 16), R: read}}, DontPanic: true}
	convst := &recPin{Pin: gpiotest.Pin{N: "CONVST"}}
	busy := &busyPin{Pin: gpiotest.Pin{N: "BUSY"}, convst: convst, stale: 1} // one late edge from a timed-out conversion
	rng := &gpiotest.Pin{N: "RANGE"}
	d, err := New(pb, convst, busy, &Opts{Range10V: true, Range: rng})
	require.NoError(t, err)
	assert.Equal(t, gpio.High, rng.L, "RANGE high for ±10 V")
	got := make([]int16, Channels)
	require.NoError(t, d.Convert(got))
	assert.Equal(t, []int16{32767, -32768, 0, 1, -1, 0x1234, -0x1234, 0x4000}, got)
	assert.Equal(t, []gpio.Level{gpio.Low, gpio.High, gpio.Low}, convst.levels, "idle low, rising edge starts, back low")
	assert.False(t, busy.early, "the stale edge was drained before CONVST rose")
	assert.InDelta(t, 5.0, d.Volts(0x4000), 1e-12, "a quarter of the codes is half of ±10 V")
	require.NoError(t, pb.Close())
}

func TestBusyTimeout(t *testing.T) {
	pb := &conntest.Playback{DontPanic: true}
	busy := &gpiotest.Pin{N: "BUSY", EdgesChan: make(chan gpio.Level)}
	d, err := New(pb, &gpiotest.Pin{N: "CONVST"}, busy, &Opts{BusyTimeout: 5 * time.Millisecond})
	require.NoError(t, err)
	err = d.Convert(make([]int16, Channels))
	require.ErrorIs(t, err, ErrTimeout)
	assert.EqualError(t, err, "ad7606: conversion timed out: BUSY did not fall within 5ms", "names the wait")
	require.ErrorIs(t, d.Convert(make([]int16, 3)), ErrLength)
	require.NoError(t, pb.Close(), "nothing read after a timeout")
	_, err = New(nil, nil, nil, nil)
	require.ErrorIs(t, err, ErrConfig)
}
