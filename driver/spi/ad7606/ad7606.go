// Package ad7606 drives an AD7606-style 8-channel, 16-bit, simultaneous-
// sampling ADC: the node-voltage ADC of an SPU board on a host's SPI bus.
//
// # Conversion and frame format
//
// A rising edge on CONVST samples all eight channels at once and starts the
// conversion; BUSY goes high and falls when the results are ready. They are
// then read over SPI (DOUT A only) as eight 16-bit two's-complement words,
// channel 1 first, MSB first — 16 bytes clocked in one transaction. The
// RANGE pin selects ±5 V (low) or ±10 V (high); a code c stands for
// c·range/32768 volts.
package ad7606

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/bus"
)

// Channels is the number of simultaneously sampled inputs.
const Channels = 8

// Bits is the resolution: two's-complement codes −32768…32767.
const Bits = 16

// Bus is the AD7606's serial read-out: it only sends (DOUT A), at up to
// 23.5 MHz with VDRIVE above 4.75 V (Linux ad7606_spi.c MAX_SPI_FREQ_HZ).
// One frame is the 16-byte read-out of every channel.
//
// The default is mode 2 (CPOL = 1, CPHA = 0): the data sheet (Rev. C,
// p. 28, serial interface) puts the MSB on DOUT at CS's falling edge and
// each later bit on SCLK's rising edge, and the related AD7607 (Rev. B,
// p. 25) and AD7609 (Rev. A, p. 27) say the MSB is valid on the first
// SCLK falling edge and data is valid on the falling edge. With SCLK idle
// high, mode 2 samples on those falling edges, half a clock after DOUT
// changed; ADI's no-OS ad7606x-fmc project reads the part in mode 2
// (common_data.c, ad7606x_init_param_serial). Mode 3 samples on the rising
// edge where DOUT changes and only works while the part's output hold time
// outlasts the host's sampling delay. The Linux adi,ad7606 binding does not
// settle it: its YAML examples set spi-cpol and spi-cpha (mode 3), its
// older text binding's example spi-cpol alone (mode 2). Mode 3 was this
// driver's default until the data sheet text was read. Both are
// accepted: a wiring's adc.spi_mode picks one, and docs/boards.md §2 gives
// the bench check (a +1 V level reads +1 V in the right mode, about +2 V
// in the wrong one).
var Bus = bus.Limits{
	Mode: spi.Mode2, Modes: []spi.Mode{spi.Mode2, spi.Mode3},
	ReadHz: 23500 * physic.KiloHertz, FrameBytes: 2 * Channels,
}

// Errors the driver returns; compare with errors.Is.
var (
	// ErrConfig: New got no connection, CONVST or BUSY.
	ErrConfig error = bus.NewError(bus.Config, "ad7606: bad options")
	// ErrLength: Convert's dst does not have Channels entries.
	ErrLength error = bus.NewError(bus.Length, "ad7606: wrong number of channels")
	// ErrTimeout: BUSY did not fall within the timeout.
	ErrTimeout error = bus.NewError(bus.Timeout, "ad7606: conversion timed out")
)

// Timing of the control pins, from the AD7606 data sheet (Rev. C, Table 3,
// timing specifications).
const (
	// ResetWidth is t_RESET, the shortest RESET high pulse that resets the
	// part: 50 ns.
	ResetWidth = 50 * time.Nanosecond
	// ResetToConvst is t7, the shortest delay from RESET low to the next
	// CONVST rising edge: 25 ns.
	ResetToConvst = 25 * time.Nanosecond
	// WakeStandby is t_WAKE-UP STANDBY, STBY rising edge to the first
	// CONVST after standby (STBY low with RANGE low): 100 µs.
	WakeStandby = 100 * time.Microsecond
	// WakeShutdown is t_WAKE-UP SHUTDOWN with the internal reference, after
	// shutdown (STBY low with RANGE high): 30 ms.
	WakeShutdown = 30 * time.Millisecond
)

// resetHold is how long New holds RESET high: the Linux driver's 100 ns
// (iio/adc/ad7606.c ad7606_reset, ndelay(100)), twice t_RESET. The no-OS
// driver holds it 3 µs (ad7606.c ad7606_reset, no_os_udelay(3)).
const resetHold = 100 * time.Nanosecond

