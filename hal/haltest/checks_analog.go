package haltest

import (
	"context"
	"errors"
	"math"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// checkADCRange: readings lie in the ADC range, also when the nodes start at
// either end of it.
func checkADCRange(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	v, err := programNeutral(ctx, b, in)
	if err != nil {
		return err
	}
	const n = 200
	dst := make([]float64, n*k)
	for _, x := range []float64{in.ADC.Max, in.ADC.Min, v} {
		if err := b.SetState(ctx, testnum.Constant(k, x)); err != nil {
			return failf("SetState(all cells at %g V, inside the ADC range): %w", x, err)
		}
		if x == v {
			if err := b.Run(ctx, tauSpan(in, 5, 1)); err != nil {
				return failf("Run(5τ): %w", err)
			}
		}
		got, err := b.Sample(ctx, 0, dst)
		if err != nil && !errors.Is(err, hal.ErrSaturated) {
			return failf("Sample(%d samples) starting at %g V: %w", n, x, err)
		}
		if got != n {
			return failf("Sample(%d samples) starting at %g V returned n = %d", n, x, got)
		}
		if err := inRange(dst, in.ADC.Range); err != nil {
			return failf("starting at %g V: %w", x, err)
		}
	}
	return nil
}

// saturationPlan chooses a diagonal coupling c and a bias at one end of the
// bias DAC whose equilibrium bias/c lies clearly beyond the same end of the
// ADC range: by 5 % of the ADC full scale or 6 stationary standard
// deviations σ/√c, whichever is larger.
func saturationPlan(in hal.Info) (c, bias, adcEnd float64, err error) {
	fs := in.ADC.Max - in.ADC.Min
	for _, side := range []float64{1, -1} {
		bEnd, aEnd := in.Bias.Max, in.ADC.Max
		if side < 0 {
			bEnd, aEnd = in.Bias.Min, in.ADC.Min
		}
		if !(side*bEnd > 0) || math.IsInf(bEnd, 0) {
			continue // bEnd/c has the sign of bEnd: it must lie on this side of 0
		}
		c = 1.0
		for range 8 { // the margin depends on c through σ/√c
			margin := math.Max(0.05*fs, 6*in.Noise/math.Sqrt(c))
			need := side*aEnd + margin // want side·bEnd/c ≥ need
			if need <= 0 {
				c = 1
				continue
			}
			c = math.Min(1, side*bEnd/need)
		}
		c = snapDown(c, in.CouplingStep)
		margin := math.Max(0.05*fs, 6*in.Noise/math.Sqrt(c))
		if c > 0 && c >= in.CouplingStep && in.Coupling.Contains(c) && side*bEnd/c >= side*aEnd+margin {
			return c, bEnd, aEnd, nil
		}
	}
	return 0, 0, 0, skipf("no diagonal coupling in [CouplingStep, 1] drives a bias-DAC end clearly beyond the ADC range (bias [%g, %g] V, ADC [%g, %g] V, step %g)",
		in.Bias.Min, in.Bias.Max, in.ADC.Min, in.ADC.Max, in.CouplingStep)
}

// checkSaturation: an equilibrium beyond the ADC range is reported as a
// *hal.SaturationError for every cell, with all samples still delivered and
// clipped to the range.
func checkSaturation(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	c, bias, adcEnd, err := saturationPlan(in)
	if err != nil {
		return err
	}
	if err := program(ctx, b, testnum.Identity(k, c), testnum.Constant(k, bias)); err != nil {
		return err
	}
	if err := b.SetState(ctx, testnum.Constant(k, adcEnd)); err != nil {
		return failf("SetState(all cells at the ADC end %g V): %w", adcEnd, err)
	}
	if err := b.Run(ctx, tauSpan(in, 20, c)); err != nil {
		return failf("Run(20τ/%g): %w", c, err)
	}
	const n = 100
	dst := make([]float64, n*k)
	got, err := b.Sample(ctx, 0, dst)
	what := fmtOp("Sample(%d samples) with A = %g·I, bias %g V (equilibrium %g V, ADC range [%g, %g] V)",
		n, c, bias, bias/c, in.ADC.Min, in.ADC.Max)
	if err := wantIs(what, err, hal.ErrSaturated); err != nil {
		return err
	}
	var se *hal.SaturationError
	if !errors.As(err, &se) {
		return failf("%s: error %q matches ErrSaturated but is not a *hal.SaturationError", what, err)
	}
	if got != n {
		return failf("%s: returned n = %d, want all %d samples delivered despite saturation", what, got, n)
	}
	if se.Samples != n {
		return failf("%s: SaturationError.Samples = %d, want %d", what, se.Samples, n)
	}
	if len(se.Counts) != k {
		return failf("%s: SaturationError.Counts has %d entries, want one per cell (%d)", what, len(se.Counts), k)
	}
	for i, cnt := range se.Counts {
		if cnt <= 0 || cnt > n {
			return failf("%s: SaturationError.Counts[%d] = %d, want 1..%d (every cell sits beyond the range)", what, i, cnt, n)
		}
	}
	if err := inRange(dst, in.ADC.Range); err != nil {
		return failf("%s: %w", what, err)
	}
	return nil
}

// checkEquilibrium: with A = I the cell means settle at the (different)
// biases of the cells; see checkMeans for the tolerance.
func checkEquilibrium(ctx context.Context, b hal.Board, cfg config) error {
	in := b.Info()
	k := in.Cells
	lv, err := levels(in)
	if err != nil {
		return err
	}
	if err := program(ctx, b, testnum.Identity(k, 1), lv); err != nil {
		return err
	}
	if err := b.SetState(ctx, lv); err != nil {
		return failf("SetState(%v): %w", lv, err)
	}
	return checkMeans(ctx, b, lv, 1, statCount(statPeriod(in, 1), cfg))
}
