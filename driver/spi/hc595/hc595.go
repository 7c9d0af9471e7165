// Package hc595 drives a chain of 74HC595-style 8-bit shift registers on
// SPI: on an SPU board they hold the polarity bit of each coupling element
// (1 = the element takes the neighbour's inverted output).
//
// # Frame format
//
// One transaction of n bytes for a chain of n registers, MSB first; the
// chip select's rising edge drives RCLK and latches all outputs at once.
// The first byte shifted ends in the last register of the chain, so output
// k (register k/8, bit k%8 counted from Q0) is bit k%8 of byte n−1−k/8.
package hc595

import (
	"fmt"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/bus"
)

// Bus is a 74HC595's SPI interface: SRCLK shifts on rising edges (every
// vendor's function table), so mode 0 and mode 3 both work and the driver
// uses mode 0. 20 MHz is the shift clock the driver has always used for
// VCC = 4.5 V; it was not re-checked against a vendor's fmax table here
// (check your part's, and expect less at 3.3 V: docs/boards.md §2). Its
// serial output is not read. One frame is one byte per register.
var Bus = bus.Limits{
	Mode: spi.Mode0, Modes: []spi.Mode{spi.Mode0, spi.Mode3},
	WriteHz: 20 * physic.MegaHertz, FrameBytes: 1,
}

// Errors the driver returns; compare with errors.Is. An output out of
// range is a *bus.RangeError that matches ErrRange.
var (
	// ErrConfig: New got no connection or a register count outside 1..64.
	ErrConfig error = bus.NewError(bus.Config, "hc595: bad options")
	// ErrRange: an output outside 0..Outputs−1.
	ErrRange error = bus.NewError(bus.Range, "hc595: output out of range")
)

// Opts configures the chain.
type Opts struct {
	// Registers is the number of chained 8-bit registers (≥ 1).
	Registers int
}

// Dev is a register chain.
type Dev struct {
	c     conn.Conn
	n     int
	state []byte // register i's outputs in state[i]
	frame []byte
}

// New returns a chain of opts.Registers registers on c. It does not touch
// the chip.
func New(c conn.Conn, opts *Opts) (*Dev, error) {
	if c == nil || opts == nil || opts.Registers < 1 || opts.Registers > 64 {
		return nil, fmt.Errorf("%w: need a connection and 1–64 registers", ErrConfig)
	}
	return &Dev{c: c, n: opts.Registers, state: make([]byte, opts.Registers), frame: make([]byte, opts.Registers)}, nil
}

// String names the device.
func (d *Dev) String() string { return fmt.Sprintf("74HC595×%d{%s}", d.n, d.c) }

// Outputs returns the number of outputs, 8 per register.
func (d *Dev) Outputs() int { return 8 * d.n }

// Set changes output k in the shadow state; Flush latches all of them.
func (d *Dev) Set(k int, on bool) error {
	if k < 0 || k >= d.Outputs() {
		return &bus.RangeError{What: "hc595 output", Value: k, Min: 0, Max: d.Outputs() - 1, Err: ErrRange}
	}
	if on {
		d.state[k/8] |= 1 << (k % 8)
	} else {
		d.state[k/8] &^= 1 << (k % 8)
	}
	return nil
}

// Flush shifts the whole chain out and latches it.
func (d *Dev) Flush() error {
	for i := range d.n {
		d.frame[i] = d.state[d.n-1-i]
	}
	if err := d.c.Tx(d.frame, nil); err != nil {
		return fmt.Errorf("hc595: %w", err)
	}
	return nil
}

// Halt clears every output (all polarities non-inverting) and latches.
func (d *Dev) Halt() error {
	clear(d.state)
	return d.Flush()
}
