package spi

import (
	"fmt"
	"math"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/driver/spi/ad5450"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/hal"
)

// The board drives its chips through four small role interfaces, one per
// job on the board, and never asks which chip fills a role: the wiring
// table (chips.go) says which chips may fill it and how to build them.
// A chip's own Dev implements its role directly where the methods fit
// (ad5676.Dev, hc595.Dev); otherwise a small adapter below does.

// dac is the role of the bias and state DACs.
type dac interface {
	// PowerUp returns every channel to normal operation, whatever a
	// previous session left.
	PowerUp() error
	// Write writes code to channel ch and updates its output at once.
	Write(ch int, code uint16) error
	// InternalReference switches the chip's internal reference on or off
	// (the wiring's reference field).
	InternalReference(on bool) error
}

// couplingArray is the role of the coupling elements: one magnitude code
// per element (the sign is the polarity register's).
type couplingArray interface {
	// Prepare makes every element writable after power-up or a previous
	// session, and checks what it can read back.
	Prepare() error
	// Write sets every element's code. have holds the codes the elements
	// have now (−1: unknown) and is updated, also on failure, where a code
	// that may have latched in part becomes unknown.
	Write(codes, have []int) error
}

// polarityRegister is the role of the coupling signs: output k is element
// k's polarity (true: negative).
type polarityRegister interface {
	// Set changes output k in the shadow state.
	Set(k int, on bool) error
	// Flush latches every output at once.
	Flush() error
}

// sampler is the role of the node-voltage ADC: every channel sampled at
// the same instant.
type sampler interface {
	// Convert samples every channel at once and reads the result out.
	Convert() error
	// Volts is channel ch's last reading in volts, and whether it sits at
	// either end of the codes (saturated).
	Volts(ch int) (float64, bool)
	// Halt leaves the ADC idle: no conversion starts.
	Halt() error
}

// rheostatChain fills the coupling role with daisy-chained AD5293s: every
// element in one transaction.
type rheostatChain struct {
	ch       *ad5293.Chain
	port     string
	elements [][2]int // for messages: the entry each chip realises
	// clk runs transactions at a lower clock to locate a slow link
	// (chainfault.go); nil: not available.
	clk chainClock
}

// chip names chain position k for a message: "chip 5 (A[0][5])".
func (r *rheostatChain) chip(k int) string {
	if k < len(r.elements) {
		return fmt.Sprintf("chip %d (A[%d][%d])", k, r.elements[k][0], r.elements[k][1])
	}
	return fmt.Sprintf("chip %d", k)
}

// Prepare checks that the chain answers (Echo), wakes the rheostats,
// unlocks them and reads every control register back: a wrong chain
// length, a MISO floating high or stuck low, or a broken SDO daisy chain
// shows here, before the first coupling is written.
func (r *rheostatChain) Prepare() error {
	if err := r.answers(); err != nil {
		return err
	}
	if err := r.ch.Wake(); err != nil {
		return err
	}
	if err := r.ch.Unlock(); err != nil {
		return err
	}
	ctl := make([]int, r.ch.Len())
	if err := r.ch.ReadControl(ctl); err != nil {
		return err
	}
	// Only the write-enable bit is checked: the other bits are not the
	// driver's to judge (no-OS ad5293_read_reg_cali masks the one bit it
	// reads). A MISO held at the SDO pull-up (all ones) passes this check.
	for k, c := range ctl {
		if c&ad5293.ControlWriteEnable == 0 {
			return fmt.Errorf("rheostat chain on %s: chip %d reads control %#03x after unlock, want write-enable bit %#03x set: "+
				"check the chain length (wiring says %d chips) and the SDO daisy chain back to MISO: %w",
				r.port, k, c, ad5293.ControlWriteEnable, r.ch.Len(), hal.ErrDisconnected)
		}
	}
	return nil
}

