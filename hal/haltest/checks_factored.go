package haltest

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// factoredChecks is the suite RunFactored runs: a board that takes its
// couplings in factored form (hal.Factored) and may refuse dense ones
// (sim:tngd does, with hal.ErrUnsupported) is checked through
// SetFactoredCouplings instead of SetCouplings.
var factoredChecks = []struct {
	name string
	fn   checkFunc
}{
	{"Info", checkFactoredInfo},
	{"Errors", checkFactoredErrors},
	{"Equilibrium", checkFactoredEquilibrium},
	{"Clock", checkFactoredClock},
	{"SampleArgs", checkSampleArgs},
	{"Stream", checkStream},
	{"Close", checkFactoredClose},
}

// RunFactored runs the conformance suite of hal.Factored boards as
// subtests of t, opening boards with open as Run does. Every check fails
// on a board without the capability.
func RunFactored(t *testing.T, open func(t *testing.T) hal.Board) {
	t.Helper()
	for _, c := range factoredChecks {
		t.Run(c.name, func(t *testing.T) {
			runCheck(t, open, c.fn, defaultConfig)
		})
	}
}

// factored returns b as hal.Factored.
func factored(b hal.Board) (hal.Factored, error) {
	fb, ok := b.(hal.Factored)
	if !ok {
		return nil, failf("%T does not implement hal.Factored", b)
	}
	return fb, nil
}

// pairCoupling is A = λI + a·uuᵀ with u = e₀ + e₁ (J one row [1, 1], H =
// [a], scale 1): cells 0 and 1 coupled by a, the others at λ. Its inverse
// on the 2 × 2 block is [[λ+a, −a], [−a, λ+a]] / (λ(λ+2a)).
func pairCoupling(lambda, a float64) *hal.Factorization {
	return &hal.Factorization{
		J: hal.Jacobian{Rows: 1, Cols: 2, RowsPerSample: 1,
			Blocks: []hal.JacobianBlock{{Col: 0, Out: 1, In: 2, Signal: []float64{1}, Input: []float64{1, 1}}}},
		H: []float64{a}, Scale: 1, Lambda: lambda,
	}
}

// pairEquilibrium returns A⁻¹b for pairCoupling(lambda, a).
func pairEquilibrium(lambda, a float64, b []float64) []float64 {
	x := make([]float64, len(b))
	for i, v := range b {
		x[i] = v / lambda
	}
	det := lambda * (lambda + 2*a)
	x[0] = ((lambda+a)*b[0] - a*b[1]) / det
	x[1] = (-a*b[0] + (lambda+a)*b[1]) / det
	return x
}

// checkFactoredInfo: Info is valid and stable, with at least the two
// cells the other checks couple, and SetFactoredCouplings takes the
// neutral A = I.
func checkFactoredInfo(ctx context.Context, b hal.Board, _ config) error {
	fb, err := factored(b)
	if err != nil {
		return err
	}
	in := b.Info()
	if err := in.Validate(); err != nil {
		return failf("Info().Validate(): %w", err)
	}
	if in.Cells < 2 {
		return failf("Info().Cells = %d: a factored board couples at least 2 cells", in.Cells)
	}
	if err := fb.SetFactoredCouplings(ctx, pairCoupling(1, 0)); err != nil {
		return failf("SetFactoredCouplings(A = I): %w", err)
	}
	if again := b.Info(); again != in {
		return failf("Info() changed after programming: %+v, then %+v", in, again)
	}
	return nil
}

