package haltest

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// checkDimensions: wrong lengths are ErrDimension, and n = 0 for Sample.
func checkDimensions(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	var errs []error
	for _, l := range []int{0, k*k - 1, k*k + 1} {
		errs = append(errs, wantIs(fmtOp("SetCouplings(%d entries) on a %d-cell board", l, k),
			b.SetCouplings(ctx, identityPadded(k, l)), hal.ErrDimension))
	}
	for _, l := range []int{0, k - 1, k + 1} {
		if l == k {
			continue
		}
		errs = append(errs, wantIs(fmtOp("SetBias(%d entries) on a %d-cell board", l, k),
			b.SetBias(ctx, make([]float64, l)), hal.ErrDimension))
		v, err := safeBias(in)
		if err != nil {
			return err
		}
		errs = append(errs, wantIs(fmtOp("SetState(%d entries) on a %d-cell board", l, k),
			b.SetState(ctx, testnum.Constant(l, v)), hal.ErrDimension))
	}
	lens := []int{0}
	if k > 1 {
		lens = append(lens, k-1, k+1, 3*k-1)
	}
	for _, l := range lens {
		n, err := b.Sample(ctx, 0, make([]float64, l))
		errs = append(errs, wantIs(fmtOp("Sample(dst of %d values) on a %d-cell board", l, k), err, hal.ErrDimension))
		if n != 0 {
			errs = append(errs, failf("Sample(dst of %d values) on a %d-cell board returned n = %d, want 0", l, k, n))
		}
	}
	return joinThenSmoke(ctx, b, errs)
}

// identityPadded returns l entries of a k × k identity matrix, padded with
// zeros or cut short.
func identityPadded(k, l int) []float64 {
	a := testnum.Identity(k, 1)
	if l <= len(a) {
		return a[:l]
	}
	return append(a, make([]float64, l-len(a))...)
}

// checkNotFinite: NaN and ±Inf in couplings, bias and state are ErrInvalid.
func checkNotFinite(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	v, err := safeBias(in)
	if err != nil {
		return err
	}
	var errs []error
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		a := testnum.Identity(k, 1)
		a[0] = bad
		errs = append(errs, wantIs(fmtOp("SetCouplings with A[0][0] = %g", bad), b.SetCouplings(ctx, a), hal.ErrInvalid))
		if k > 1 {
			a := testnum.Identity(k, 1)
			a[(k-1)*k] = bad
			if in.Topology == hal.Symmetric {
				a[k-1] = bad
			}
			errs = append(errs, wantIs(fmtOp("SetCouplings with A[%d][0] = %g", k-1, bad), b.SetCouplings(ctx, a), hal.ErrInvalid))
		}
		x := testnum.Constant(k, v)
		x[k-1] = bad
		errs = append(errs, wantIs(fmtOp("SetBias with b[%d] = %g", k-1, bad), b.SetBias(ctx, x), hal.ErrInvalid))
		errs = append(errs, wantIs(fmtOp("SetState with x[%d] = %g", k-1, bad), b.SetState(ctx, x), hal.ErrInvalid))
	}
	return joinThenSmoke(ctx, b, errs)
}

