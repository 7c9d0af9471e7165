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

// job is one call of Solve or Inverse: a problem validated for a board's
// Session, with the solver's policies — the relaxation estimate behind the
// default times, the resolved timing options and the notes for the result.
type job struct {
	sess *Session
	info hal.Info
	n    int
	tau  time.Duration
	w0   time.Time

	a      []float64 // n×n problem matrix (problem units)
	u      []float64 // a/mA: what is programmed, at scale sA
	mA, sA float64   // A' = (sA/mA)·A

	mu, rate float64 // smallest eigenvalue of sym(A'), rate used (1/τ)
	proven   bool

	burn, duration, period time.Duration
	batches                int
	notes                  []string
}

func (s *job) notef(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// open validates everything that does not depend on the right-hand side and
// scales A. requireSym demands a symmetric A whatever the board's topology
// (Inverse); symHint is appended to that error. These checks cost O(n³);
// they explain a refusal before the board is touched and give the
// relaxation rate the default times derive from.
func open(ctx context.Context, b hal.Board, a mat.Matrix, opts *Options, requireSym bool, symHint string) (*job, *Options, error) {
	w0 := time.Now()
	if ctx == nil {
		return nil, nil, fmt.Errorf("nil context: %w", hal.ErrInvalid)
	}
	if err := nilBoard(b); err != nil {
		return nil, nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := checkOptions(&o); err != nil {
		return nil, nil, err
	}
	data, n, err := square(a)
	if err != nil {
		return nil, nil, err
	}
	sess, err := NewSession(b)
	if err != nil {
		return nil, nil, err
	}
	s := &job{sess: sess, info: sess.info, n: n, tau: sess.info.Tau, a: data, w0: w0}
	// Before anything K × K is allocated: the board may not take a dense
	// matrix at all, or one of its size would not fit in memory.
	if err := sess.checkDense(n); err != nil {
		return nil, nil, err
	}
	if requireSym || s.info.Topology == hal.Symmetric {
		if ok, i, j := symmetrise(s.a, n); !ok {
			why := fmt.Sprintf("board %s is symmetric", s.info.Model)
			if requireSym {
				why = symHint
			}
			return nil, nil, fmt.Errorf("A[%d][%d] = %g but A[%d][%d] = %g: %s: %w",
				i, j, s.a[i*n+j], j, i, s.a[j*n+i], why, hal.ErrUnsupported)
		}
	}
	if err := s.scale(ctx); err != nil {
		return nil, nil, err
	}
	return s, &o, nil
}

// scale normalises A (u = A/mA), checks that it is stable, picks the
// coupling scale sA and estimates the relaxation of A' = sA·u, checking
// that the board's coupling step keeps it stable.
func (s *job) scale(ctx context.Context) error {
	n := s.n
	s.mA = floats.Norm(s.a, math.Inf(1))
	s.u = make([]float64, n*n)
	for i, v := range s.a {
		if s.mA > 0 {
			s.u[i] = v / s.mA
		}
	}
	if err := stable(s.a, s.u, n, s.mA); err != nil {
		return err
	}
	// The eigendecompositions here are O(n³) (seconds at n = 4096): look
	// at ctx between them.
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	s.sA, err = s.sess.CouplingScale(s.u, false)
	if err != nil {
		return err
	}
	an := make([]float64, n*n)
	scaleInto(an, n, s.u, n, s.sA)
	s.mu, s.rate, s.proven = relaxation(an, n)
	if err := ctx.Err(); err != nil {
		return err
	}
	if step := s.info.CouplingStep; step > 0 {
		// The board rounds A' to its coupling step: round it once here,
		// for the check that the rounded matrix is still stable and for
		// the note on the error the rounding causes.
		q, dq := quantise(an, step)
		if err := s.programmable(q, dq); err != nil {
			return err
		}
		s.quantNote(dq)
	}
	if s.mu > 0 {
		f := 0.0
		for _, v := range an {
			f += v * v
		}
		if c := math.Sqrt(f) / s.mu; c > 100 {
			s.notef("A is ill-conditioned (‖A'‖_F/λ_min(sym A') = %.3g): relative coupling errors ε of an uncalibrated board can perturb x by up to about %.3g·ε, which the statistical error bars do not include", c, c)
		}
	}
	return nil
}

// stable checks that the n×n A (a, and u = a/mA) has every eigenvalue's
// real part > 0. Stability is invariant under positive scaling; A itself
// is tested when its scale is tame so that the message names A's own
// eigenvalue.
func stable(a, u []float64, n int, mA float64) error {
	if mA > 1e-100 && mA < 1e100 {
		return hal.Stable(a, n)
	}
	if err := hal.Stable(u, n); err != nil {
		return fmt.Errorf("A/%g: %w", mA, err)
	}
	return nil
}

func checkOptions(o *Options) error {
	switch {
	case o.Duration < 0:
		return fmt.Errorf("options: Duration %v is negative: %w", o.Duration, hal.ErrInvalid)
	case o.Period < 0:
		return fmt.Errorf("options: Period %v is negative: %w", o.Period, hal.ErrInvalid)
	case o.MaxDuration < 0:
		return fmt.Errorf("options: MaxDuration %v is negative: %w", o.MaxDuration, hal.ErrInvalid)
	case o.Batches < 0 || o.Batches == 1:
		return fmt.Errorf("options: Batches = %d, want 0 (default %d) or ≥ 2: %w", o.Batches, DefaultBatches, hal.ErrInvalid)
	case o.MaxRetries < 0:
		return fmt.Errorf("options: MaxRetries = %d, want ≥ 0: %w", o.MaxRetries, hal.ErrInvalid)
	case !(o.Tol >= 0) || math.IsInf(o.Tol, 0):
		return fmt.Errorf("options: Tol = %g, want a finite value ≥ 0: %w", o.Tol, hal.ErrInvalid)
	case !(o.Beta >= 0) || math.IsInf(o.Beta, 0):
		return fmt.Errorf("options: Beta = %g, want a finite value ≥ 0 (0: automatic): %w", o.Beta, hal.ErrInvalid)
	}
	if o.Batches == 0 {
		o.Batches = DefaultBatches
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	return nil
}

// quantise returns a rounded to multiples of step, as a board with that
// coupling step programs it, and the rounding's Frobenius norm ‖q − a‖_F.
func quantise(a []float64, step float64) (q []float64, dq float64) {
	q = make([]float64, len(a))
	for i, v := range a {
		q[i] = math.Round(v/step) * step
		dq += (q[i] - v) * (q[i] - v)
	}
	return q, math.Sqrt(dq)
}

// programmable checks that A' stays stable once rounded to the board's
// coupling step (q, at distance dq = ‖q − A'‖_F), as the board will round
// it: an A' whose smallest eigenvalue is below the rounding error of its
// entries turns singular or unstable, and the board would refuse it with
// a bare eigenvalue ("eigenvalue 0+0i") that does not say why.
func (s *job) programmable(q []float64, dq float64) error {
	// Weyl: λ_min(sym q) ≥ λ_min(sym A') − ‖sym(q − A')‖₂ ≥ s.mu − dq, so
	// a margin above the rounding proves q stable with no factorisation.
	if s.proven && s.mu > dq {
		return nil
	}
	// Else a positive-definite symmetric part still proves stability at
	// the cost of a Cholesky factorisation; only the rest needs the
	// eigenvalues.
	n := s.n
	var ch mat.Cholesky
	if ch.Factorize(symPart(q, n)) || hal.Stable(q, n) == nil {
		return nil
	}
	step := s.info.CouplingStep
	res := fmt.Sprintf("step %.3g/τ", step)
	span := math.Max(s.info.Coupling.Max, -s.info.Coupling.Min)
	if bits := math.Log2(span/step + 1); math.Abs(bits-math.Round(bits)) < 1e-6 {
		res = fmt.Sprintf("%d-bit", int(math.Round(bits)))
	}
	return fmt.Errorf("A is too ill-conditioned to program with %s couplings (condition number %.3g): rounding each entry of the scaled A to the step %.3g/τ makes it singular or unstable; "+
		"precondition the problem or use a board with finer couplings: %w",
		res, mat.Cond(mat.NewDense(n, n, append([]float64(nil), s.a...)), 2), step, hal.ErrUnstable)
}

// quantNote notes the effect of coupling quantisation when it is likely to
// matter: ‖ΔA'‖_F/μ (dq = ‖ΔA'‖_F) bounds the relative error it causes in
// x to first order.
func (s *job) quantNote(dq float64) {
	if !(s.mu > 0) {
		return
	}
	if e := dq / s.mu; e > 1e-3 {
		s.notef("coupling quantisation (step %.3g/τ) perturbs A' by ‖ΔA'‖_F = %.3g; expect relative errors up to about %.2g from it",
			s.info.CouplingStep, dq, e)
	}
}

// timing resolves Burn, Duration, Period and Batches; minTaus and corr are
// the default duration's floor in τ and its length in relaxation times per
// batch.
func (s *job) timing(o *Options, minTaus, corr float64) error {
	s.batches = o.Batches
	relax := 1 / s.rate
	switch {
	case o.Burn < 0:
		s.burn = 0
	case o.Burn > 0:
		s.burn = o.Burn
	default:
		c := 1.5
		if !s.proven {
			c = 3
			s.notef("the symmetric part of A' is not positive definite (λ_min = %.3g): the default burn-in uses the spectral abscissa %.3g/τ with a safety factor 3 and is a heuristic for this non-normal A",
				s.mu, s.rate)
		}
		s.burn = taus(s.tau, max(burnMinTaus, c*(math.Log(burnDecay)+0.5*math.Log(float64(s.n)))*relax))
	}
	s.duration = o.Duration
	if s.duration == 0 {
		s.duration = taus(s.tau, max(minTaus, corr*float64(s.batches)*relax))
	}
	if o.Period != 0 {
		p, err := hal.SamplePeriod(s.info, o.Period)
		if err != nil {
			return fmt.Errorf("options: %w", err)
		}
		s.period = p
	} else {
		s.period = max(s.info.MinSamplePeriod, time.Duration(math.Ceil(float64(s.duration)/DefaultMaxSamples)))
	}
	return nil
}

// rows returns the number of samples for duration d at the session's
// period, rounded up to a positive multiple of batches.
func (s *job) rows(d time.Duration, batches int) int {
	r := int(math.Ceil(float64(d) / float64(s.period)))
	r = max(r, batches)
	return (r + batches - 1) / batches * batches
}

// batchNote remarks on batches that are short compared with the relaxation
// time, where batch means are correlated and error bars optimistic.
func (s *job) batchNote(size int) {
	per := float64(size) * float64(s.period) / (float64(s.tau) / s.rate)
	if per < 10 {
		s.notef("each batch spans only %.2g relaxation times (τ/r = %v): the error bars may be optimistic; sample longer",
			per, taus(s.tau, 1/s.rate))
	}
}

// program programs A' = sA·u, the bias beta·r (state scale gamma) and
// the state gamma·x (x nil: 0 V), then burns in. It reports whether the
// state had to be clipped into the ADC range.
func (s *job) program(ctx context.Context, r []float64, beta, gamma float64, x []float64) (clipped bool, err error) {
	if err := s.sess.ProgramDense(ctx, s.u, s.n, s.sA); err != nil {
		return false, err
	}
	if err := s.sess.SetRHS(ctx, r, beta, gamma); err != nil {
		return false, err
	}
	if clipped, err = s.sess.Force(ctx, x); err != nil {
		return clipped, err
	}
	return clipped, s.burnIn(ctx)
}

// restart forces the state to v volts and burns in.
func (s *job) restart(ctx context.Context, v []float64) error {
	if _, err := s.sess.ForceVolts(ctx, v); err != nil {
		return err
	}
	return s.burnIn(ctx)
}

func (s *job) burnIn(ctx context.Context) error {
	if s.burn > 0 {
		if err := s.sess.Relax(ctx, s.burn); err != nil {
			return fmt.Errorf("burn-in: %w", err)
		}
	}
	return nil
}

// elapsed returns the board time (from hal.Clock if available, else wall
// time), whether it came from the clock, and the wall time of the call.
// Without a clock the board time is the whole call's wall time, validation
// included, as Result.BoardTime documents.
func (s *job) elapsed() (board time.Duration, clocked bool, wall time.Duration) {
	wall = time.Since(s.w0)
	if u := s.sess.Usage(); u.Clocked {
		return u.BoardTime, true, wall
	}
	return wall, false, wall
}
