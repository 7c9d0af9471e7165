package haltest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// window returns the voltages that both the bias DAC can produce and the ADC
// can read: the intersection of the two ranges.
func window(in hal.Info) (lo, hi float64, err error) {
	lo, hi = math.Max(in.Bias.Min, in.ADC.Min), math.Min(in.Bias.Max, in.ADC.Max)
	if !(lo < hi) {
		return 0, 0, skipf("bias range [%g, %g] V and ADC range [%g, %g] V do not overlap",
			in.Bias.Min, in.Bias.Max, in.ADC.Min, in.ADC.Max)
	}
	return lo, hi, nil
}

// safeBias returns a bias well inside both the bias and the ADC range: the
// centre of their intersection (0 for the usual symmetric ranges).
func safeBias(in hal.Info) (float64, error) {
	lo, hi, err := window(in)
	if err != nil {
		return 0, err
	}
	return (lo + hi) / 2, nil
}

// levels returns per-cell biases spread over the middle of the window,
// centre + f·half·s_i with s_i running linearly from +1 (cell 0) to −1
// (cell K−1), so that a mix-up of cells or of the sample layout shows up in
// the means. f is 0.5, reduced when needed to keep every level 6 stationary
// standard deviations (σ for A = I) inside the window.
func levels(in hal.Info) ([]float64, error) {
	lo, hi, err := window(in)
	if err != nil {
		return nil, err
	}
	centre, half := (lo+hi)/2, (hi-lo)/2
	f := math.Min(0.5, (half-6*in.Noise)/half)
	if f < 0 {
		f = 0
	}
	k := in.Cells
	b := make([]float64, k)
	for i := range b {
		s := 1.0
		if k > 1 {
			s = 1 - 2*float64(i)/float64(k-1)
		}
		b[i] = centre + f*half*s
	}
	return b, nil
}

// snapDown rounds |v| down to the coupling grid (keeping the sign); a zero
// step means continuous couplings.
func snapDown(v, step float64) float64 {
	if step <= 0 {
		return v
	}
	return math.Copysign(math.Floor(math.Abs(v)/step)*step, v)
}

// tauSpan returns n time constants of a cell whose diagonal coupling is c
// (its relaxation rate is c/τ).
func tauSpan(in hal.Info, n, c float64) time.Duration {
	return time.Duration(math.Ceil(n * float64(in.Tau) / c))
}

// programNeutral programs A = I and the safe bias v (safeBias) on every
// cell, the setting most checks start from, and returns v.
func programNeutral(ctx context.Context, b hal.Board, in hal.Info) (float64, error) {
	v, err := safeBias(in)
	if err != nil {
		return 0, err
	}
	if err := program(ctx, b, testnum.Identity(in.Cells, 1), testnum.Constant(in.Cells, v)); err != nil {
		return 0, err
	}
	return v, nil
}

// program sets couplings and bias.
func program(ctx context.Context, b hal.Board, a, bias []float64) error {
	if err := b.SetCouplings(ctx, a); err != nil {
		return failf("SetCouplings(valid matrix %v): %w", a, err)
	}
	if err := b.SetBias(ctx, bias); err != nil {
		return failf("SetBias(valid vector %v): %w", bias, err)
	}
	return nil
}

// forceAndRun forces the state to x and lets the board run for taus τ
// (at unit coupling).
func forceAndRun(ctx context.Context, b hal.Board, x []float64, taus float64) error {
	if err := b.SetState(ctx, x); err != nil {
		return failf("SetState(valid vector): %w", err)
	}
	if err := b.Run(ctx, tauSpan(b.Info(), taus, 1)); err != nil {
		return failf("Run(%gτ): %w", taus, err)
	}
	return nil
}

// joinThenSmoke returns the collected failures or, when there are none,
// checks that the board still works after what the check did to it.
func joinThenSmoke(ctx context.Context, b hal.Board, errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return smoke(ctx, b)
}