// convMax is the longest conversion (BUSY high) per OS[2:0] code, the
// t_CONV maximum of the data sheet's Table 3 for no oversampling and
// oversampling by 2 … 64; OS = 111 is invalid. The AD7607's Figure 51
// (same converter core) shows the same 4, 19 and 39 µs for OS 000, 010
// and 011.
var convMax = [7]time.Duration{
	4150 * time.Nanosecond, 9100 * time.Nanosecond, 18800 * time.Nanosecond, 39 * time.Microsecond,
	78 * time.Microsecond, 158 * time.Microsecond, 315 * time.Microsecond,
}

// ConversionTime is the longest conversion for OS[2:0] code os (0: no
// oversampling), and false for the invalid code 7 or a code outside 0..7.
func ConversionTime(os int) (time.Duration, bool) {
	if os < 0 || os >= len(convMax) {
		return 0, false
	}
	return convMax[os], true
}

// OSCode is the OS[2:0] code of an oversampling ratio (1, 2, 4, …, 64:
// code log2(ratio), as the no-OS ad7606_set_oversampling drives the pins),
// and false for any other ratio.
func OSCode(ratio int) (int, bool) {
	for code := range len(convMax) {
		if 1<<code == ratio {
			return code, true
		}
	}
	return 0, false
}

// Opts configures the ADC.
type Opts struct {
	// Range10V selects ±10 V (RANGE high) instead of ±5 V.
	Range10V bool
	// Range is the RANGE pin; nil when it is strapped on the board (then
	// Range10V must say how).
	Range gpio.PinOut
	// Reset, Stby and OS (OS0, OS1, OS2) are the optional control pins;
	// nil when strapped. New drives STBY high (normal operation), OS[2:0]
	// low (no oversampling) and pulses RESET, as the vendor drivers do at
	// start-up (Linux ad7606_probe: standby and oversampling GPIOs
	// requested inactive, then ad7606_reset; no-OS ad7606_init: the same,
	// then the reset pulse).
	Reset, Stby gpio.PinOut
	OS          [3]gpio.PinOut
	// Oversampling is the ratio set on the OS pins (0 or 1: none; 2, 4, …,
	// 64); it needs all three OS pins. BusyTimeout must cover its longer
	// conversion (ConversionTime).
	Oversampling int
	// Sleep waits d on the host's clock between pin changes; nil:
	// time.Sleep. A board passes its host's clock so that a virtual chip
	// sees the pulse widths.
	Sleep func(d time.Duration) error
	// BusyTimeout bounds the wait for BUSY to fall; zero means 1 ms (a
	// conversion takes about 4 µs).
	BusyTimeout time.Duration
}

// Dev is one ADC.
type Dev struct {
	c       conn.Conn
	convst  gpio.PinOut
	busy    gpio.PinIn
	fullV   float64
	timeout time.Duration
	stale   bool // the last wait timed out: its edge may still come
	buf     [2 * Channels]byte
	zeros   [2 * Channels]byte
}

// New returns an ADC reading over c, started by convst and watched on
// busy. It sets CONVST low, arms BUSY for falling edges and drives RANGE.
func New(c conn.Conn, convst gpio.PinOut, busy gpio.PinIn, opts *Opts) (*Dev, error) {
	if c == nil || convst == nil || busy == nil {
		return nil, fmt.Errorf("%w: connection, CONVST and BUSY are required", ErrConfig)
	}
	var o Opts
	if opts != nil {
		o = *opts
	}
	d := &Dev{c: c, convst: convst, busy: busy, fullV: 5, timeout: o.BusyTimeout}
	if o.Range10V {
		d.fullV = 10
	}
	if d.timeout == 0 {
		d.timeout = time.Millisecond
	}
	if err := convst.Out(gpio.Low); err != nil {
		return nil, fmt.Errorf("ad7606: CONVST: %w", err)
	}
	if o.Range != nil {
		if err := o.Range.Out(gpio.Level(o.Range10V)); err != nil {
			return nil, fmt.Errorf("ad7606: RANGE: %w", err)
		}
	}
	if err := o.start(); err != nil {
		return nil, err
	}
	if err := busy.In(gpio.PullNoChange, gpio.FallingEdge); err != nil {
		return nil, fmt.Errorf("ad7606: BUSY: %w", err)
	}
	return d, nil
}

