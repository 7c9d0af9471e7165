// Package ad5293 drives an AD5293-style 10-bit digital rheostat over SPI:
// one coupling element's magnitude on an SPU board (the sign comes from a
// polarity switch elsewhere).
//
// # Frame format
//
// Each command is one 16-bit frame, MSB first: command<<10 | data, with the
// two top bits zero.
//
//	0x0  NOP (also clocks out the result of a read command)
//	0x1  write RDAC (wiper) — ignored by the chip while write-protected
//	0x2  read RDAC: the next frame shifts the 10-bit wiper out
//	0x4  reset: wiper to midscale
//	0x6  write control register: bit 1 set = RDAC writes allowed
//	0x7  read control register
//	0x8  software shutdown: data bit 0 = 1 shut down, 0 normal
//
// After power-up the wiper is write-protected: Unlock (control register
// 0x002, the frame 0x1802) must be sent first. The driver refuses wiper
// writes before it, rather than let the chip drop them silently.
package ad5293

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3"

	"github.com/spukit/spukit/hal"
)

// Commands (bits 13:10 of a frame).
const (
	CmdNOP          = 0x0
	CmdWriteRDAC    = 0x1
	CmdReadRDAC     = 0x2
	CmdReset        = 0x4
	CmdWriteControl = 0x6
	CmdReadControl  = 0x7
	CmdShutdown     = 0x8
)

// Max is the largest wiper code.
const Max = 1023

// controlUnlock allows RDAC writes (control bit C1).
const controlUnlock = 0x002

// ErrLocked is returned for wiper writes before Unlock.
var ErrLocked = errors.New("ad5293: wiper is write-protected until Unlock")

// Opts configures the device. The zero value is fine.
type Opts struct{}

// Dev is one rheostat on an SPI connection (16-bit frames, SPI mode 1).
type Dev struct {
	c        conn.Conn
	unlocked bool
}

// New returns a rheostat on c. It does not touch the chip.
func New(c conn.Conn, _ *Opts) (*Dev, error) {
	if c == nil {
		return nil, fmt.Errorf("ad5293: nil connection: %w", hal.ErrInvalid)
	}
	return &Dev{c: c}, nil
}

// String names the device and its connection.
func (d *Dev) String() string { return fmt.Sprintf("AD5293{%s}", d.c) }

// Frame encodes one 16-bit frame.
func Frame(cmd uint8, data uint16) [2]byte {
	v := uint16(cmd&0x0f)<<10 | data&0x3ff
	return [2]byte{byte(v >> 8), byte(v)}
}

func (d *Dev) tx(cmd uint8, data uint16, read []byte) error {
	f := Frame(cmd, data)
	if err := d.c.Tx(f[:], read); err != nil {
		return fmt.Errorf("ad5293: command %#x: %w", cmd, err)
	}
	return nil
}

// Unlock allows wiper writes (needed once after power-up or Reset).
func (d *Dev) Unlock() error {
	if err := d.tx(CmdWriteControl, controlUnlock, nil); err != nil {
		return err
	}
	d.unlocked = true
	return nil
}

// Write sets the wiper to code (0…1023).
func (d *Dev) Write(code int) error {
	if code < 0 || code > Max {
		return &hal.RangeError{What: "ad5293 wiper code", Row: -1, Col: -1, Value: float64(code), Min: 0, Max: Max}
	}
	if !d.unlocked {
		return ErrLocked
	}
	return d.tx(CmdWriteRDAC, uint16(code), nil)
}

// Read returns the wiper code: a read command, then a NOP that clocks the
// value out.
func (d *Dev) Read() (int, error) {
	if err := d.tx(CmdReadRDAC, 0, nil); err != nil {
		return 0, err
	}
	var r [2]byte
	if err := d.tx(CmdNOP, 0, r[:]); err != nil {
		return 0, err
	}
	return int(uint16(r[0])<<8|uint16(r[1])) & 0x3ff, nil
}

// Reset returns the wiper to midscale; the chip is write-protected again.
func (d *Dev) Reset() error {
	if err := d.tx(CmdReset, 0, nil); err != nil {
		return err
	}
	d.unlocked = false
	return nil
}

// Halt shuts the rheostat down (terminal A open), opening the coupling.
func (d *Dev) Halt() error { return d.tx(CmdShutdown, 1, nil) }