// checkFactoredErrors: malformed factorizations are refused with the
// contract's sentinels (nil or NaN: ErrInvalid; wrong sizes:
// ErrDimension; λ ≤ 0: ErrUnstable), and a refused call changes nothing:
// the board still settles at the equilibrium of what was programmed
// before them.
func checkFactoredErrors(ctx context.Context, b hal.Board, cfg config) error {
	fb, err := factored(b)
	if err != nil {
		return err
	}
	in := b.Info()
	const lambda, a = 1.0, 0.5
	bias, err := levels(in)
	if err != nil {
		return err
	}
	if err := fb.SetFactoredCouplings(ctx, pairCoupling(lambda, a)); err != nil {
		return failf("SetFactoredCouplings(λ = %g, a = %g): %w", lambda, a, err)
	}
	if err := b.SetBias(ctx, bias); err != nil {
		return failf("SetBias(levels): %w", err)
	}
	bad := func(edit func(f *hal.Factorization)) *hal.Factorization {
		f := pairCoupling(2*lambda, 0)
		edit(f)
		return f
	}
	errs := []error{
		wantIs("SetFactoredCouplings(nil)", fb.SetFactoredCouplings(ctx, nil), hal.ErrInvalid),
		wantIs("SetFactoredCouplings with 0 rows", fb.SetFactoredCouplings(ctx, bad(func(f *hal.Factorization) { f.J.Rows = 0 })), hal.ErrDimension),
		wantIs(fmtOp("SetFactoredCouplings with %d columns on %d cells", in.Cells+1, in.Cells),
			fb.SetFactoredCouplings(ctx, bad(func(f *hal.Factorization) { f.J.Cols = in.Cells + 1 })), hal.ErrDimension),
		wantIs("SetFactoredCouplings with 2 H entries for one 1×1 block",
			fb.SetFactoredCouplings(ctx, bad(func(f *hal.Factorization) { f.H = []float64{1, 1} })), hal.ErrDimension),
		wantIs("SetFactoredCouplings with H[0] = NaN", fb.SetFactoredCouplings(ctx, bad(func(f *hal.Factorization) { f.H[0] = math.NaN() })), hal.ErrInvalid),
		wantIs("SetFactoredCouplings with λ = 0", fb.SetFactoredCouplings(ctx, bad(func(f *hal.Factorization) { f.Lambda = 0 })), hal.ErrUnstable),
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return factoredMeans(ctx, b, pairEquilibrium(lambda, a, bias), lambda, cfg, "after refused SetFactoredCouplings calls")
}

// factoredMeans is checkMeans for a factored A whose slowest mode is
// lambda, with the memory of the samples bounded for large boards.
func factoredMeans(ctx context.Context, b hal.Board, want []float64, lambda float64, cfg config, when string) error {
	in := b.Info()
	n := min(statCount(statPeriod(in, lambda), cfg), (1<<22)/in.Cells)
	if n < 200 {
		return skipf("%d cells: too many for the means of 200 samples in 32 MiB", in.Cells)
	}
	if err := checkMeans(ctx, b, want, lambda, n); err != nil {
		return failf("%s: %w", when, err)
	}
	return nil
}

// checkFactoredEquilibrium: with A = λI + a·uuᵀ coupling cells 0 and 1
// and per-cell biases, the means settle at A⁻¹b (checkMeans's tolerance,
// with λ, the slowest mode, for the relaxation and the autocorrelation),
// and a decoupled board (a = 0) at b/λ — so the coupling is realised,
// with the right sign and cells.
func checkFactoredEquilibrium(ctx context.Context, b hal.Board, cfg config) error {
	fb, err := factored(b)
	if err != nil {
		return err
	}
	bias, err := levels(b.Info())
	if err != nil {
		return err
	}
	if err := b.SetBias(ctx, bias); err != nil {
		return failf("SetBias(levels): %w", err)
	}
	for _, a := range []float64{0.5, 0} {
		const lambda = 1.0
		if err := fb.SetFactoredCouplings(ctx, pairCoupling(lambda, a)); err != nil {
			return failf("SetFactoredCouplings(λ = %g, a = %g): %w", lambda, a, err)
		}
		if err := factoredMeans(ctx, b, pairEquilibrium(lambda, a, bias), lambda, cfg, fmtOp("A = I + %g·uuᵀ", a)); err != nil {
			return err
		}
	}
	return nil
}

// checkFactoredClock: a board that keeps board time accounts for at least
// the time it ran and sampled after factored programming.
func checkFactoredClock(ctx context.Context, b hal.Board, _ config) error {
	fb, err := factored(b)
	if err != nil {
		return err
	}
	t0, ok := hal.BoardTime(b)
	if !ok {
		return skipf("%T keeps no board time (hal.BoardTime)", b)
	}
	in := b.Info()
	if err := fb.SetFactoredCouplings(ctx, pairCoupling(1, 0.5)); err != nil {
		return failf("SetFactoredCouplings: %w", err)
	}
	d := tauSpan(in, 10, 1)
	if err := b.Run(ctx, d); err != nil {
		return failf("Run(%v): %w", d, err)
	}
	const n = 50
	p := max(in.MinSamplePeriod, in.Tau)
	if got, err := b.Sample(ctx, p, make([]float64, n*in.Cells)); err != nil && !errors.Is(err, hal.ErrSaturated) || got != n {
		return failf("Sample(%d samples every %v) = %d, %v", n, p, got, err)
	}
	t1, ok := hal.BoardTime(b)
	if !ok {
		return failf("BoardTime() stopped reporting a clock it reported at open")
	}
	if want := d + (n-1)*p; t1-t0 < want {
		return failf("programming, Run(%v) and %d samples every %v advanced BoardTime() by %v, want ≥ %v", d, n, p, t1-t0, want)
	}
	return nil
}

// checkSampleArgs: Sample refuses a length that is not a positive
// multiple of the cells (hal.ErrDimension, n = 0) and a period below the
// minimum (*hal.RangeError), and accepts period 0.
func checkSampleArgs(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	k := in.Cells
	var errs []error
	for _, l := range []int{0, k + 1} {
		n, err := b.Sample(ctx, 0, make([]float64, l))
		errs = append(errs, wantIs(fmtOp("Sample(%d values) on a %d-cell board", l, k), err, hal.ErrDimension))
		if n != 0 {
			errs = append(errs, failf("Sample(%d values) returned n = %d, want 0", l, n))
		}
	}
	if in.MinSamplePeriod > time.Nanosecond {
		_, err := b.Sample(ctx, in.MinSamplePeriod/2, make([]float64, k))
		var re *hal.RangeError
		if !errors.As(err, &re) {
			errs = append(errs, failf("Sample every %v, below the minimum %v: %v, want a *hal.RangeError", in.MinSamplePeriod/2, in.MinSamplePeriod, err))
		}
	}
	if n, err := b.Sample(ctx, 0, make([]float64, 2*k)); err != nil && !errors.Is(err, hal.ErrSaturated) || n != 2 {
		errs = append(errs, failf("Sample(2 samples, period 0) = %d, %v", n, err))
	}
	return errors.Join(errs...)
}

// checkFactoredClose: Close is idempotent and every method afterwards,
// SetFactoredCouplings included, is hal.ErrClosed.
func checkFactoredClose(ctx context.Context, b hal.Board, _ config) error {
	fb, err := factored(b)
	if err != nil {
		return err
	}
	k := b.Info().Cells
	errs, err := closeTwice(ctx, b)
	if err != nil {
		return err
	}
	errs = append(errs,
		wantIs("SetFactoredCouplings after Close", fb.SetFactoredCouplings(ctx, pairCoupling(1, 0)), hal.ErrClosed),
		wantIs("SetBias after Close", b.SetBias(ctx, testnum.Constant(k, 0)), hal.ErrClosed),
		wantIs("Run after Close", b.Run(ctx, b.Info().Tau), hal.ErrClosed),
	)
	return errors.Join(errs...)
}
