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
// The frame 0x8001 (top bits 10) followed by a NOP puts SDO in high
// impedance, so a chain can share MISO with other chips.
//
// After power-up the wiper is write-protected: Unlock (control register
// 0x002, the frame 0x1802) must be sent first. The driver refuses wiper
// writes before it, rather than let the chip drop them silently.
//
// # Daisy chain
//
// A board with many elements chains them on one chip select, SDO of each
// chip to SDI of the next (SDO is open-drain: it needs a pull-up). A
// transaction then carries one frame per chip, 2n bytes; the first frame
// shifted in ends in the last chip, so chip k's frame is frame n−1−k of the
// transaction. All chips execute on the rising edge of the chip select. A
// read command loads each chip's shift register, and the next transaction's
// input bytes carry the values in the same order.
package ad5293

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/bus"
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

// Bus is the AD5293's SPI interface: data clocked in on SCLK's falling
// edges with SCLK idling low, mode 1 (ADI's no-OS AD5293 driver connects
// with NO_OS_SPI_MODE_1), at up to 50 MHz, and one 16-bit frame per chip.
// The datasheet gives one SCLK limit, so read-back has the same 50 MHz;
// but SDO is open-drain, and its pull-up with the next chip's SDI load may
// need a longer clock period: coupling.chain_hz (docs/boards.md §1 for the
// pull-ups, §7 for the chain-clock formula).
var Bus = bus.Limits{
	Mode: spi.Mode1, Modes: []spi.Mode{spi.Mode1},
	WriteHz: 50 * physic.MegaHertz, ReadHz: 50 * physic.MegaHertz, FrameBytes: 2,
}

// Control register bits (the low bits of a control frame's data).
const (
	// ControlWriteEnable (C1) set allows RDAC writes; clear (the power-up
	// and reset default) write-protects the wiper. ADI's no-OS driver
	// (drivers/potentiometer/ad5293/ad5293.h) names it PROTECT_MSK.
	ControlWriteEnable = 0x002
	// ControlNormalMode (C2) set selects normal mode; clear selects
	// resistor-performance mode (no-OS: CALI_MSK).
	ControlNormalMode = 0x004
)

// controlUnlock allows RDAC writes (control bit C1); C2 = 0 keeps the
// chip in resistor-performance mode (tighter tolerance, settling up to
// 5 µs at half scale).
const controlUnlock = ControlWriteEnable

// ResetTime is how long the chip needs after a software reset before the
// next command. ADI's no-OS driver (ad5293.c, ad5293_soft_reset and
// ad5293_hard_reset) waits 2 ms, noting a maximum reset time of 1.5 ms.
const ResetTime = 2 * time.Millisecond

// sdoFloat is the special frame that, followed by a NOP, puts SDO in high
// impedance.
const sdoFloat = 0x8001

// Errors the driver returns; compare with errors.Is. An out-of-range code
// is a *bus.RangeError that matches ErrRange.
var (
	// ErrLocked is returned for wiper writes before Unlock.
	ErrLocked = errors.New("ad5293: wiper is write-protected until Unlock")
	// ErrConfig: NewChain got no connection or a chain length outside
	// 1..4096.
	ErrConfig error = bus.NewError(bus.Config, "ad5293: bad chain")
	// ErrLength: a slice of codes or values without one entry per chip.
	ErrLength error = bus.NewError(bus.Length, "ad5293: wrong number of entries")
	// ErrRange: a wiper code outside 0..Max.
	ErrRange error = bus.NewError(bus.Range, "ad5293: wiper code out of range")
)

// Opts configures a single device. The zero value is fine.
type Opts struct{}

// Chain is n rheostats daisy-chained on one SPI connection (16-bit frames,
// SPI mode 1); see the package doc for the frame order.
type Chain struct {
	c        conn.Conn
	n        int
	unlocked bool
	w, r     []byte
	// sleep waits after a reset; tests replace it so they need not sleep.
	sleep func(time.Duration)
}

// NewChain returns a chain of n ≥ 1 rheostats on c. It does not touch the
// chips.
func NewChain(c conn.Conn, n int) (*Chain, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrConfig)
	}
	if n < 1 || n > 4096 {
		return nil, fmt.Errorf("%w: chain of %d chips, want 1..4096", ErrConfig, n)
	}
	return &Chain{c: c, n: n, w: make([]byte, 2*n), r: make([]byte, 2*n), sleep: time.Sleep}, nil
}