// answers runs the chain's echo check. When it fails and a lower clock
// makes the chain answer, the error names the slow link (locate);
// otherwise it names the first chain position (in the order MISO clocks
// them out: the last chip first) whose echo is wrong, with the most likely
// cause.
func (r *rheostatChain) answers() error {
	got := make([]uint16, r.ch.Len())
	if err := r.ch.Echo(got); err != nil {
		return err
	}
	k := wrongEcho(got)
	if k < 0 {
		return nil
	}
	if err := r.locate(); err != nil {
		return err
	}
	return fmt.Errorf("rheostat chain on %s does not answer: %s returns %#04x for its echo frame %#04x: %s: %w",
		r.port, r.chip(k), got[k], ad5293.EchoFrame(k), echoCause(got, k), hal.ErrDisconnected)
}

// wrongEcho is the first chain position, in the order MISO clocks them
// out (the last chip first), whose echo is wrong; −1 when all are right.
func wrongEcho(got []uint16) int {
	for k := len(got) - 1; k >= 0; k-- {
		if got[k] != ad5293.EchoFrame(k) {
			return k
		}
	}
	return -1
}

// echoCause says what a wrong echo in chain position k most likely means.
func echoCause(got []uint16, k int) string {
	n := len(got)
	same := func(v uint16) bool {
		for _, g := range got {
			if g != v {
				return false
			}
		}
		return true
	}
	switch {
	case same(0xffff):
		return "MISO reads all ones, floating at the SDO pull-up: chain unpowered or absent, the SDO-to-MISO buffer not " +
			"enabled by this chip select, or an SDO→SDI link open anywhere (every frame passes each link after its chip)"
	case same(0):
		return "MISO reads all zeros: stuck low (SDO pull-up missing, MISO shorted, or another chip driving it)"
	}
	for j := range n {
		if got[k] == ad5293.EchoFrame(j) && j != k {
			if j < k {
				return fmt.Sprintf("it holds chip %d's frame: the chain is %d chip(s) shorter than the %d wired", j, k-j, n)
			}
			return fmt.Sprintf("it holds chip %d's frame: the chain is %d chip(s) longer than the %d wired", j, j-k, n)
		}
	}
	return "frames corrupted on the way: check the chain clock against the SDO pull-ups (coupling.chain_hz, docs/boards.md §7) and each link"
}

// Write writes every wiper in one transaction; a failed one leaves every
// code unknown.
func (r *rheostatChain) Write(codes, have []int) error {
	if err := r.ch.Write(codes); err != nil {
		for e := range have {
			have[e] = -1
		}
		return err
	}
	copy(have, codes)
	return nil
}

// mdacArray fills the coupling role with AD545x multiplying DACs, one SYNC
// GPIO each.
type mdacArray struct {
	devs     []*ad5450.Dev
	elements [][2]int // for messages: the entry each element realises
}

// Prepare has nothing to do: the MDACs have no lock and no read-back.
func (m *mdacArray) Prepare() error { return nil }

// Write writes one frame per MDAC whose code differs. A failed write
// leaves its code unknown (a partial frame may have latched).
func (m *mdacArray) Write(codes, have []int) error {
	for e, d := range m.devs {
		if codes[e] == have[e] {
			continue
		}
		if err := d.Write(codes[e]); err != nil {
			have[e] = -1
			return fmt.Errorf("element %d (A[%d][%d]): %w", e, m.elements[e][0], m.elements[e][1], err)
		}
		have[e] = codes[e]
	}
	return nil
}

// ad7606Sampler fills the sampler role with an AD7606.
type ad7606Sampler struct {
	d    *ad7606.Dev
	conv [ad7606.Channels]int16 // the last conversion
}

// Convert implements sampler.
func (s *ad7606Sampler) Convert() error { return s.d.Convert(s.conv[:]) }

// Volts implements sampler: a code at either end of the 16-bit range is
// saturated.
func (s *ad7606Sampler) Volts(ch int) (float64, bool) {
	c := s.conv[ch]
	return s.d.Volts(c), c == math.MaxInt16 || c == math.MinInt16
}

// Halt implements sampler.
func (s *ad7606Sampler) Halt() error { return s.d.Halt() }
