package spi

import (
	"fmt"

	"github.com/spukit/spukit/driver/spi/ad5293"

	"github.com/spukit/spukit/hal"
)

// Locating a slow link of the AD5293 daisy chain. It runs only after the
// echo check at open failed, so a healthy open never pays for it.
//
// Each SDO→SDI link is an open-drain output with a pull-up (docs/boards.md
// §7): it falls at once and rises through R·C, so a link too slow for the
// clock reads the first ones after a zero as zeros and never turns a zero
// into a one. An echo frame (a NOP tagged 1 + k) keeps its command bits
// zero whatever such a link does to it, so every step below is NOPs only
// and leaves the chips as open found them (write-protected after power-up;
// Prepare unlocks them only once the chain answers).
//
//  1. Clock dependence: the echo is retried at half the clock, then half
//     again, down to minLocateHz. A chain that answers nowhere (MISO stuck,
//     a wrong chain length, an open link) keeps the echo check's message.
//  2. Where: the tagged frames are shifted in at the slowest clock that
//     still failed and clocked out at the fastest that worked, f_ok. The
//     frame for chip k crosses the host's MOSI line and links 1..k on the
//     way in (link j feeds chip j from chip j−1's SDO), and on the way out
//     links k+1..n−1 and chip n−1's SDO to MISO. The way out runs at f_ok,
//     where the whole echo — every link crossed in both directions by some
//     frame — came back right, so it is faithful; what chip k holds is
//     wrong exactly when one of links 0..k corrupted it on the way in. The
//     first chip N whose frame comes back wrong is the one behind the slow
//     link: it is the link into chip N. Chips past N are wrong too (their
//     frames crossed the same link), and none before N is.
//
// This assumes what the virtual rig's chain-slow fault models (faults.go:
// one slow link; above its f_max every frame with a zero before a one
// loses that one) and what a real open-drain link does: a slow rise loses
// ones. Each tag has a one after its zero command bits, so a link that
// fails at the clock of step 2 corrupts every tag crossing it. With two
// slow links step 2 names the slower one (the faster may pass at the
// slowest failing clock); fixing it and opening again finds the next. A
// link that corrupts only some bit patterns at that clock may let the
// first tags past it through, and the chip named is then a little late.

// minLocateHz is the slowest chain clock the localisation tries: a chain
// that does not answer at 250 kHz (a twentieth of the 5 MHz f_max of §7's
// example link, 2.2 kΩ on 20 pF) has something other than a slow pull-up
// wrong.
const minLocateHz = 250e3

// chainClock runs transactions at a lower clock (timedConn.at), with their
// bus time accounted at that clock.
type chainClock interface {
	clock() float64
	at(hz float64, f func() error) error
}

// locate is called when the echo check at the chain's clock failed. It
// returns the error naming the slow link and a clock that works, or nil
// when no lower clock helps (the echo check's message stands).
func (r *rheostatChain) locate() error {
	if r.clk == nil {
		return nil
	}
	f0 := r.clk.clock()
	fail, ok := f0, 0.0
	for hz := f0 / 2; hz >= minLocateHz; hz /= 2 {
		good, err := r.echoesAt(hz)
		if err != nil {
			return err
		}
		if good {
			ok = hz
			break
		}
		fail = hz
	}
	if ok == 0 {
		return nil
	}
	got := make([]uint16, r.ch.Len())
	if err := r.clk.at(fail, r.ch.SendEcho); err != nil {
		return err
	}
	if err := r.clk.at(ok, func() error { return r.ch.ReadEcho(got) }); err != nil {
		return err
	}
	first := len(got)
	for k := range got {
		if got[k] != ad5293.EchoFrame(k) {
			first = k
			break
		}
	}
	return r.slowLinkError(first, f0, fail, ok)
}

// echoesAt reports whether the whole echo comes back right at hz.
func (r *rheostatChain) echoesAt(hz float64) (bool, error) {
	got := make([]uint16, r.ch.Len())
	if err := r.clk.at(hz, func() error { return r.ch.Echo(got) }); err != nil {
		return false, err
	}
	return wrongEcho(got) < 0, nil
}

// slowLinkError names the link found by locate: frames into chip first and
// every chip after it are corrupted at f0 (and still at fail); the chain
// answers at ok. first == Len: every chip received its frame, so the slow
// line is the last chip's SDO to MISO.
func (r *rheostatChain) slowLinkError(first int, f0, fail, ok float64) error {
	n := r.ch.Len()
	at := hzString(f0)
	if fail != f0 {
		at += " (and still at " + hzString(fail) + ")"
	}
	var where string
	switch {
	case first == n:
		where = fmt.Sprintf("after AD5293 #%d, the last — every chip receives its frame, but the line from chip %d's SDO to MISO is too slow for its pull-up or buffer",
			n-1, n-1)
	case first == 0:
		where = "from AD5293 " + r.part(0) + " on — the host's MOSI line into chip 0 is too slow (its driver, level shifter or length)"
	default:
		where = fmt.Sprintf("from AD5293 %s on — the SDO→SDI link into chip %d (chip %d's open-drain SDO) is too slow for its pull-up",
			r.part(first), first, first-1)
	}
	return fmt.Errorf("rheostat chain on %s corrupts frames at %s %s; the chain answers at %s: set coupling.chain_hz ≤ %.0f "+
		"or fit a stronger pull-up (docs/boards.md §7): %w", r.port, at, where, hzString(ok), ok, hal.ErrDisconnected)
}

// part names chain position k as selftest does: "#32 (A[4][0])".
func (r *rheostatChain) part(k int) string {
	if k < len(r.elements) {
		return fmt.Sprintf("#%d (A[%d][%d])", k, r.elements[k][0], r.elements[k][1])
	}
	return fmt.Sprintf("#%d", k)
}

// hzString prints a clock in MHz or kHz: "1.25 MHz".
func hzString(hz float64) string {
	if hz >= 1e6 {
		return fmt.Sprintf("%g MHz", hz/1e6)
	}
	return fmt.Sprintf("%g kHz", hz/1e3)
}
