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

// System is a problem matrix A prepared once for a board's Session:
// validated (finite, square, fits the board, stable, still stable once
// rounded to the board's coupling step), scaled into the coupling range
// (A' = αA, see Scaling in the package doc) and with its relaxation rate
// estimated, from which the default times derive. It is then solved for
// any number of right-hand sides (Solve), each with its own bias scaling
// and sampling budget. A is programmed on the board by the first Solve and
// again only when something else programmed the session in between (a
// System of another block, TNGD), so a run of solves on one System costs
// one programming.
//
// Solve (the package function) is Prepare on a new Session followed by one
// System.Solve. A System is not safe for concurrent use, like its Session.
type System struct {
	sess *Session
	info hal.Info
	n    int
	tau  time.Duration

	a      []float64 // n×n problem matrix (problem units)
	u      []float64 // a/mA: what is programmed, at scale sA
	mA, sA float64   // A' = (sA/mA)·A

	mu, rate float64 // smallest eigenvalue of sym(A'), rate used (1/τ)
	proven   bool
	notes    []string // remarks on A (conditioning, quantisation)
}

// Prepare validates the n × n matrix A for the session's board and scales
// it; the board is not touched (A is programmed by the first Solve). It
// costs O(n³) (the stability and relaxation checks) and returns the errors
// Solve documents for A: hal.ErrInvalid (nil context or session, a NaN or
// Inf entry), hal.ErrDimension (not square, or n above the board's cells),
// hal.ErrUnstable, hal.ErrUnsupported (an asymmetric A on a hal.Symmetric
// board, a board without dense couplings), hal.ErrOutOfRange (signs the
// coupling range cannot represent).
func Prepare(ctx context.Context, sess *Session, a mat.Matrix) (*System, error) {
	sys, err := prepare(ctx, sess, a, false, "")
	if err != nil {
		return nil, fmt.Errorf("solver: prepare: %w", err)
	}
	return sys, nil
}

// prepare is Prepare; requireSym demands a symmetric A whatever the
// board's topology (Inverse), and symHint is appended to that error. These
// checks explain a refusal before the board is touched and give the
// relaxation rate the default times derive from.
func prepare(ctx context.Context, sess *Session, a mat.Matrix, requireSym bool, symHint string) (*System, error) {
	if ctx == nil {
		return nil, fmt.Errorf("nil context: %w", hal.ErrInvalid)
	}
	if sess == nil {
		return nil, fmt.Errorf("nil session: %w", hal.ErrInvalid)
	}
	data, n, err := square(a)
	if err != nil {
		return nil, err
	}
	s := &System{sess: sess, info: sess.info, n: n, tau: sess.info.Tau, a: data}
	// Before anything K × K is allocated: the board may not take a dense
	// matrix at all, or one of its size would not fit in memory.
	if err := sess.checkDense(n); err != nil {
		return nil, err
	}
	if requireSym || s.info.Topology == hal.Symmetric {
		if ok, i, j := symmetrise(s.a, n); !ok {
			why := fmt.Sprintf("board %s is symmetric", s.info.Model)
			if requireSym {
				why = symHint
			}
			return nil, fmt.Errorf("A[%d][%d] = %g but A[%d][%d] = %g: %s: %w",
				i, j, s.a[i*n+j], j, i, s.a[j*n+i], why, hal.ErrUnsupported)
		}
	}
	if err := s.scale(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Size returns n, the size of A.
func (s *System) Size() int { return s.n }

// Session returns the session the system was prepared for.
func (s *System) Session() *Session { return s.sess }

// Relaxation returns τ/r, the estimated slowest relaxation time of the
// scaled A' (Result.Relaxation).
func (s *System) Relaxation() time.Duration { return taus(s.tau, 1/s.rate) }

// Notes returns the remarks on A that every result of the system carries
// (conditioning, coupling quantisation).
func (s *System) Notes() []string { return append([]string(nil), s.notes...) }

// Solve estimates x = A⁻¹rhs on the system's board, as the package
// function Solve does with the same options (nil: every default); see
// there for the method, the result and the errors about rhs, the options
// and the board. The defaults' times derive from the system's relaxation
// rate; Result.BoardTime is this call's share of the session's board time.
func (s *System) Solve(ctx context.Context, rhs []float64, opts *Options) (*Result, error) {
	w0 := time.Now()
	if ctx == nil {
		return nil, fmt.Errorf("solver: solve: nil context: %w", hal.ErrInvalid)
	}
	o, err := options(opts)
	if err != nil {
		return nil, fmt.Errorf("solver: solve: %w", err)
	}
	res, err := newJob(s, w0).solve(ctx, rhs, o)
	if err != nil {
		err = fmt.Errorf("solver: solve: %w", err)
	}
	return res, err
}

func (s *System) notef(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// program programs A' on the session unless the session holds it already
// (it was the last problem programmed there).
func (s *System) program(ctx context.Context) error {
	if s.sess.owner == s {
		return nil
	}
	if err := s.sess.ProgramDense(ctx, s.u, s.n, s.sA); err != nil {
		return err
	}
	s.sess.owner = s
	return nil
}

// scale normalises A (u = A/mA), checks that it is stable, picks the
// coupling scale sA and estimates the relaxation of A' = sA·u, checking
// that the board's coupling step keeps it stable.
func (s *System) scale(ctx context.Context) error {
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

// programmable checks that A' stays stable once rounded to the board's
// coupling step (q, at distance dq = ‖q − A'‖_F), as the board will round
// it: an A' whose smallest eigenvalue is below the rounding error of its
// entries turns singular or unstable, and the board would refuse it with
// a bare eigenvalue ("eigenvalue 0+0i") that does not say why.
func (s *System) programmable(q []float64, dq float64) error {
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
func (s *System) quantNote(dq float64) {
	if !(s.mu > 0) {
		return
	}
	if e := dq / s.mu; e > 1e-3 {
		s.notef("coupling quantisation (step %.3g/τ) perturbs A' by ‖ΔA'‖_F = %.3g; expect relative errors up to about %.2g from it",
			s.info.CouplingStep, dq, e)
	}
}
