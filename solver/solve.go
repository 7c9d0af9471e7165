package solver

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// Solve estimates x = A⁻¹ rhs on board b by programming the scaled problem,
// letting the board relax and averaging its node voltages. A is n×n with
// n ≤ b.Info().Cells; rhs and opts.Warm have length n. A nil opts selects
// every default (see Options). The returned X and StdErr have length n and
// are in problem units.
//
// A must be stable (every eigenvalue with a positive real part); it need not
// be symmetric or normal on a board of hal.General topology. The method,
// the scaling and the error bars are described in the package doc.
//
// Errors, tested with errors.Is, are returned before the board is touched:
//   - hal.ErrDimension if A is not square or empty, len(rhs) ≠ n,
//     len(opts.Warm) ≠ n (when set), or n exceeds the board's cells
//     (tiling is not implemented yet);
//   - hal.ErrInvalid for a nil board, context or matrix, a NaN or Inf entry
//     in A, rhs or opts.Warm (the message names it), or a bad option;
//   - hal.ErrUnstable if A has an eigenvalue with non-positive real part;
//   - hal.ErrUnsupported for an asymmetric A on a hal.Symmetric board, or
//     a board the solver cannot program with a dense K × K matrix (one
//     that takes only factored couplings, hal.Factored, or has more than
//     MaxDenseCells cells), checked before anything of the board's size
//     is allocated;
//   - hal.ErrOutOfRange for a Period below the board minimum, a fixed
//     opts.Beta whose bias does not fit, signs the board's ranges cannot
//     represent, or an x beyond the float64 range (A so small relative to
//     b that x overflows: a result that is not finite is never returned).
//
// Errors from the board (hal.ErrClosed, hal.ErrDisconnected, …) and from ctx
// (context.Canceled, context.DeadlineExceeded) are returned wrapped with a
// nil Result. If the final sampling saturated, Solve returns the Result
// (with Saturated > 0) and an error wrapping a *hal.SaturationError
// (hal.ErrSaturated): the estimate is then biased by the clipped readings.
func Solve(ctx context.Context, b hal.Board, a mat.Matrix, rhs []float64, opts *Options) (*Result, error) {
	res, err := solve(ctx, b, a, rhs, opts)
	if err != nil {
		err = fmt.Errorf("solver: solve: %w", err)
	}
	return res, err
}