// smoke programs identity couplings and a safe bias, runs and samples: the
// board must work. Checks call it after rejected or cancelled calls.
func smoke(ctx context.Context, b hal.Board) error {
	in := b.Info()
	k := in.Cells
	v, err := programNeutral(ctx, b, in)
	if err != nil {
		return err
	}
	if err := forceAndRun(ctx, b, testnum.Constant(k, v), 5); err != nil {
		return err
	}
	const n = 10
	dst := make([]float64, n*k)
	got, err := b.Sample(ctx, 0, dst)
	if err != nil && !errors.Is(err, hal.ErrSaturated) {
		return failf("Sample(%d samples): %w", n, err)
	}
	if got != n {
		return failf("Sample(%d samples) returned n = %d", n, got)
	}
	return inRange(dst, in.ADC.Range)
}

// inRange checks that every reading is a number in r.
func inRange(dst []float64, r hal.Range) error {
	for j, v := range dst {
		if !r.Contains(v) {
			return failf("reading %d = %g V lies outside the ADC range [%g, %g] V", j, v, r.Min, r.Max)
		}
	}
	return nil
}

// wantIs checks that err matches target.
func wantIs(op string, err, target error) error {
	if err == nil {
		return failf("%s: got nil error, want %v", op, target)
	}
	if !errors.Is(err, target) {
		return failf("%s: got error %q, want one matching errors.Is(err, %v)", op, err, target)
	}
	return nil
}

// containsNumber reports whether s shows x in one of the usual formats.
func containsNumber(s string, x float64) bool {
	for _, f := range []string{"%g", "%v", "%.3g", "%.4g", "%.5g", "%.6g"} {
		if strings.Contains(s, fmt.Sprintf(f, x)) {
			return true
		}
	}
	return false
}

// wantRange checks that err is a *hal.RangeError for the entry (row, col)
// (col < 0: a vector entry; symmetric: (col, row) is accepted too) of the
// quantity what with value v and range r, and that its message shows the
// value and the range.
func wantRange(op string, err error, what string, row, col int, symmetric bool, v float64, r hal.Range) error {
	if err := wantIs(op, err, hal.ErrOutOfRange); err != nil {
		return err
	}
	var re *hal.RangeError
	if !errors.As(err, &re) {
		return failf("%s: error %q matches ErrOutOfRange but is not a *hal.RangeError", op, err)
	}
	if !strings.Contains(strings.ToLower(re.What), what) {
		return failf("%s: RangeError.What = %q, want it to name %q", op, re.What, what)
	}
	switch {
	case col < 0:
		if re.Row != row || re.Col >= 0 {
			return failf("%s: RangeError locates entry (Row %d, Col %d), want (Row %d, Col < 0)", op, re.Row, re.Col, row)
		}
	case re.Row == row && re.Col == col:
	case symmetric && re.Row == col && re.Col == row:
	default:
		return failf("%s: RangeError locates entry (Row %d, Col %d), want (%d, %d)", op, re.Row, re.Col, row, col)
	}
	if re.Value != v || re.Min != r.Min || re.Max != r.Max {
		return failf("%s: RangeError has Value %g in [%g, %g], want Value %g in [%g, %g]",
			op, re.Value, re.Min, re.Max, v, r.Min, r.Max)
	}
	msg := err.Error()
	for _, x := range []float64{v, r.Min, r.Max} {
		if !containsNumber(msg, x) {
			return failf("%s: message %q does not show %g (value %g, range [%g, %g])", op, msg, x, v, r.Min, r.Max)
		}
	}
	return nil
}

// statPeriod is the sample period of the statistical checks for a diagonal
// coupling c: at least 3 relaxation times (3τ/c) apart, so that successive
// samples are nearly independent.
func statPeriod(in hal.Info, c float64) time.Duration {
	return max(in.MinSamplePeriod, tauSpan(in, 3, c))
}

// statCount is the number of samples a statistical check takes at period p:
// cfg.budget of board time, but between 200 and 2000 samples.
func statCount(p time.Duration, cfg config) int {
	return min(max(int(cfg.budget/p), 200), 2000)
}

