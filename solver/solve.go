package solver

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/floats"
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
//     (Tiled solves larger problems in blocks);
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

// solve is Solve: a System prepared on a new Session (open), solved once.
func solve(ctx context.Context, b hal.Board, a mat.Matrix, rhs []float64, opts *Options) (*Result, error) {
	s, o, err := open(ctx, b, a, opts, false, "")
	if err != nil {
		return nil, err
	}
	return s.solve(ctx, rhs, o)
}

// solve runs one solve's phases: the checks of rhs and the timing
// (prepareSolve), the bias scale (scaleRHS), programming (start), the
// pilots that fit β to the ADC (pilots), the main sampling (sample) and the
// unscaled result (finish).
func (s *job) solve(ctx context.Context, rhs []float64, o *Options) (*Result, error) {
	res, err := s.prepareSolve(rhs, o)
	if err != nil {
		return nil, err
	}
	// Bias scale: b' = sb·u with u = rhs/mb, |u_i| ≤ 1, so that x' = (β/α)x
	// with β = sb/mb is computed without overflow for any finite rhs.
	mb := floats.Norm(rhs, math.Inf(1))
	if mb == 0 {
		// A is nonsingular, so x = 0 exactly; there is nothing to measure.
		s.notef("rhs = 0: x = 0 exactly (A is nonsingular); the board was not used")
		s.stamp(res)
		return res, nil
	}
	sc, err := s.scaleRHS(rhs, mb, o)
	if err != nil {
		return nil, err
	}
	if err := s.start(ctx, sc, o); err != nil {
		return nil, err
	}
	n := s.n
	mean, se := make([]float64, n), make([]float64, n)
	if o.Beta == 0 {
		if err := s.pilots(ctx, sc, o, res, mean, se); err != nil {
			return nil, err
		}
	}
	acc, err := s.sample(ctx, o, mean, se)
	if err != nil {
		return nil, err
	}
	return s.finish(res, sc, acc, mean, se)
}

// prepareSolve checks rhs and Warm, resolves the timing and returns the
// result with everything known before the board runs.
func (s *job) prepareSolve(rhs []float64, o *Options) (*Result, error) {
	n := s.n
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
	return &Result{
		X: make([]float64, n), StdErr: make([]float64, n),
		Batches: s.batches, Burn: s.burn, Period: s.period,
		Relaxation: taus(s.tau, 1/s.rate),
		Scale:      Scale{Alpha: s.sA / s.mA},
	}, nil
}

// stamp sets the result's times and notes.
func (s *job) stamp(res *Result) {
	res.BoardTime, res.Clocked, res.Wall = s.elapsed()
	res.Notes = s.notes
}

// rhsScale is the bias scaling of a right-hand side: b' = sb·u with
// u = rhs/mb (|u_i| ≤ 1), so β = sb/mb volts per problem unit.
type rhsScale struct {
	u      []float64
	mb, sb float64
	sMax   float64 // the largest sb the bias DAC allows
	sBound float64 // a proven safe sb (+Inf when unknown), see scaleRHS
}

// beta returns β = sb/mb.
func (r *rhsScale) beta() float64 { return r.sb / r.mb }

// toBoard returns γ = (β/α), the volts per problem unit of x: x' = γ·x.
func (s *job) toBoard(r *rhsScale) float64 { return (r.sb / s.sA) * (s.mA / r.mb) }

// setRHS programs the bias at the current scale.
func (s *job) setRHS(ctx context.Context, r *rhsScale) error {
	return s.sess.SetRHS(ctx, r.u, r.sb, s.toBoard(r))
}

// scaleRHS normalises rhs (max|rhs_i| = mb > 0) and picks the starting
// bias scale: the full bias range, or Options.Beta.
func (s *job) scaleRHS(rhs []float64, mb float64, o *Options) (*rhsScale, error) {
	n := s.n
	r := &rhsScale{u: make([]float64, n), mb: mb, sBound: math.Inf(1)}
	for i, v := range rhs {
		r.u[i] = v / mb
	}
	var err error
	r.sMax, err = rangeScale(r.u, s.info.Bias.Range, biasMargin, "rhs")
	if err != nil {
		return nil, err
	}
	r.sb = r.sMax
	if o.Beta > 0 {
		r.sb = o.Beta * mb
		bias := make([]float64, n)
		for i := range n {
			bias[i] = r.sb * r.u[i]
		}
		if err := hal.CheckVector("bias", bias, n, s.info.Bias.Range); err != nil {
			return nil, fmt.Errorf("options: Beta = %g: %w", o.Beta, err)
		}
	}
	// A proven bound on x' when the symmetric part of A' is positive
	// definite: ‖x'‖∞ ≤ ‖x'‖₂ ≤ ‖b'‖₂/μ. Used after a saturated pilot.
	if s.mu > 0 {
		nu := 0.0
		for _, v := range r.u {
			nu += v * v
		}
		r.sBound = meanTarget * s.sess.adc.span() * s.mu / math.Sqrt(nu)
	}
	return r, nil
}

