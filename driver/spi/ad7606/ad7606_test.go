package ad7606

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/spukit/spukit/driver/spi/edgepin"
)

// recPin records every level CONVST is driven to; when busy is set, a
// rising edge finishes the conversion at once: BUSY falls.
type recPin struct {
	gpiotest.Pin
	levels []gpio.Level
	busy   *edgepin.Pin
}

func (p *recPin) Out(l gpio.Level) error {
	if p.busy != nil && p.L == gpio.Low && l == gpio.High {
		p.busy.Pulse(gpio.FallingEdge)
	}
	p.levels = append(p.levels, l)
	return p.Pin.Out(l)
}

func TestConvert(t *testing.T) {
	// Channel codes: 0x7fff (+FS−1), 0x8000 (−FS), 0, 1, −1, 0x1234, 0xedcc, 0x4000.
	read := []byte{0x7f, 0xff, 0x80, 0x00, 0, 0, 0, 1, 0xff, 0xff, 0x12, 0x34, 0xed, 0xcc, 0x40, 0x00}
	pb := &conntest.Playback{Ops: []conntest.IO{{W: make([]byte, 16), R: read}}, DontPanic: true}
	busy := &edgepin.Pin{N: "BUSY"} // periph's Pi semantics: WaitForEdge(0) blocks
	convst := &recPin{Pin: gpiotest.Pin{N: "CONVST"}, busy: busy}
	rng := &gpiotest.Pin{N: "RANGE"}
	d, err := New(pb, convst, busy, &Opts{Range10V: true, Range: rng})
	require.NoError(t, err)
	assert.Equal(t, gpio.High, rng.L, "RANGE high for ±10 V")
	got := make([]int16, Channels)
	require.NoError(t, d.Convert(got), "the first conversion does not wait for an edge without a deadline")
	assert.Equal(t, []int16{32767, -32768, 0, 1, -1, 0x1234, -0x1234, 0x4000}, got)
	assert.Equal(t, []gpio.Level{gpio.Low, gpio.High, gpio.Low}, convst.levels, "idle low, rising edge starts, back low")
	assert.Zero(t, busy.Pending(), "the conversion's own edge ended the wait")
	assert.InDelta(t, 5.0, d.Volts(0x4000), 1e-12, "a quarter of the codes is half of ±10 V")
	require.NoError(t, pb.Close())
}

// A BUSY edge that comes after a timed-out wait must not end the next
// conversion's wait before that conversion is done.
func TestLateEdgeAfterTimeout(t *testing.T) {
	read := []byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}
	pb := &conntest.Playback{Ops: []conntest.IO{{W: make([]byte, 16), R: read}}, DontPanic: true}
	busy := &edgepin.Pin{N: "BUSY"}
	convst := &recPin{Pin: gpiotest.Pin{N: "CONVST"}}
	d, err := New(pb, convst, busy, &Opts{BusyTimeout: 2 * time.Millisecond})
	require.NoError(t, err)
	got := make([]int16, Channels)
	require.ErrorIs(t, d.Convert(got), ErrTimeout, "BUSY stays high")
	busy.Pulse(gpio.FallingEdge) // the late edge of the timed-out conversion
	convst.busy = busy           // from now on BUSY falls at each conversion
	require.NoError(t, d.Convert(got))
	assert.Equal(t, []int16{1, 2, 3, 4, 5, 6, 7, 8}, got)
	assert.Zero(t, busy.Pending(), "the stale edge was dropped and this conversion's own edge taken")
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

// logPin logs every level it is driven to.
type logPin struct {
	gpiotest.Pin
	log *[]string
}

func (p *logPin) Out(l gpio.Level) error {
	*p.log = append(*p.log, p.N+"="+l.String())
	return p.Pin.Out(l)
}

// New drives the optional control pins as the vendor drivers do at
// start-up: no oversampling, STBY high and the wake-up from shutdown, then
// a RESET pulse of at least t_RESET and t7 before any conversion.
func TestNewDrivesControlPins(t *testing.T) {
	var log []string
	pin := func(n string) *logPin { return &logPin{Pin: gpiotest.Pin{N: n}, log: &log} }
	o := &Opts{Reset: pin("RESET"), Stby: pin("STBY"), OS: [3]gpio.PinOut{pin("OS0"), pin("OS1"), pin("OS2")},
		Sleep: func(d time.Duration) error { log = append(log, "sleep "+d.String()); return nil }}
	_, err := New(&conntest.Playback{}, pin("CONVST"), &edgepin.Pin{N: "BUSY"}, o)
	require.NoError(t, err)
	assert.Equal(t, []string{"CONVST=Low", "OS0=Low", "OS1=Low", "OS2=Low", "STBY=High", "sleep 30ms",
		"RESET=High", "sleep 100ns", "RESET=Low", "sleep 25ns"}, log)
	assert.GreaterOrEqual(t, resetHold, ResetWidth)
}

// Oversampling by 8 drives OS[2:0] = 011 (no-OS ad7606_set_oversampling:
// OS0 = bit 0 of the code); a ratio that is not a power of two up to 64,
// or a missing OS pin, is ErrConfig.
func TestNewOversampling(t *testing.T) {
	var log []string
	pin := func(n string) *logPin { return &logPin{Pin: gpiotest.Pin{N: n}, log: &log} }
	os := [3]gpio.PinOut{pin("OS0"), pin("OS1"), pin("OS2")}
	_, err := New(&conntest.Playback{}, pin("CONVST"), &edgepin.Pin{N: "BUSY"}, &Opts{OS: os, Oversampling: 8})
	require.NoError(t, err)
	assert.Equal(t, []string{"CONVST=Low", "OS0=High", "OS1=High", "OS2=Low"}, log)
	for _, o := range []*Opts{{OS: os, Oversampling: 3}, {OS: os, Oversampling: 128}, {OS: [3]gpio.PinOut{os[0], os[1]}, Oversampling: 2}} {
		_, err = New(&conntest.Playback{}, pin("CONVST"), &edgepin.Pin{N: "BUSY"}, o)
		require.ErrorIs(t, err, ErrConfig, "oversampling %d", o.Oversampling)
	}
	for ratio, code := range map[int]int{1: 0, 2: 1, 64: 6} {
		c, ok := OSCode(ratio)
		assert.True(t, ok)
		assert.Equal(t, code, c)
	}
}
