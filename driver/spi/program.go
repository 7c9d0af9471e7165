package spi

import (
	"context"
	"fmt"
	"math"
	"slices"

	"periph.io/x/conn/v3/gpio"

	"github.com/spukit/spukit/hal"
)

// SetCouplings implements hal.Board. Entries are rounded to the nearest
// code. Magnitudes are written in one transaction (one frame per changed
// MDAC). When a sign flips on an element that is not zero, the update goes
// in two passes — those elements to zero, settle, latch the polarities,
// then the final magnitudes — so the network never runs on new signs with
// old magnitudes (an intermediate matrix that may be unstable).
func (b *Board) SetCouplings(ctx context.Context, a []float64) error {
	if err := b.check(ctx, "set couplings"); err != nil {
		return err
	}
	if err := hal.CheckCouplings(b.info, a); err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	step := b.info.CouplingStep
	q := make([]float64, len(a))
	for e, v := range a {
		q[e] = math.Round(v/step) * step
	}
	if err := hal.Stable(q, b.k); err != nil {
		return fmt.Errorf("set couplings: after rounding to step %g: %w", step, err)
	}
	n := len(b.w.Coupling.Elements)
	codes, neg := make([]int, n), make([]bool, n)
	signChange, changed, flipLive := false, false, false
	for e, rc := range b.w.Coupling.Elements {
		v := a[rc[0]*b.k+rc[1]]
		codes[e] = int(math.Round(math.Abs(v) / step))
		neg[e] = v < 0 && codes[e] > 0
		flip := neg[e] != b.neg[e] || b.codes[e] < 0
		signChange = signChange || flip
		flipLive = flipLive || flip && b.codes[e] > 0
		changed = changed || codes[e] != b.codes[e]
	}
	if !signChange && !changed {
		return nil
	}
	settle := seconds(b.w.Coupling.SettleS)
	if flipLive {
		zero := slices.Clone(b.codes)
		for e := range zero {
			if neg[e] != b.neg[e] && zero[e] > 0 {
				zero[e] = 0
			}
		}
		if err := b.program(func() error { return b.writeMagnitudes(zero) }); err != nil {
			return fmt.Errorf("set couplings: zero the elements whose sign flips: %w", err)
		}
		if err := b.wait(ctx, settle); err != nil {
			return fmt.Errorf("set couplings: settle: %w", err)
		}
	}
	err := b.program(func() error {
		if signChange {
			for e, v := range neg {
				if err := b.polarity.Set(e, v); err != nil {
					return err
				}
			}
			if err := b.polarity.Flush(); err != nil {
				return fmt.Errorf("polarity: %w", err)
			}
			copy(b.neg, neg)
		}
		return b.writeMagnitudes(codes)
	})
	if err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	if err := b.wait(ctx, settle); err != nil {
		return fmt.Errorf("set couplings: settle: %w", err)
	}
	return nil
}

// writeMagnitudes writes every element's code through the coupling
// array; b.codes follows what the elements hold (−1 where unknown).
func (b *Board) writeMagnitudes(codes []int) error { return b.couplings.Write(codes, b.codes) }

// dacCodes converts volts to codes of a bits-bit DAC over [lo, hi] (v
// already checked).
func dacCodes(v []float64, lo, hi float64, bits int, dst []int) {
	n := float64(int(1) << bits)
	lsb := (hi - lo) / n
	for i, x := range v {
		dst[i] = int(math.Min(math.Max(math.Round((x-lo)/lsb), 0), n-1))
	}
}

// writeDAC writes the changed channels of d (write-and-update each).
func (b *Board) writeDAC(d dac, channels []int, codes, have []int) (bool, error) {
	changed := false
	err := b.program(func() error {
		for i, c := range codes {
			if c == have[i] {
				continue
			}
			if err := d.Write(channels[i], uint16(c)); err != nil {
				return fmt.Errorf("cell %d (channel %d): %w", i, channels[i], err)
			}
			have[i] = c
			changed = true
		}
		return nil
	})
	return changed, err
}

// SetBias implements hal.Board.
func (b *Board) SetBias(ctx context.Context, v []float64) error {
	if err := b.check(ctx, "set bias"); err != nil {
		return err
	}
	if err := hal.CheckVector("bias", v, b.k, b.info.Bias.Range); err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	codes := make([]int, b.k)
	dacCodes(v, b.w.Bias.MinV, b.w.Bias.MaxV, b.info.Bias.Bits, codes)
	changed, err := b.writeDAC(b.bias, b.w.Bias.Channels, codes, b.biasCode)
	if err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	if changed {
		if err := b.wait(ctx, seconds(b.w.Bias.SettleS)); err != nil {
			return fmt.Errorf("set bias: settle: %w", err)
		}
	}
	return nil
}

// SetState implements hal.Board: the state DAC is set to x, then FORCE
// connects it to the cells for force_s.
func (b *Board) SetState(ctx context.Context, x []float64) error {
	if err := b.check(ctx, "set state"); err != nil {
		return err
	}
	r := b.info.ADC.Range
	if err := hal.CheckVector("state", x, b.k, r); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	// The state DAC may span less than the ADC.
	sr := hal.Range{Min: b.w.State.MinV, Max: b.w.State.MaxV}
	if err := hal.CheckVector("state", x, b.k, sr); err != nil {
		return fmt.Errorf("set state: beyond the state DAC: %w", err)
	}
	codes := make([]int, b.k)
	dacCodes(x, sr.Min, sr.Max, dacChips[b.w.State.Chip].bits, codes)
	if _, err := b.writeDAC(b.state, b.w.State.Channels, codes, b.stCode); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	if err := b.forceState(ctx); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	return nil
}

// forceState lets the state DAC settle, then holds FORCE high for force_s:
// the cells take the state DAC's outputs.
func (b *Board) forceState(ctx context.Context) error {
	if err := b.wait(ctx, seconds(b.w.State.SettleS)); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	if err := b.force.Out(gpio.High); err != nil {
		return fmt.Errorf("FORCE %s: %w", b.w.State.ForcePin, err)
	}
	werr := b.wait(ctx, seconds(b.w.State.ForceS))
	// FORCE is released even when the wait was cancelled.
	if err := b.force.Out(gpio.Low); err != nil {
		return fmt.Errorf("FORCE %s: %w", b.w.State.ForcePin, err)
	}
	return werr
}
