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
// The driver uses mode 3 (CPOL and CPHA): the Linux adi,ad7606 binding
// requires spi-cpha, while its own example sets only spi-cpol (mode 2), so
// modes 2 and 3 are accepted, a wiring's adc.spi_mode picks one, and a
// bench check decides (docs/boards.md §2). One frame is the 16-byte read-out of every
// channel.
var Bus = bus.Limits{
	Mode: spi.Mode3, Modes: []spi.Mode{spi.Mode2, spi.Mode3},
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

// Opts configures the ADC.
type Opts struct {
	// Range10V selects ±10 V (RANGE high) instead of ±5 V.
	Range10V bool
	// Range is the RANGE pin; nil when it is strapped on the board (then
	// Range10V must say how).
	Range gpio.PinOut
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
	if err := busy.In(gpio.PullNoChange, gpio.FallingEdge); err != nil {
		return nil, fmt.Errorf("ad7606: BUSY: %w", err)
	}
	if o.Range != nil {
		if err := o.Range.Out(gpio.Level(o.Range10V)); err != nil {
			return nil, fmt.Errorf("ad7606: RANGE: %w", err)
		}
	}
	return d, nil
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