func solve(ctx context.Context, b hal.Board, a mat.Matrix, rhs []float64, opts *Options) (*Result, error) {
	s, o, err := open(ctx, b, a, opts, false, "")
	if err != nil {
		return nil, err
	}
	n, k := s.n, s.k
	if err := vector("rhs", rhs, n); err != nil {
		return nil, err
	}
	if o.Warm != nil {
		if err := vector("Warm", o.Warm, n); err != nil {
			return nil, err
		}
	}
	if o.Tol > 0 && o.Batches%2 == 1 {
		o.Batches++
		s.notef("Batches rounded up to %d: doubling for Tol needs an even number", o.Batches)
	}
	if err := s.timing(o, DefaultSolveTaus, batchCorr); err != nil {
		return nil, err
	}
	res := &Result{
		X: make([]float64, n), StdErr: make([]float64, n),
		Batches: s.batches, Burn: s.burn, Period: s.period,
		Relaxation: taus(s.tau, 1/s.rate),
		Scale:      Scale{Alpha: s.sA / s.mA},
	}
	finish := func() {
		res.BoardTime, res.Clocked, res.Wall = s.elapsed()
		res.Notes = s.notes
	}

	// Bias scale: b' = sb·u with u = rhs/mb, |u_i| ≤ 1, so that x' = (β/α)x
	// with β = sb/mb is computed without overflow for any finite rhs.
	mb := maxAbs(rhs)
	if mb == 0 {
		// A is nonsingular, so x = 0 exactly; there is nothing to measure.
		s.notef("rhs = 0: x = 0 exactly (A is nonsingular); the board was not used")
		finish()
		return res, nil
	}
	u := make([]float64, n)
	for i, v := range rhs {
		u[i] = v / mb
	}
	sMax, err := rangeScale(u, s.info.Bias.Range, biasMargin, "rhs")
	if err != nil {
		return nil, err
	}
	sb := sMax
	if o.Beta > 0 {
		sb = o.Beta * mb
		bias := make([]float64, n)
		for i := range n {
			bias[i] = sb * u[i]
		}
		if err := hal.CheckVector("bias", bias, n, s.info.Bias.Range); err != nil {
			return nil, fmt.Errorf("options: Beta = %g: %w", o.Beta, err)
		}
	}
	// A proven bound on x' when the symmetric part of A' is positive
	// definite: ‖x'‖∞ ≤ ‖x'‖₂ ≤ ‖b'‖₂/μ. Used after a saturated pilot.
	sBound := math.Inf(1)
	if s.mu > 0 {
		nu := 0.0
		for _, v := range u {
			nu += v * v
		}
		sBound = meanTarget * s.adc.span() * s.mu / math.Sqrt(nu)
	}
	bias := func() []float64 {
		v := make([]float64, n)
		for i := range n {
			v[i] = sb * u[i]
		}
		return s.padBias(v)
	}
	// x' = (β/α)·x = toBoard·x; x = x'/toBoard.
	toBoard := func() float64 { return (sb / s.sA) * (s.mA / mb) }

	// A volt on the board stands for 1/toBoard() problem units; when
	// that overflows, no reading can be converted back into a finite x.
	if f := 1 / toBoard(); math.IsInf(f, 0) {
		return nil, overflow("one board volt stands for more than the largest float64 in problem units", s.mA, mb)
	}
	state := make([]float64, k)
	if o.Warm != nil {
		f := toBoard()
		for i, v := range o.Warm {
			if state[i] = f * v; math.IsNaN(state[i]) {
				state[i] = 0 // 0·Inf when rhs is subnormal
			}
		}
	}
	if s.adc.clip(state) && o.Warm != nil {
		s.notef("warm start clipped into the ADC range [%g, %g] V", s.adc.r.Min, s.adc.r.Max)
	}
	if err := s.program(ctx, bias(), state); err != nil {
		return nil, err
	}

	rd := newReader(b, k, n, s.period)
	mean, se := make([]float64, n), make([]float64, n)
	if o.Beta == 0 {
		prows := s.rows(taus(s.tau, max(pilotTaus, pilotCorr/s.rate)), pilotBatches)
		prows = max(prows, 2*pilotBatches)
		for try := 0; ; try++ {
			rd.reset()
			pm := newMeans(n, pilotBatches, prows/pilotBatches)
			if err := rd.read(ctx, pm.remaining(), pm.add); err != nil {
				return nil, fmt.Errorf("pilot %d: %w", try+1, err)
			}
			pm.stats(mean, se)
			peak, peakHi := 0.0, 0.0
			for i := range n {
				peak = math.Max(peak, s.adc.frac(mean[i]))
				peakHi = math.Max(peakHi, s.adc.frac(mean[i]+math.Copysign(3*se[i], mean[i])))
			}
			sat := rd.saturated()
			res.Pilots = append(res.Pilots, Pilot{Beta: sb / mb, Peak: peak, Saturated: sat})
			next := sb
			switch {
			case sat > 0 && sBound < 0.99*sb:
				next = sBound
			case sat > 0 && peak >= meanTarget:
				next = sb / 8
			case sat > 0:
				next = sb / 2
			case peak > meanCeiling:
				next = sb * meanTarget / peak
			case peakHi < meanFloor && sb < 0.99*sMax:
				next = math.Min(sMax, sb*meanTarget/math.Max(peakHi, 1e-300))
			}
			if next == sb {
				break
			}
			if try >= o.MaxRetries {
				s.notef("gave up re-scaling the bias after %d retries (last pilot: peak %.2g of full scale, %d saturated readings)",
					try, peak, sat)
				if sat > 0 {
					s.notef("saturation persisted at every bias scale: the realised couplings may be unstable (A' is nearly singular: λ_min of its symmetric part is %.3g/τ, and coupling errors can push it below zero) or the noise may be too large for the ADC range", s.mu)
				}
				break
			}
			res.Retries++
			r := next / sb
			sb = next
			if err := b.SetBias(ctx, bias()); err != nil {
				return nil, fmt.Errorf("re-scaling bias (retry %d): %w", res.Retries, err)
			}
			// The mean scales with the bias: start from the rescaled estimate.
			clear(state)
			for i := range n {
				state[i] = r * mean[i]
			}
			s.adc.clip(state)
			if err := s.restart(ctx, state); err != nil {
				return nil, fmt.Errorf("retry %d: %w", res.Retries, err)
			}
		}
	}

	// Main sampling, doubling while Tol is unmet.
	rows := s.rows(s.duration, s.batches)
	acc := newMeans(n, s.batches, rows/s.batches)
	rd.reset()
	maxRows := rows
	if o.Tol > 0 {
		md := o.MaxDuration
		if md == 0 {
			md = 64 * s.duration
		}
		maxRows = max(rows, int(math.Min(float64(md)/float64(s.period), math.MaxInt/4)))
	}
	for {
		if err := rd.read(ctx, acc.remaining(), acc.add); err != nil {
			return nil, fmt.Errorf("sampling: %w", err)
		}
		acc.stats(mean, se)
		if !(o.Tol > 0) || relErr(mean, se) <= o.Tol {
			break
		}
		if 2*acc.samples() > maxRows {
			s.notef("Tol %g not reached: relative standard error %.3g after %v of sampling (MaxDuration)",
				o.Tol, relErr(mean, se), s.period*timeMul(acc.samples()))
			break
		}
		acc.double()
	}
	s.batchNote(acc.size)

	f := 1 / toBoard()
	for i := range n {
		res.X[i] = mean[i] * f
		res.StdErr[i] = se[i] * f
	}
	if err := finiteResult(res.X, res.StdErr, s.mA, mb); err != nil {
		return nil, err
	}
	res.Scale.Beta = sb / mb
	res.Samples = acc.samples()
	res.Duration = s.period * timeMul(res.Samples)
	res.Saturated = rd.saturated()
	finish()
	if res.Saturated > 0 {
		return res, fmt.Errorf("final sampling: %w", saturation(rd, res.Samples))
	}
	return res, nil
}

