// Package ad5450 drives an AD5450-class multiplying DAC (AD5450/5451/5452/
// 5453: 8, 10, 12 or 14 bits) over SPI: the alternative coupling element of
// an SPU board, a programmable attenuator of the neighbour's voltage (the
// sign comes from a polarity switch elsewhere).
//
// # Frame format
//
// One 16-bit frame per write, MSB first: control bits C1 C0 in bits 15:14,
// then the code left-aligned in bits 13:0 — the AD5453 uses all 14 bits,
// the AD5452 12 (bits 13:2), the AD5451 10 (bits 13:4), the AD5450 8
// (bits 13:6); the unused low bits are ignored by the chip and sent as 0.
//
//	C1 C0 = 00  load and update (the only command this driver sends)
//	C1 C0 = 11  clock data on rising SCLK edges — never sent: the chip then
//	            needs a power cycle to return to the default falling edge
//
// The chip has no readback and cannot be daisy-chained: each element has
// its own SYNC. SYNC is either the connection's chip select or, when Opts
// names one, a GPIO held low around the transfer (boards with many
// elements decode SYNC lines from GPIOs). After power-on the code is zero
// (coupling open).
package ad5450

import (
	"fmt"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/bus"
)

// CtrlLoadUpdate is the control field (bits 15:14) of a load-and-update
// frame.
const CtrlLoadUpdate = 0x0

// Bus is the AD545x's SPI interface (AD5450/5451/5452/5453 datasheet
// Rev. G): "50 MHz serial interface"; by default the shift register clocks
// data on SCLK's falling edge (p. 21, control bits), so mode 1 and mode 2
// both work and the driver uses mode 1. There is no read-back. One frame is
// 16 bits.
var Bus = bus.Limits{
	Mode: spi.Mode1, Modes: []spi.Mode{spi.Mode1, spi.Mode2},
	WriteHz: 50 * physic.MegaHertz, FrameBytes: 2,
}

// Opts configures the DAC.
type Opts struct {
	// Bits is the resolution: 8 (AD5450), 10 (AD5451), 12 (AD5452) or 14
	// (AD5453). Zero means 10.
	Bits int
	// Sync is the chip's SYNC line when it is a GPIO rather than the
	// connection's chip select; nil uses the chip select.
	Sync gpio.PinOut
}

// Errors the driver returns; compare with errors.Is. An out-of-range code
// is a *bus.RangeError that matches ErrRange.
var (
	// ErrConfig: New got no connection or a resolution it does not know.
	ErrConfig error = bus.NewError(bus.Config, "ad5450: bad options")
	// ErrRange: a code outside 0..Max.
	ErrRange error = bus.NewError(bus.Range, "ad5450: code out of range")
)

// Dev is one multiplying DAC.
type Dev struct {
	c    conn.Conn
	bits int
	sync gpio.PinOut
	code int
}

// New returns a DAC on c. With a Sync pin it drives SYNC high (idle); it
// sends nothing.
func New(c conn.Conn, opts *Opts) (*Dev, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrConfig)
	}
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.Bits == 0 {
		o.Bits = 10
	}
	switch o.Bits {
	case 8, 10, 12, 14:
	default:
		return nil, fmt.Errorf("%w: %d bits, want 8, 10, 12 or 14", ErrConfig, o.Bits)
	}
	d := &Dev{c: c, bits: o.Bits, sync: o.Sync}
	if d.sync != nil {
		if err := d.sync.Out(gpio.High); err != nil {
			return nil, fmt.Errorf("ad5450: SYNC: %w", err)
		}
	}
	return d, nil
}

// String names the device.
func (d *Dev) String() string {
	if d.sync != nil {
		return fmt.Sprintf("AD545x-%dbit{%s, SYNC=%s}", d.bits, d.c, d.sync)
	}
	return fmt.Sprintf("AD545x-%dbit{%s}", d.bits, d.c)
}

// Max is the largest code, 2^bits − 1.
func (d *Dev) Max() int { return 1<<d.bits - 1 }

// Bits is the resolution.
func (d *Dev) Bits() int { return d.bits }

// Frame encodes a load-and-update frame for code on a chip of the given
// resolution.
func Frame(bits, code int) [2]byte {
	v := uint16(CtrlLoadUpdate)<<14 | uint16(code<<(14-bits))&0x3fff
	return [2]byte{byte(v >> 8), byte(v)}
}

// Write loads and updates the code (0…Max). The chip cannot be read back,
// so the driver remembers the last code written (Code).
func (d *Dev) Write(code int) error {
	if code < 0 || code > d.Max() {
		return &bus.RangeError{What: "ad5450 code", Value: code, Min: 0, Max: d.Max(), Err: ErrRange}
	}
	f := Frame(d.bits, code)
	if d.sync != nil {
		if err := d.sync.Out(gpio.Low); err != nil {
			return fmt.Errorf("ad5450: SYNC: %w", err)
		}
	}
	err := d.c.Tx(f[:], nil)
	if d.sync != nil {
		// SYNC must go high to end the frame; the chip latches whatever
		// it shifted in, complete or not.
		if err2 := d.sync.Out(gpio.High); err == nil && err2 != nil {
			err = fmt.Errorf("SYNC: %w", err2)
		}
	}
	if err != nil {
		d.code = -1 // a partial frame may have been latched
		return fmt.Errorf("ad5450: write %d: %w", code, err)
	}
	d.code = code
	return nil
}

// Code returns the last code written (0 after power-on), or −1 when a
// failed write may have latched a partial frame.
func (d *Dev) Code() int { return d.code }

// Halt writes code 0: the element no longer couples.
func (d *Dev) Halt() error { return d.Write(0) }