// start programs the problem and forces the warm start, after checking
// that board volts convert back to finite problem units.
func (s *job) start(ctx context.Context, r *rhsScale, o *Options) error {
	// A volt on the board stands for 1/toBoard problem units; when
	// that overflows, no reading can be converted back into a finite x.
	if f := 1 / s.toBoard(r); math.IsInf(f, 0) {
		return overflow("one board volt stands for more than the largest float64 in problem units", s.mA, r.mb)
	}
	clipped, err := s.program(ctx, r.u, r.sb, s.toBoard(r), o.Warm)
	if err != nil {
		return err
	}
	if clipped && o.Warm != nil {
		s.notef("warm start clipped into the ADC range [%g, %g] V", s.sess.adc.r.Min, s.sess.adc.r.Max)
	}
	return nil
}

// pilots runs short samplings after the burn-in and re-scales the bias
// until the mean fits the ADC (see the package doc), leaving the last
// pilot's mean and standard error in mean and se.
func (s *job) pilots(ctx context.Context, r *rhsScale, o *Options, res *Result, mean, se []float64) error {
	prows := s.rows(taus(s.tau, max(pilotTaus, pilotCorr/s.rate)), pilotBatches)
	prows = max(prows, 2*pilotBatches)
	for try := 0; ; try++ {
		s.sess.ResetSaturation()
		pm := newMeans(s.n, pilotBatches, prows/pilotBatches)
		if err := s.sess.Stream(ctx, s.period, pm.remaining(), pm.add); err != nil {
			return fmt.Errorf("pilot %d: %w", try+1, err)
		}
		pm.stats(mean, se)
		p := s.pilot(r, mean, se)
		res.Pilots = append(res.Pilots, p)
		next := s.nextScale(r, p, se, mean)
		if next == r.sb {
			return nil
		}
		if try >= o.MaxRetries {
			s.notef("gave up re-scaling the bias after %d retries (last pilot: peak %.2g of full scale, %d saturated readings)",
				try, p.Peak, p.Saturated)
			if p.Saturated > 0 {
				s.notef("saturation persisted at every bias scale: the realised couplings may be unstable (A' is nearly singular: λ_min of its symmetric part is %.3g/τ, and coupling errors can push it below zero) or the noise may be too large for the ADC range", s.mu)
			}
			return nil
		}
		res.Retries++
		ratio := next / r.sb
		r.sb = next
		if err := s.setRHS(ctx, r); err != nil {
			return fmt.Errorf("re-scaling bias (retry %d): %w", res.Retries, err)
		}
		// The mean scales with the bias: start from the rescaled estimate.
		state := make([]float64, s.n)
		for i := range state {
			state[i] = ratio * mean[i]
		}
		if err := s.restart(ctx, state); err != nil {
			return fmt.Errorf("retry %d: %w", res.Retries, err)
		}
	}
}

// pilot summarises a pilot's mean: its peak as a fraction of the ADC's
// full scale, and the saturated readings.
func (s *job) pilot(r *rhsScale, mean, se []float64) Pilot {
	peak := 0.0
	for i := range s.n {
		peak = math.Max(peak, s.sess.adc.frac(mean[i]))
	}
	return Pilot{Beta: r.beta(), Peak: peak, Saturated: s.sess.Saturated()}
}

// nextScale returns the bias scale the next pilot should run at; r.sb
// when the pilot p fits.
func (s *job) nextScale(r *rhsScale, p Pilot, se, mean []float64) float64 {
	peakHi := 0.0
	for i := range s.n {
		peakHi = math.Max(peakHi, s.sess.adc.frac(mean[i]+math.Copysign(3*se[i], mean[i])))
	}
	sb := r.sb
	switch {
	case p.Saturated > 0 && r.sBound < 0.99*sb:
		return r.sBound
	case p.Saturated > 0 && p.Peak >= meanTarget:
		return sb / 8
	case p.Saturated > 0:
		return sb / 2
	case p.Peak > meanCeiling:
		return sb * meanTarget / p.Peak
	case peakHi < meanFloor && sb < 0.99*r.sMax:
		return math.Min(r.sMax, sb*meanTarget/math.Max(peakHi, 1e-300))
	}
	return sb
}

// sample runs the main sampling, doubling it while Tol is unmet, and
// leaves the mean and standard error in mean and se.
func (s *job) sample(ctx context.Context, o *Options, mean, se []float64) (*means, error) {
	rows := s.rows(s.duration, s.batches)
	acc := newMeans(s.n, s.batches, rows/s.batches)
	s.sess.ResetSaturation()
	maxRows := rows
	if o.Tol > 0 {
		md := o.MaxDuration
		if md == 0 {
			md = 64 * s.duration
		}
		maxRows = max(rows, int(math.Min(float64(md)/float64(s.period), math.MaxInt/4)))
	}
	for {
		if err := s.sess.Stream(ctx, s.period, acc.remaining(), acc.add); err != nil {
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
	return acc, nil
}

// finish unscales the mean and its error bars into res.
func (s *job) finish(res *Result, r *rhsScale, acc *means, mean, se []float64) (*Result, error) {
	s.sess.Unscale(res.X, mean)
	s.sess.Unscale(res.StdErr, se)
	if err := finiteResult(res.X, res.StdErr, s.mA, r.mb); err != nil {
		return nil, err
	}
	res.Scale.Beta = r.beta()
	res.Samples = acc.samples()
	res.Duration = s.period * timeMul(res.Samples)
	res.Saturated = s.sess.Saturated()
	s.stamp(res)
	if res.Saturated > 0 {
		return res, fmt.Errorf("final sampling: %w", s.sess.SaturationError(res.Samples))
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
