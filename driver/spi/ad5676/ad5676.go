// Package ad5676 drives an AD5676-style octal 16-bit DAC over SPI: the bias
// DAC of an SPU board whose converters sit directly on the host's bus.
//
// # Frame format
//
// Every command is one 24-bit frame, MSB first, latched on SYNC's rising
// edge (the chip select):
//
//	bits 23:20  command
//	bits 19:16  address (DAC channel 0–7)
//	bits 15:0   data
//
// Commands used: 0x1 write input register, 0x2 update DAC register from
// input, 0x3 write and update, 0x4 power down/up (2 bits per channel; 01 =
// 1 kΩ to ground), 0x6 software reset (data 0x1234), 0x7 internal
// reference setup (AD5676R; data bit 0 set = internal reference off),
// 0x9 readback enable
// (the next frame, a NOP, clocks the channel's 16-bit register out on SDO in
// its low 16 bits), 0x0 no operation.
package ad5676

import (
	"fmt"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/bus"
)

// Commands (bits 23:20 of a frame).
const (
	CmdNOP         = 0x0
	CmdWriteInput  = 0x1
	CmdUpdate      = 0x2
	CmdWriteUpdate = 0x3
	CmdPower       = 0x4
	CmdReset       = 0x6
	CmdReference   = 0x7
	CmdReadback    = 0x9
)

// referenceOff is the reference setup's data bit that switches the
// AD5676R's internal reference off (Linux iio/dac/ad5686.h
// AD5686_REF_BIT_MSK = BIT(0); ad5686_probe writes it when an external
// reference is given).
const referenceOff = 0x0001

// Errors the driver returns; compare with errors.Is. A channel out of
// range is a *bus.RangeError that matches ErrRange.
var (
	// ErrConfig: New got no connection.
	ErrConfig error = bus.NewError(bus.Config, "ad5676: bad options")
	// ErrRange: a channel outside 0..Channels−1.
	ErrRange error = bus.NewError(bus.Range, "ad5676: channel out of range")
)

// resetKey is the data word the software reset requires.
const resetKey = 0x1234

// powerDown1k puts every channel in 1 kΩ-to-ground power-down (01 per channel).
const powerDown1k = 0x5555

// Channels is the number of DAC channels.
const Channels = 8

// Bits is the resolution: codes 0…65535.
const Bits = 16

// Bus is the AD5676's SPI interface (datasheet Rev. D). SDIN is latched on
// SCLK's falling edges, so mode 1 and mode 2 both work; the driver uses
// mode 1. Writes run at up to 50 MHz ("50 MHz SPI", t1 ≥ 20 ns). Read-back
// on SDO is slower: t1 ≥ 40 ns, 25 MHz, in the nanoDAC+ family's
// "daisy-chain and readback timing characteristics" (read in the
// AD5686/AD5686R datasheets, Table 5, 2.7 V ≤ VLOGIC ≤ 5.5 V; 66 ns below
// 2.7 V) — check the AD5676's own table for your revision. One frame is
// 24 bits.
var Bus = bus.Limits{
	Mode: spi.Mode1, Modes: []spi.Mode{spi.Mode1, spi.Mode2},
	WriteHz: 50 * physic.MegaHertz, ReadHz: 25 * physic.MegaHertz, FrameBytes: 3,
}

// Opts configures the device. The zero value is fine.
type Opts struct{}

// Dev is one DAC on an SPI connection (24-bit frames, mode 1 or 2 per the
// board's wiring).
type Dev struct {
	c conn.Conn
}

// New returns a DAC on c. It does not touch the chip.
func New(c conn.Conn, _ *Opts) (*Dev, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrConfig)
	}
	return &Dev{c: c}, nil
}

// String names the device and its connection.
func (d *Dev) String() string { return fmt.Sprintf("AD5676{%s}", d.c) }

// Frame encodes one 24-bit frame.
func Frame(cmd, addr uint8, data uint16) [3]byte {
	return [3]byte{cmd<<4 | addr&0x0f, byte(data >> 8), byte(data)}
}

func (d *Dev) tx(cmd, addr uint8, data uint16, read []byte) error {
	f := Frame(cmd, addr, data)
	if err := d.c.Tx(f[:], read); err != nil {
		return fmt.Errorf("ad5676: command %#x channel %d: %w", cmd, addr, err)
	}
	return nil
}

func checkChannel(ch int) error {
	if ch < 0 || ch >= Channels {
		return &bus.RangeError{What: "ad5676 channel", Value: ch, Min: 0, Max: Channels - 1, Err: ErrRange}
	}
	return nil
}

// Write writes code to channel ch and updates its output at once.
func (d *Dev) Write(ch int, code uint16) error {
	if err := checkChannel(ch); err != nil {
		return err
	}
	return d.tx(CmdWriteUpdate, uint8(ch), code, nil)
}

// WriteInput writes code to channel ch's input register only; Update (or
// the LDAC pin) moves it to the output, so several channels can change
// together.
func (d *Dev) WriteInput(ch int, code uint16) error {
	if err := checkChannel(ch); err != nil {
		return err
	}
	return d.tx(CmdWriteInput, uint8(ch), code, nil)
}

// Update copies channel ch's input register to its output.
func (d *Dev) Update(ch int) error {
	if err := checkChannel(ch); err != nil {
		return err
	}
	return d.tx(CmdUpdate, uint8(ch), 0, nil)
}

// Readback returns channel ch's DAC register: a readback-enable frame, then
// a NOP frame during which the chip shifts the value out.
func (d *Dev) Readback(ch int) (uint16, error) {
	if err := checkChannel(ch); err != nil {
		return 0, err
	}
	if err := d.tx(CmdReadback, uint8(ch), 0, nil); err != nil {
		return 0, err
	}
	var r [3]byte
	if err := d.tx(CmdNOP, 0, 0, r[:]); err != nil {
		return 0, err
	}
	return uint16(r[1])<<8 | uint16(r[2]), nil
}

// PowerUp returns every channel to normal operation (power-down bits 00).
// Writing a code does not: a channel powered down by Halt stays grounded
// until this (or Reset) is sent.
func (d *Dev) PowerUp() error { return d.tx(CmdPower, 0, 0x0000, nil) }

// Reset performs the software (power-on) reset: every output to zero scale.
func (d *Dev) Reset() error { return d.tx(CmdReset, 0, resetKey, nil) }

// InternalReference switches an AD5676R's internal 2.5 V reference on
// (its power-up state) or off, for a board that drives VREF from an
// external reference, as Linux's ad5686_probe does (command 0x7, address
// 0, data bit 0 = off). The AD5676 has no internal reference.
func (d *Dev) InternalReference(on bool) error {
	var data uint16 = referenceOff
	if on {
		data = 0
	}
	return d.tx(CmdReference, 0, data, nil)
}

// Halt powers every channel down with 1 kΩ to ground, so the bias goes to a
// known safe state.
func (d *Dev) Halt() error { return d.tx(CmdPower, 0, powerDown1k, nil) }
