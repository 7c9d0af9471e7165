package solver

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// job is one run of a System: a Solve (one right-hand side) or an
// Inverse, with the solver's run policies — the resolved timing options and
// the notes for the result. The problem's own part (validation, scaling,
// relaxation estimate) is the embedded System, prepared once.
type job struct {
	*System
	w0 time.Time // wall clock at the start of the call
	u0 Usage     // the session's usage at the start of the run

	burn, duration, period time.Duration
	batches                int
	notes                  []string
}

// newJob starts a run of sys; w0 is when the caller's call began. The run's
// notes start with the system's.
func newJob(sys *System, w0 time.Time) *job {
	return &job{System: sys, w0: w0, u0: sys.sess.Usage(), notes: append([]string(nil), sys.notes...)}
}

func (s *job) notef(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// open validates everything that does not depend on the right-hand side,
// on a new Session of board b, and scales A (see prepare). requireSym
// demands a symmetric A whatever the board's topology (Inverse); symHint is
// appended to that error.
func open(ctx context.Context, b hal.Board, a mat.Matrix, opts *Options, requireSym bool, symHint string) (*job, *Options, error) {
	w0 := time.Now()
	if ctx == nil {
		return nil, nil, fmt.Errorf("nil context: %w", hal.ErrInvalid)
	}
	if err := nilBoard(b); err != nil {
		return nil, nil, err
	}
	o, err := options(opts)
	if err != nil {
		return nil, nil, err
	}
	sess, err := NewSession(b)
	if err != nil {
		return nil, nil, err
	}
	sys, err := prepare(ctx, sess, a, requireSym, symHint)
	if err != nil {
		return nil, nil, err
	}
	return newJob(sys, w0), o, nil
}

// options copies opts (nil: the defaults) and checks the copy.
func options(opts *Options) (*Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := checkOptions(&o); err != nil {
		return nil, err
	}
	return &o, nil
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

// program programs A' = sA·u unless the session holds it already (see
// System.program), the bias beta·r (state scale gamma) and the state
// gamma·x (x nil: 0 V), then burns in. It reports whether the
// state had to be clipped into the ADC range.
func (s *job) program(ctx context.Context, r []float64, beta, gamma float64, x []float64) (clipped bool, err error) {
	if err := s.System.program(ctx); err != nil {
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
	if u := s.sess.Usage().Sub(s.u0); u.Clocked {
		return u.BoardTime, true, wall
	}
	return wall, false, wall
}