// overflow is the error for a solution beyond the float64 range; what
// says how it showed.
func overflow(what string, maxA, maxB float64) error {
	return fmt.Errorf("x overflows float64 (%s): A is too small for b (max|A_ij| = %g, max|b_i| = %g, and |x| can reach max|b_i|/λ_min(A)); "+
		"divide b, or multiply A, by a common factor: %w", what, maxA, maxB, hal.ErrOutOfRange)
}

// finiteResult refuses an estimate or error bar that is not finite: a
// result that overflowed is an error, never a number.
func finiteResult(x, se []float64, maxA, maxB float64) error {
	if i := firstNonFinite(x, se); i >= 0 {
		return overflow(fmt.Sprintf("x[%d] = %g ± %g", i, x[i], se[i]), maxA, maxB)
	}
	return nil
}

// firstNonFinite returns the first index i at which v[i] or se[i] is NaN
// or ±Inf, or -1 when every estimate and its error bar are finite.
func firstNonFinite(v, se []float64) int {
	for i := range v {
		if math.IsInf(v[i], 0) || math.IsNaN(v[i]) || math.IsInf(se[i], 0) || math.IsNaN(se[i]) {
			return i
		}
	}
	return -1
}

// timeMul converts a count for multiplying a Duration.
func timeMul(n int) time.Duration { return time.Duration(n) }