// String names the chain and its connection.
func (ch *Chain) String() string {
	if ch.n == 1 {
		return fmt.Sprintf("AD5293{%s}", ch.c)
	}
	return fmt.Sprintf("AD5293×%d{%s}", ch.n, ch.c)
}

// Len is the number of chips.
func (ch *Chain) Len() int { return ch.n }

// Frame encodes one 16-bit frame.
func Frame(cmd uint8, data uint16) [2]byte {
	v := uint16(cmd&0x0f)<<10 | data&0x3ff
	return [2]byte{byte(v >> 8), byte(v)}
}

// put places chip k's frame in the write buffer.
func (ch *Chain) put(k int, cmd uint8, data uint16) {
	f := Frame(cmd, data)
	j := 2 * (ch.n - 1 - k)
	ch.w[j], ch.w[j+1] = f[0], f[1]
}

// all sends the same command to every chip; read, if not nil, receives
// what the chips shift out.
func (ch *Chain) all(cmd uint8, data uint16, read []byte) error {
	for k := range ch.n {
		ch.put(k, cmd, data)
	}
	if err := ch.c.Tx(ch.w, read); err != nil {
		return fmt.Errorf("ad5293: command %#x: %w", cmd, err)
	}
	return nil
}

// Unlock allows wiper writes on every chip (needed once after power-up or
// Reset).
func (ch *Chain) Unlock() error {
	if err := ch.all(CmdWriteControl, controlUnlock, nil); err != nil {
		return err
	}
	ch.unlocked = true
	return nil
}

// Write sets chip k's wiper to codes[k] (0…1023) for every chip, in one
// transaction. Every code is checked before anything is sent.
func (ch *Chain) Write(codes []int) error {
	if len(codes) != ch.n {
		return fmt.Errorf("%w: %d codes for %d chips", ErrLength, len(codes), ch.n)
	}
	for k, c := range codes {
		if c < 0 || c > Max {
			return &bus.RangeError{What: fmt.Sprintf("ad5293 wiper code (chip %d)", k), Value: c, Min: 0, Max: Max, Err: ErrRange}
		}
	}
	if !ch.unlocked {
		return ErrLocked
	}
	for k, c := range codes {
		ch.put(k, CmdWriteRDAC, uint16(c))
	}
	if err := ch.c.Tx(ch.w, nil); err != nil {
		return fmt.Errorf("ad5293: write wipers: %w", err)
	}
	return nil
}

// Read returns every wiper code into dst (length Len): a read command to
// all chips, then NOPs that clock the values out.
func (ch *Chain) Read(dst []int) error { return ch.readAll(CmdReadRDAC, dst) }

// readAll sends cmd to every chip and returns what the following NOPs
// clock out, the 10 data bits of each chip's frame.
func (ch *Chain) readAll(cmd uint8, dst []int) error {
	if len(dst) != ch.n {
		return fmt.Errorf("%w: %d values for %d chips", ErrLength, len(dst), ch.n)
	}
	if err := ch.all(cmd, 0, nil); err != nil {
		return err
	}
	if err := ch.all(CmdNOP, 0, ch.r); err != nil {
		return err
	}
	for k := range dst {
		j := 2 * (ch.n - 1 - k)
		dst[k] = int(uint16(ch.r[j])<<8|uint16(ch.r[j+1])) & 0x3ff
	}
	return nil
}

// Reset returns every wiper to midscale; the chips are write-protected
// again. It returns after ResetTime, when the chips accept commands.
func (ch *Chain) Reset() error {
	if err := ch.all(CmdReset, 0, nil); err != nil {
		return err
	}
	ch.unlocked = false
	ch.sleep(ResetTime)
	return nil
}

// Halt shuts every rheostat down (terminal A open), opening the couplings.
func (ch *Chain) Halt() error { return ch.all(CmdShutdown, 1, nil) }

// Wake ends a shutdown (Halt) on every chip: writing a wiper does not.
func (ch *Chain) Wake() error { return ch.all(CmdShutdown, 0, nil) }

// ReadControl returns every chip's control register into dst (length
// Len): ControlWriteEnable is set after Unlock. Only the bits named above
// have a meaning; check them with a mask, as ADI's no-OS driver does
// (ad5293_read_reg_cali reads CALI_MSK alone), since the datasheet leaves
// the others undefined. Reading back what was written checks that the
// chain has the expected length and that SDO reaches the host.
func (ch *Chain) ReadControl(dst []int) error { return ch.readAll(CmdReadControl, dst) }

