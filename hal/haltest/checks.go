package haltest

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
)

// checkInfo: Info is valid and stable across calls and operations.
func checkInfo(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	if err := in.Validate(); err != nil {
		return failf("Info().Validate(): %w", err)
	}
	if in.Cells <= 0 {
		return failf("Info().Cells = %d, want > 0", in.Cells)
	}
	if again := b.Info(); again != in {
		return failf("Info() changed between two calls: %+v, then %+v", in, again)
	}
	if err := smoke(ctx, b); err != nil {
		return err
	}
	if again := b.Info(); again != in {
		return failf("Info() changed after programming, running and sampling: %+v, then %+v", in, again)
	}
	return nil
}

// checkClock: a board that keeps board time accounts for at least the time
// it ran and sampled, its clock never goes back, and it keeps saying that
// it keeps time.
func checkClock(ctx context.Context, b hal.Board, _ config) error {
	t0, ok := hal.BoardTime(b)
	if !ok {
		return skipf("%T keeps no board time (hal.BoardTime)", b)
	}
	now := func() (time.Duration, error) {
		t, ok := hal.BoardTime(b)
		if !ok {
			return 0, failf("BoardTime() stopped reporting a clock it reported at open")
		}
		return t, nil
	}
	in := b.Info()
	k := in.Cells
	if t0 < 0 {
		return failf("BoardTime() = %v at open, want ≥ 0", t0)
	}
	v, err := safeBias(in)
	if err != nil {
		return err
	}
	if err := program(ctx, b, identity(k, 1), constant(k, v)); err != nil {
		return err
	}
	t1, err := now()
	if err != nil {
		return err
	}
	if t1 < t0 {
		return failf("BoardTime() went back from %v to %v while programming", t0, t1)
	}
	d := tauSpan(in, 10, 1)
	if err := b.Run(ctx, d); err != nil {
		return failf("Run(%v): %w", d, err)
	}
	t2, err := now()
	if err != nil {
		return err
	}
	if t2-t1 < d {
		return failf("Run(%v) advanced BoardTime() by only %v", d, t2-t1)
	}
	const n = 100
	p := max(in.MinSamplePeriod, in.Tau)
	got, err := b.Sample(ctx, p, make([]float64, n*k))
	if err != nil && !errors.Is(err, hal.ErrSaturated) || got != n {
		return failf("Sample(%d samples every %v) = %d, %v", n, p, got, err)
	}
	t3, err := now()
	if err != nil {
		return err
	}
	if t3-t2 < (n-1)*p {
		return failf("Sample(%d samples every %v) advanced BoardTime() by only %v, want ≥ %v", n, p, t3-t2, (n-1)*p)
	}
	return nil
}

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
			b.SetState(ctx, constant(l, v)), hal.ErrDimension))
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
	a := identity(k, 1)
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
		a := identity(k, 1)
		a[0] = bad
		errs = append(errs, wantIs(fmtOp("SetCouplings with A[0][0] = %g", bad), b.SetCouplings(ctx, a), hal.ErrInvalid))
		if k > 1 {
			a := identity(k, 1)
			a[(k-1)*k] = bad
			if in.Topology == hal.Symmetric {
				a[k-1] = bad
			}
			errs = append(errs, wantIs(fmtOp("SetCouplings with A[%d][0] = %g", k-1, bad), b.SetCouplings(ctx, a), hal.ErrInvalid))
		}
		x := constant(k, v)
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
		a := identity(k, 1)
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
			x := constant(k, v)
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
	if err := program(ctx, b, identity(k, 1), constant(k, hi)); err != nil {
		return err
	}
	if err := forceAndRun(ctx, b, constant(k, hi), 20); err != nil {
		return err
	}

	// A rejected SetState must not move any node: the readings right after it
	// stay near hi (the rejected state would put cells 0..K−2 at lo).
	if !math.IsInf(in.ADC.Max, 1) && k > 1 {
		x := constant(k, lo)
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
		x := constant(k, lo)
		x[k-1] = beyond(in.Bias.Max, true)
		if err := b.SetBias(ctx, x); err == nil {
			return failf("SetBias with entry %d = %g above the bias range was accepted", k-1, x[k-1])
		}
	}

	// A rejected SetCouplings of 2·I would halve the equilibria.
	if in.Coupling.Max >= 2 && !math.IsInf(in.Coupling.Max, 1) {
		a := identity(k, 2)
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
	if err := checkMeans(ctx, b, constant(k, hi), 1, n); err != nil {
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
	a := identity(k, 1)
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
			a := identity(k, 1)
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
		a := identity(k, 1)
		a[1] = w
		if err := b.SetCouplings(ctx, a); err != nil {
			errs = append(errs, failf("SetCouplings(identity with A[0][1] = %g), eigenvalues all 1, on a General board: %w", w, err))
		}
		if r := snapDown(math.Min(1, math.Min(in.Coupling.Max, -in.Coupling.Min)), step); r > 0 {
			a := identity(k, 1)
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
	v, err := safeBias(in)
	if err != nil {
		return err
	}
	if err := program(ctx, b, identity(k, 1), constant(k, v)); err != nil {
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

// checkCancelSample: cancelling the context while Sample works through a
// request that would take many seconds stops it promptly, with the samples
// taken so far.
func checkCancelSample(ctx context.Context, b hal.Board, cfg config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	k := in.Cells
	n, expected, err := cancelSize(ctx, b, cfg)
	if err != nil {
		return err
	}
	if expected < 5*cfg.cancelAfter {
		return skipf("%d samples (the memory cap) take only about %v, too short to observe a cancellation after %v",
			n, expected, cfg.cancelAfter)
	}
	dst := make([]float64, n*k)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(cfg.cancelAfter, cancel)
	defer timer.Stop()
	start := time.Now()
	got, err := b.Sample(cctx, 0, dst)
	el := time.Since(start)
	if err == nil {
		if el < cfg.cancelAfter {
			return skipf("%d samples took %v, finished before the cancellation at %v (timing estimate %v was too high)",
				n, el, cfg.cancelAfter, expected)
		}
		return failf("Sample(%d samples) ignored a context cancelled after %v: it ran %v and returned n = %d, nil",
			n, cfg.cancelAfter, el, got)
	}
	if !errors.Is(err, context.Canceled) {
		return failf("Sample with a context cancelled after %v: got %q, want errors.Is(err, context.Canceled)", cfg.cancelAfter, err)
	}
	if limit := cfg.cancelAfter + (expected-cfg.cancelAfter)/2; el > limit {
		return failf("Sample(%d samples) returned %v after start, cancelled at %v: too late (uncancelled ≈ %v, limit %v)",
			n, el, cfg.cancelAfter, expected, limit)
	}
	if got < 0 || got >= n {
		return failf("cancelled Sample(%d samples) returned n = %d, want 0 ≤ n < %d", n, got, n)
	}
	if err := inRange(dst[:got*k], in.ADC.Range); err != nil {
		return failf("samples delivered before the cancellation: %w", err)
	}
	if err := smoke(ctx, b); err != nil {
		return failf("board unusable after a cancelled Sample: %w", err)
	}
	return nil
}

// checkCancelRun: cancelling the context during a very long Run returns
// promptly (or the board finished the run sooner, as a fast simulator may).
func checkCancelRun(ctx context.Context, b hal.Board, cfg config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	d := max(cfg.longRun, 1000*in.Tau)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(cfg.cancelAfter, cancel)
	defer timer.Stop()
	start := time.Now()
	err := b.Run(cctx, d)
	el := time.Since(start)
	if err != nil && !errors.Is(err, context.Canceled) {
		return failf("Run(%v) with a context cancelled after %v: got %q, want nil or errors.Is(err, context.Canceled)",
			d, cfg.cancelAfter, err)
	}
	if limit := cfg.cancelAfter + 4*cfg.prompt; el > limit {
		return failf("Run(%v) with a context cancelled after %v returned after %v (err %v), want < %v",
			d, cfg.cancelAfter, el, err, limit)
	}
	if err := smoke(ctx, b); err != nil {
		return failf("board unusable after a cancelled Run: %w", err)
	}
	return nil
}

// checkPreCancelled: Run and Sample with an already cancelled context return
// its error at once.
func checkPreCancelled(ctx context.Context, b hal.Board, cfg config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	k := in.Cells
	// Ask for samples worth about 4·prompt, so that ignoring the context shows.
	sized := cfg
	sized.target = 4 * cfg.prompt
	n, _, err := cancelSize(ctx, b, sized)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var errs []error
	start := time.Now()
	err = b.Run(cctx, tauSpan(in, 10, 1))
	if el := time.Since(start); el > cfg.prompt {
		errs = append(errs, failf("Run with a cancelled context took %v, want < %v", el, cfg.prompt))
	}
	errs = append(errs, wantIs("Run(10τ) with a cancelled context", err, context.Canceled))

	dst := make([]float64, n*k)
	start = time.Now()
	got, err := b.Sample(cctx, 0, dst)
	if el := time.Since(start); el > cfg.prompt {
		errs = append(errs, failf("Sample(%d samples) with a cancelled context took %v, want < %v", n, el, cfg.prompt))
	}
	errs = append(errs, wantIs(fmtOp("Sample(%d samples) with a cancelled context", n), err, context.Canceled))
	if got < 0 || got >= n {
		errs = append(errs, failf("Sample(%d samples) with a cancelled context returned n = %d, want 0 ≤ n < %d", n, got, n))
	}
	return joinThenSmoke(ctx, b, errs)
}

// checkClose: Close is idempotent and every other method then fails with
// ErrClosed.
func checkClose(ctx context.Context, b hal.Board, _ config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	k := in.Cells
	v, err := safeBias(in)
	if err != nil {
		return err
	}
	if err := b.Close(); err != nil {
		return failf("first Close: %w", err)
	}
	if err := b.Close(); err != nil {
		return failf("second Close: %v (Close must be idempotent)", err)
	}
	n, serr := b.Sample(ctx, 0, make([]float64, k))
	errs := []error{
		wantIs("SetCouplings after Close", b.SetCouplings(ctx, identity(k, 1)), hal.ErrClosed),
		wantIs("SetBias after Close", b.SetBias(ctx, constant(k, v)), hal.ErrClosed),
		wantIs("SetState after Close", b.SetState(ctx, constant(k, v)), hal.ErrClosed),
		wantIs("Run after Close", b.Run(ctx, in.Tau), hal.ErrClosed),
		wantIs("Sample after Close", serr, hal.ErrClosed),
	}
	if n != 0 {
		errs = append(errs, failf("Sample after Close returned n = %d, want 0", n))
	}
	return errors.Join(errs...)
}

// checkADCRange: readings lie in the ADC range, also when the nodes start at
// either end of it.
func checkADCRange(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	v, err := safeBias(in)
	if err != nil {
		return err
	}
	if err := program(ctx, b, identity(k, 1), constant(k, v)); err != nil {
		return err
	}
	const n = 200
	dst := make([]float64, n*k)
	for _, x := range []float64{in.ADC.Max, in.ADC.Min, v} {
		if err := b.SetState(ctx, constant(k, x)); err != nil {
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
	if err := program(ctx, b, identity(k, c), constant(k, bias)); err != nil {
		return err
	}
	if err := b.SetState(ctx, constant(k, adcEnd)); err != nil {
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
	if err := program(ctx, b, identity(k, 1), lv); err != nil {
		return err
	}
	if err := b.SetState(ctx, lv); err != nil {
		return failf("SetState(%v): %w", lv, err)
	}
	return checkMeans(ctx, b, lv, 1, statCount(statPeriod(in, 1), cfg))
}

// checkReopen: a board opened again starts in the neutral state of hal's
// contract, A = I and b = 0, whatever the previous session left. The first
// session leaves A = c·I (c ≠ 1 when the coupling range allows) and the
// per-cell levels as bias; after reopening, the means must settle at 0
// (b = 0, for any stable A), then with the levels programmed as bias at
// the levels themselves (A = I; A = c·I would put them at levels/c).
func checkReopen(ctx context.Context, b hal.Board, cfg config) error {
	if cfg.reopen == nil {
		return skipf("no way to reopen the board")
	}
	in := b.Info()
	k := in.Cells
	lv, err := levels(in)
	if err != nil {
		return err
	}
	c := snapDown(math.Min(1.5, in.Coupling.Max), in.CouplingStep)
	if err := program(ctx, b, identity(k, c), lv); err != nil {
		return err
	}
	if err := b.Close(); err != nil {
		return failf("Close: %w", err)
	}
	b2 := cfg.reopen()
	n := statCount(statPeriod(in, 1), cfg)
	// b = 0 can be seen only where 0 V is readable: not on unipolar ranges,
	// whose readings at 0 saturate (there A = I is still checked below).
	if lo, hi, _ := window(in); lo < 0 && 0 < hi {
		if err := checkMeans(ctx, b2, make([]float64, k), 1, n); err != nil {
			return failf("reopened after a session that left A = %g·I and b = %.3g V: the means are not at b = 0 (was the bias kept?): %w", c, lv, err)
		}
	}
	if err := b2.SetBias(ctx, lv); err != nil {
		return failf("SetBias(valid vector %v): %w", lv, err)
	}
	if err := checkMeans(ctx, b2, lv, 1, n); err != nil {
		return failf("reopened after a session that left A = %g·I: with bias %.3g V the means are not at the bias (were the couplings kept instead of A = I?): %w", c, lv, err)
	}
	return nil
}
