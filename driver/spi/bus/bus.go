// Package bus describes what a chip accepts on an SPI bus, as its
// datasheet gives it: the clock phase and polarity, the fastest clock for
// the frames it receives and for what it shifts back out, and the length
// of one frame. Each chip package below driver/spi exports one Limits
// (ad5676.Bus, ad5293.Bus, …): driver/spi connects with it, and the
// virtual chips of driver/spi/virtual refuse anything outside it, so the
// two sides of the bus read one table. RangeError is the chips' shared
// shape of an argument out of range, each matching its own chip's
// sentinel.
package bus

import (
	"slices"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Limits is one chip's side of the SPI contract.
type Limits struct {
	// Mode is the clock polarity and phase the driver connects with.
	Mode spi.Mode
	// Modes are all the modes (CPOL, CPHA) in which the chip samples its
	// input and drives its output on the right edges; Mode is one of them.
	Modes []spi.Mode
	// WriteHz is the fastest clock for frames the chip receives; 0 when it
	// receives none.
	WriteHz physic.Frequency
	// ReadHz is the fastest clock at which what the chip shifts out is
	// valid (a read-out or a register read back); 0 when nothing is read.
	ReadHz physic.Frequency
	// FrameBytes is the length of one frame; a chain's transaction carries
	// one frame per chip.
	FrameBytes int
}

// Hz is the clock a driver connects with: WriteHz, or ReadHz for a chip
// that only sends. driver/spi runs each transaction that reads at the
// lower of its clock and ReadHz, so a ReadHz below WriteHz holds at any
// wiring clock.
func (l Limits) Hz() physic.Frequency {
	if l.WriteHz > 0 {
		return l.WriteHz
	}
	return l.ReadHz
}

// Accepts reports whether mode's clock polarity and phase (mode & 3) are
// among the chip's Modes.
func (l Limits) Accepts(mode spi.Mode) bool { return slices.Contains(l.Modes, mode&3) }