// checkOutOfRange: out-of-range couplings, biases and states are
// *hal.RangeError values naming the entry, the value and the range, and a
// rejected call changes nothing on the board.
func checkOutOfRange(ctx context.Context, b hal.Board, cfg config) error {
	in := b.Info()
	k := in.Cells
	sym := in.Topology == hal.Symmetric
	v, err := safeBias(in)
	if err != nil {
		return err
	}
	var errs []error

	// Couplings above the maximum (at the last row, first column) and below
	// the minimum (first row, last column); both entries of a pair on a
	// symmetric board. The rest is the identity.
	for _, tc := range []struct {
		row, col int
		bound    float64
		up       bool
	}{{k - 1, 0, in.Coupling.Max, true}, {0, k - 1, in.Coupling.Min, false}} {
		if math.IsInf(tc.bound, 0) {
			continue
		}
		bad := beyond(tc.bound, tc.up)
		a := testnum.Identity(k, 1)
		a[tc.row*k+tc.col] = bad
		if sym {
			a[tc.col*k+tc.row] = bad
		}
		errs = append(errs, wantRange(fmtOp("SetCouplings with A[%d][%d] = %g", tc.row, tc.col, bad),
			b.SetCouplings(ctx, a), "coupling", tc.row, tc.col, sym, bad, in.Coupling))
	}

	// Bias against the bias DAC, state against the ADC: the last entry too
	// high, the first too low.
	for _, tc := range []struct {
		what string
		r    hal.Range
		set  func(context.Context, []float64) error
	}{{"bias", in.Bias.Range, b.SetBias}, {"state", in.ADC.Range, b.SetState}} {
		for _, e := range []struct {
			i     int
			bound float64
			up    bool
		}{{k - 1, tc.r.Max, true}, {0, tc.r.Min, false}} {
			if math.IsInf(e.bound, 0) {
				continue
			}
			bad := beyond(e.bound, e.up)
			x := testnum.Constant(k, v)
			x[e.i] = bad
			errs = append(errs, wantRange(fmtOp("Set%s with entry %d = %g", title(tc.what), e.i, bad),
				tc.set(ctx, x), tc.what, e.i, -1, false, bad, tc.r))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return unchangedAfterRejection(ctx, b, cfg)
}

// unchangedAfterRejection programs A = I and a bias near the top of the
// window, then makes calls that must be rejected because of their last
// entry but whose other entries would move the cells far away if they were
// applied, and checks that the board still settles where it was told to.
func unchangedAfterRejection(ctx context.Context, b hal.Board, cfg config) error {
	in := b.Info()
	k := in.Cells
	lv, err := levels(in)
	if err != nil {
		return err
	}
	centre, err := safeBias(in)
	if err != nil {
		return err
	}
	hi := lv[0]
	lo := 2*centre - hi // mirrors hi about the centre of the window
	if err := program(ctx, b, testnum.Identity(k, 1), testnum.Constant(k, hi)); err != nil {
		return err
	}
	if err := forceAndRun(ctx, b, testnum.Constant(k, hi), 20); err != nil {
		return err
	}

	// A rejected SetState must not move any node: the readings right after it
	// stay near hi (the rejected state would put cells 0..K−2 at lo).
	if !math.IsInf(in.ADC.Max, 1) && k > 1 {
		x := testnum.Constant(k, lo)
		x[k-1] = beyond(in.ADC.Max, true)
		if err := b.SetState(ctx, x); err == nil {
			return failf("SetState with entry %d = %g above the ADC range was accepted", k-1, x[k-1])
		}
		dst := make([]float64, k)
		if _, err := b.Sample(ctx, 0, dst); err != nil && !errors.Is(err, hal.ErrSaturated) {
			return failf("Sample after a rejected SetState: %w", err)
		}
		for i := range k - 1 {
			if math.Abs(dst[i]-lo) < math.Abs(dst[i]-hi) {
				return failf("after a rejected SetState cell %d reads %g V, nearer the rejected %g V than the previous %g V: the call was partly applied",
					i, dst[i], lo, hi)
			}
		}
	}

	// A rejected SetBias would move cells 0..K−2 to lo.
	if !math.IsInf(in.Bias.Max, 1) {
		x := testnum.Constant(k, lo)
		x[k-1] = beyond(in.Bias.Max, true)
		if err := b.SetBias(ctx, x); err == nil {
			return failf("SetBias with entry %d = %g above the bias range was accepted", k-1, x[k-1])
		}
	}

	// A rejected SetCouplings of 2·I would halve the equilibria.
	if in.Coupling.Max >= 2 && !math.IsInf(in.Coupling.Max, 1) {
		a := testnum.Identity(k, 2)
		bad := beyond(in.Coupling.Max, true)
		a[(k-1)*k] = bad
		if in.Topology == hal.Symmetric {
			a[k-1] = bad
		}
		if err := b.SetCouplings(ctx, a); err == nil {
			return failf("SetCouplings with A[%d][0] = %g above the coupling range was accepted", k-1, bad)
		}
	}

	n := max(statCount(statPeriod(in, 1), cfg)/4, 200)
	if err := checkMeans(ctx, b, testnum.Constant(k, hi), 1, n); err != nil {
		return failf("after rejected SetState, SetBias and SetCouplings the board no longer settles at its bias %g V: %w", hi, err)
	}
	return nil
}

// beyond returns a value clearly outside a range bound, with a fractional
// part that makes it easy to recognise in a message.
func beyond(bound float64, up bool) float64 {
	if up {
		return math.Ceil(bound) + 1.375
	}
	return math.Floor(bound) - 1.625
}

// checkUnstable: couplings with an eigenvalue of non-positive real part are
// ErrUnstable; stable non-symmetric couplings are accepted on a General
// board; the board still works afterwards.
func checkUnstable(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	step := in.CouplingStep
	var errs []error

	// A diagonal entry ≤ 0 (the range contains 0, maybe negative values).
	d := -snapDown(math.Min(1, -in.Coupling.Min), step)
	a := testnum.Identity(k, 1)
	a[(k-1)*k+k-1] = d
	errs = append(errs, wantIs(fmtOp("SetCouplings(identity with A[%d][%d] = %g)", k-1, k-1, d),
		b.SetCouplings(ctx, a), hal.ErrUnstable))

	if k > 1 {
		// Positive diagonal, symmetric pair w: eigenvalues 1 ± w, so 1 − |w| < 0
		// when |w| ≥ 1.5. Catches checks that look only at the diagonal.
		w := 0.0
		if in.Coupling.Max >= 1.5 {
			w = snapDown(math.Min(in.Coupling.Max, 3), step)
		} else if in.Coupling.Min <= -1.5 {
			w = snapDown(math.Max(in.Coupling.Min, -3), step)
		}
		if math.Abs(w) >= 1.5 {
			a := testnum.Identity(k, 1)
			a[1], a[k] = w, w
			errs = append(errs, wantIs(fmtOp("SetCouplings(identity with A[0][1] = A[1][0] = %g, eigenvalue %g)", w, 1-math.Abs(w)),
				b.SetCouplings(ctx, a), hal.ErrUnstable))
		}
	}

	if k > 1 && in.Topology == hal.General {
		// Stable non-symmetric matrices must be accepted: a triangular one
		// (eigenvalues 1, non-normal; its symmetric part is indefinite when
		// |w| > 2) and a rotation (eigenvalues 1 ± i·r).
		w := snapDown(in.Coupling.Max, step)
		if math.IsInf(w, 1) {
			w = 3
		}
		a := testnum.Identity(k, 1)
		a[1] = w
		if err := b.SetCouplings(ctx, a); err != nil {
			errs = append(errs, failf("SetCouplings(identity with A[0][1] = %g), eigenvalues all 1, on a General board: %w", w, err))
		}
		if r := snapDown(math.Min(1, math.Min(in.Coupling.Max, -in.Coupling.Min)), step); r > 0 {
			a := testnum.Identity(k, 1)
			a[1], a[k] = r, -r
			if err := b.SetCouplings(ctx, a); err != nil {
				errs = append(errs, failf("SetCouplings(identity with A[0][1] = %g, A[1][0] = %g), eigenvalues 1 ± %gi: %w", r, -r, r, err))
			}
		}
	}
	return joinThenSmoke(ctx, b, errs)
}

// checkArguments: Run with d ≤ 0 is ErrInvalid; Sample with a period below
// the minimum is a *hal.RangeError, while 0 and the minimum itself are fine.
func checkArguments(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	if _, err := programNeutral(ctx, b, in); err != nil {
		return err
	}
	var errs []error
	for _, d := range []time.Duration{0, -1, -time.Millisecond} {
		errs = append(errs, wantIs(fmtOp("Run(%v)", d), b.Run(ctx, d), hal.ErrInvalid))
	}
	periods := []time.Duration{-1, in.MinSamplePeriod / 2}
	if in.MinSamplePeriod > 1 {
		periods = append(periods, in.MinSamplePeriod-1)
	}
	for _, p := range periods {
		if p == 0 {
			continue
		}
		n, err := b.Sample(ctx, p, make([]float64, k))
		errs = append(errs, wantIs(fmtOp("Sample(period %v < MinSamplePeriod %v)", p, in.MinSamplePeriod), err, hal.ErrOutOfRange))
		var re *hal.RangeError
		if err != nil && !errors.As(err, &re) {
			errs = append(errs, failf("Sample(period %v): error %q is not a *hal.RangeError", p, err))
		}
		if n != 0 {
			errs = append(errs, failf("Sample(period %v) was rejected but returned n = %d, want 0", p, n))
		}
	}
	for _, p := range []time.Duration{0, in.MinSamplePeriod} {
		n, err := b.Sample(ctx, p, make([]float64, 2*k))
		if err != nil && !errors.Is(err, hal.ErrSaturated) || n != 2 {
			errs = append(errs, failf("Sample(period %v, 2 samples) = %d, %v; want 2, nil", p, n, err))
		}
	}
	return joinThenSmoke(ctx, b, errs)
}