// EchoFrame is the frame Echo shifts into chip k: a NOP whose data field
// tags the chip, 1 + k mod 1023. It is never 0x0000 and its two top bits
// are clear, so neither a MISO stuck low nor one floating at the SDO
// pull-up (all ones) returns it.
func EchoFrame(k int) uint16 { return uint16(1 + k%1023) }

// Echo checks that the chain answers: it shifts EchoFrame(k) into every
// chip k (NOPs change nothing), then clocks the shift registers out with
// plain NOPs and stores what chip k's slot returned in dst (length Len).
// In a daisy chain each chip's SDO shifts out the frame its shift
// register holds while the next is clocked in (AD5293 data sheet, "SDO
// pin and daisy-chain operation"), so dst[k] == EchoFrame(k) for every k
// when the chain has the wired length and SDI→SDO→…→MISO is intact. A
// frame meant for chip j found in chip k's slot means the chain has k − j
// chips fewer than wired (more when negative).
func (ch *Chain) Echo(dst []uint16) error {
	if len(dst) != ch.n {
		return fmt.Errorf("%w: %d values for %d chips", ErrLength, len(dst), ch.n)
	}
	if err := ch.SendEcho(); err != nil {
		return err
	}
	return ch.ReadEcho(dst)
}

// SendEcho is Echo's first transaction: it shifts EchoFrame(k) into every
// chip k. A caller may run it and ReadEcho at different clocks (the frames
// then cross the chain's links inward at one clock and outward at the
// other).
func (ch *Chain) SendEcho() error {
	for k := range ch.n {
		ch.put(k, CmdNOP, EchoFrame(k))
	}
	if err := ch.c.Tx(ch.w, nil); err != nil {
		return fmt.Errorf("ad5293: echo frames: %w", err)
	}
	return nil
}

// ReadEcho is Echo's second transaction: plain NOPs clock every shift
// register out, and dst[k] (length Len) receives chip k's slot.
func (ch *Chain) ReadEcho(dst []uint16) error {
	if len(dst) != ch.n {
		return fmt.Errorf("%w: %d values for %d chips", ErrLength, len(dst), ch.n)
	}
	if err := ch.all(CmdNOP, 0, ch.r); err != nil {
		return err
	}
	for k := range dst {
		j := 2 * (ch.n - 1 - k)
		dst[k] = uint16(ch.r[j])<<8 | uint16(ch.r[j+1])
	}
	return nil
}

// FloatSDO puts every chip's SDO in high impedance (the frame 0x8001, then
// a NOP), so the chain does not load a MISO line it shares with other
// chips. Any read command drives SDO again.
func (ch *Chain) FloatSDO() error {
	for k := range ch.n {
		j := 2 * (ch.n - 1 - k)
		ch.w[j], ch.w[j+1] = sdoFloat>>8, sdoFloat&0xff
	}
	if err := ch.c.Tx(ch.w, nil); err != nil {
		return fmt.Errorf("ad5293: float SDO: %w", err)
	}
	return ch.all(CmdNOP, 0, nil)
}

// Dev is one rheostat on its own chip select: a chain of one.
type Dev struct {
	ch  *Chain
	one [1]int
}

// New returns a rheostat on c. It does not touch the chip.
func New(c conn.Conn, _ *Opts) (*Dev, error) {
	ch, err := NewChain(c, 1)
	if err != nil {
		return nil, err
	}
	return &Dev{ch: ch}, nil
}

// String names the device and its connection.
func (d *Dev) String() string { return d.ch.String() }

// Unlock allows wiper writes (needed once after power-up or Reset).
func (d *Dev) Unlock() error { return d.ch.Unlock() }

// Write sets the wiper to code (0…1023).
func (d *Dev) Write(code int) error {
	if code < 0 || code > Max {
		return &bus.RangeError{What: "ad5293 wiper code", Value: code, Min: 0, Max: Max, Err: ErrRange}
	}
	d.one[0] = code
	return d.ch.Write(d.one[:])
}

// Read returns the wiper code: a read command, then a NOP that clocks the
// value out.
func (d *Dev) Read() (int, error) {
	err := d.ch.Read(d.one[:])
	return d.one[0], err
}

// Reset returns the wiper to midscale; the chip is write-protected again.
// It returns after ResetTime.
func (d *Dev) Reset() error { return d.ch.Reset() }

// Halt shuts the rheostat down (terminal A open), opening the coupling.
func (d *Dev) Halt() error { return d.ch.Halt() }