// start drives the optional control pins to normal operation: OS[2:0] to
// the oversampling code (000: none), STBY high and, after the wake-up time, a RESET pulse. The wait
// after STBY is the longer wake-up (from shutdown): which of the two
// power-down modes the part was left in depends on RANGE when STBY fell,
// which the driver cannot know.
func (o *Opts) start() error {
	sleep := o.Sleep
	if sleep == nil {
		sleep = func(d time.Duration) error { time.Sleep(d); return nil }
	}
	code := 0
	if o.Oversampling > 1 {
		var ok bool
		if code, ok = OSCode(o.Oversampling); !ok || o.OS[0] == nil || o.OS[1] == nil || o.OS[2] == nil {
			return fmt.Errorf("%w: oversampling by %d needs a ratio 1, 2, 4, …, 64 and all three OS pins", ErrConfig, o.Oversampling)
		}
	}
	for i, p := range o.OS {
		if p == nil {
			continue
		}
		if err := p.Out(gpio.Level(code>>i&1 == 1)); err != nil {
			return fmt.Errorf("ad7606: OS%d: %w", i, err)
		}
	}
	if o.Stby != nil {
		if err := o.Stby.Out(gpio.High); err != nil {
			return fmt.Errorf("ad7606: STBY: %w", err)
		}
		if err := sleep(WakeShutdown); err != nil {
			return fmt.Errorf("ad7606: STBY wake-up: %w", err)
		}
	}
	if o.Reset == nil {
		return nil
	}
	if err := o.Reset.Out(gpio.High); err != nil {
		return fmt.Errorf("ad7606: RESET: %w", err)
	}
	if err := sleep(resetHold); err != nil {
		return fmt.Errorf("ad7606: RESET pulse: %w", err)
	}
	if err := o.Reset.Out(gpio.Low); err != nil {
		return fmt.Errorf("ad7606: RESET: %w", err)
	}
	if err := sleep(ResetToConvst); err != nil {
		return fmt.Errorf("ad7606: after RESET: %w", err)
	}
	return nil
}

// String names the device.
func (d *Dev) String() string { return fmt.Sprintf("AD7606{%s, ±%gV}", d.c, d.fullV) }

// FullScale returns the input range in volts (5 or 10): codes span
// [−FullScale, FullScale).
func (d *Dev) FullScale() float64 { return d.fullV }

// Convert samples all channels once into dst (length Channels, raw codes).
// A BUSY that does not fall within the timeout is ErrTimeout.
func (d *Dev) Convert(dst []int16) error {
	if len(dst) != Channels {
		return fmt.Errorf("%w: dst has %d entries, want %d", ErrLength, len(dst), Channels)
	}
	if d.stale {
		if err := d.dropStaleEdges(); err != nil {
			return err
		}
	}
	if err := d.convst.Out(gpio.High); err != nil {
		return fmt.Errorf("ad7606: CONVST: %w", err)
	}
	done := d.busy.WaitForEdge(d.timeout)
	if err := d.convst.Out(gpio.Low); err != nil {
		return fmt.Errorf("ad7606: CONVST: %w", err)
	}
	if !done {
		d.stale = true
		return fmt.Errorf("%w: BUSY did not fall within %v", ErrTimeout, d.timeout)
	}
	if err := d.c.Tx(d.zeros[:], d.buf[:]); err != nil {
		return fmt.Errorf("ad7606: read: %w", err)
	}
	for i := range dst {
		dst[i] = int16(uint16(d.buf[2*i])<<8 | uint16(d.buf[2*i+1]))
	}
	return nil
}

// dropStaleEdges clears BUSY edges left by a timed-out conversion, which
// would otherwise end the next wait before its conversion is done. Every
// wait is bounded, as in both vendor drivers (Linux iio/adc/ad7606.c
// ad7606_scan_direct: wait_for_completion_timeout; no-OS ad7606.c
// ad7606_read_one_sample: BUSY polled at most tconv_max µs): on a Pi a
// timeout of 0 means no deadline (host/v3 gpioioctl GPIOLine.WaitForEdge)
// and would hang when no edge comes. Re-arming clears queued edges
// (bcm283x Pin.In), which conn/v3's gpio.PinIn.In does not promise to do
// reliably; an edge still queued, or later by up to the timeout, is taken.
func (d *Dev) dropStaleEdges() error {
	if err := d.busy.In(gpio.PullNoChange, gpio.FallingEdge); err != nil {
		return fmt.Errorf("ad7606: BUSY: %w", err)
	}
	for range 4 {
		if !d.busy.WaitForEdge(d.timeout) {
			break
		}
	}
	d.stale = false
	return nil
}

// Volts converts a code to volts.
func (d *Dev) Volts(code int16) float64 { return float64(code) * d.fullV / 32768 }

// Halt leaves CONVST low: no conversion starts.
func (d *Dev) Halt() error { return d.convst.Out(gpio.Low) }