// checkMeans runs the board (programmed with couplings c·I and bias b) for
// 20 relaxation times, takes n samples spaced statPeriod apart and checks
// each cell's mean against its equilibrium want[i] = b_i/c.
//
// The tolerance of cell i is 5 standard errors plus a systematic allowance
// taken from Info alone:
//
//	σ_mean,i = sqrt((s_i²·(1+ρ)/(1−ρ) + lsb²/12) / N)
//	δ_i      = 0.02·(ADC.Max − ADC.Min)          bias-DAC and ADC offset and gain (uncalibrated: ~2 % FS)
//	         + 3·(ADC.LSB + Bias.LSB)            quantisation of the bias and of the readings
//	         + |want_i|·q/(1−q), q = step/(2c)   c rounded to the coupling grid (CouplingStep)
//	pass  ⇔  |mean_i − want_i| ≤ 5·σ_mean,i + δ_i
//
// where s_i² is the sample variance of cell i's readings, N the number of
// samples, lsb the ADC step (its quantisation variance lsb²/12 is added
// conservatively even though s_i² already contains it) and
// ρ = exp(−p·c/(1.5τ)) bounds the lag-one autocorrelation of samples p apart
// for cell time constants up to 1.5 τ (capacitor mismatch); (1+ρ)/(1−ρ) is
// the AR(1) variance inflation of a mean of correlated samples.
func checkMeans(ctx context.Context, b hal.Board, want []float64, c float64, n int) error {
	in := b.Info()
	k := in.Cells
	if err := b.Run(ctx, tauSpan(in, 20, c)); err != nil {
		return failf("Run(20τ): %w", err)
	}
	p := statPeriod(in, c)
	dst := make([]float64, n*k)
	got, err := b.Sample(ctx, p, dst)
	if err != nil {
		return failf("Sample(%d samples every %v) with every equilibrium well inside the ADC range: %w", n, p, err)
	}
	if got != n {
		return failf("Sample(%d samples) returned n = %d", n, got)
	}
	if err := inRange(dst, in.ADC.Range); err != nil {
		return err
	}
	rho := math.Exp(-p.Seconds() * c / (1.5 * in.Tau.Seconds()))
	inflate := (1 + rho) / (1 - rho)
	lsb := in.ADC.LSB()
	q := in.CouplingStep / (2 * c)
	var errs []error
	for i := range k {
		var sum float64
		for s := range n {
			sum += dst[s*k+i]
		}
		mean := sum / float64(n)
		var ss float64
		for s := range n {
			d := dst[s*k+i] - mean
			ss += d * d
		}
		s2 := ss / float64(n-1)
		se := math.Sqrt((s2*inflate + lsb*lsb/12) / float64(n))
		sys := 0.02*(in.ADC.Max-in.ADC.Min) + 3*(lsb+in.Bias.LSB())
		if q < 1 {
			sys += math.Abs(want[i]) * q / (1 - q)
		}
		tol := 5*se + sys
		if d := math.Abs(mean - want[i]); !(d <= tol) {
			errs = append(errs, failf("cell %d: mean of %d samples %.6g V, want %.6g V ± %.3g V (5·σ_mean = %.3g V, systematic %.3g V)",
				i, n, mean, want[i], tol, 5*se, sys))
		}
	}
	return errors.Join(errs...)
}

// cancelSize times 1000 samples at the minimum period and returns how many
// samples a call must request to take about cfg.target of wall time, capped
// so that dst stays within cfg.memCap, with the wall time expected for that
// many and the board time one sample takes (0 when the board keeps none).
func cancelSize(ctx context.Context, b hal.Board, cfg config) (n int, expected, boardPer time.Duration, err error) {
	in := b.Info()
	k := in.Cells
	const probe = 1000
	dst := make([]float64, probe*k)
	best := time.Duration(math.MaxInt64)
	t0, clocked := hal.BoardTime(b)
	for range 2 { // the first call may pay for warm-up; keep the faster
		start := time.Now()
		got, err := b.Sample(ctx, 0, dst)
		el := time.Since(start)
		if err != nil && !errors.Is(err, hal.ErrSaturated) {
			return 0, 0, 0, failf("Sample(%d samples): %w", probe, err)
		}
		if got != probe {
			return 0, 0, 0, failf("Sample(%d samples) returned n = %d", probe, got)
		}
		best = min(best, el)
	}
	if t1, _ := hal.BoardTime(b); clocked {
		boardPer = (t1 - t0) / (2 * probe)
	}
	per := max(best.Seconds()/probe, 1e-9)
	n = int(math.Ceil(cfg.target.Seconds() / per))
	n = max(min(n, cfg.memCap/(8*k)), probe)
	return n, time.Duration(float64(n) * per * float64(time.Second)), boardPer, nil
}

// fmtOp formats the description of an operation for a failure message.
func fmtOp(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// title capitalises the first letter of an ASCII word.
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
