package solver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"

	"github.com/spukit/spukit/hal"
)

// ErrNotConverged is returned, wrapped, with the result when an iterative
// method (Refine, Tiled) stopped before reaching its tolerance; the message
// says why.
var ErrNotConverged = errors.New("did not converge")

// DefaultMaxRounds bounds Refine's rounds when RefineOptions.MaxRounds is
// zero: at the per-solve error ρ ≤ 0.5 that refinement needs to be worth
// it, 50 rounds reach 10⁻¹⁵ from 1.
const DefaultMaxRounds = 50

// The budget of an inexact board solve (a refinement's correction, a tiled
// solve's block), see InexactOptions.
const (
	inexactBatches = 10   // batches of the error bars Tol is checked against
	inexactCorr    = 10   // relaxation times per batch
	inexactTol     = 0.01 // normwise relative standard error to reach
	inexactGrowth  = 16   // MaxDuration = inexactGrowth·Duration
)

// InexactOptions returns the sampling budget of the board solves that an
// outer iteration corrects — Refine's corrections and Tiled's block solves:
// 10 batches of 10 relaxation times 1/r each (Duration = 100·Relaxation(),
// Solve's default is 1000 and at least 2000τ), sampling doubled until the
// normwise relative standard error is ≤ 0.01 (Tol), at most 16 times as
// long (MaxDuration). Burn-in and Period are Solve's defaults.
//
// Why: an outer iteration only needs each inner solve's error to be well
// below 1 (a correction with relative error ρ contracts the residual by
// ρ, see Refine), and that requirement is the same every round because
// every right-hand side is scaled to the full bias range on its own. A
// statistical error of 0.01 keeps ρ ≲ 0.1 with room for the board's
// systematic errors (coupling quantisation and tolerance, 10⁻³ … 10⁻²),
// which no sampling removes, so sampling longer would not make rounds
// contract faster. Ten batches of ten relaxation times are about the
// shortest reading whose batch means are independent enough for the Tol
// check to mean something; on the simulator's boards their statistical
// error (≈ 10⁻³) is already below Tol, so the burn-in and pilots are a
// large part of a correction's cost.
func (s *System) InexactOptions() *Options {
	relax := 1 / s.rate
	d := taus(s.tau, inexactBatches*inexactCorr*relax)
	return &Options{Duration: d, Batches: inexactBatches, Tol: inexactTol, MaxDuration: inexactGrowth * d}
}

// RefineOptions tune Refine. The zero value asks for Tol = 0, which is an
// error: the tolerance is always the caller's.
type RefineOptions struct {
	// Tol is the relative residual ‖b − A x‖₂/‖b‖₂ to reach, in [1e-15, 1).
	Tol float64
	// MaxRounds bounds the rounds, the first solve included; zero selects
	// DefaultMaxRounds.
	MaxRounds int
	// First tunes the first solve (nil: Solve's defaults).
	First *Options
	// Correction tunes every correction (nil: the System's InexactOptions).
	Correction *Options
}

// Round is one round of Refine: a board solve and the update of x.
type Round struct {
	// Residual is ‖b − A x‖₂/‖b‖₂ after the round (float64).
	Residual float64
	// Rho is the round's contraction, Residual over the residual before
	// it (1 before the first solve): the relative residual of the round's
	// board solve, its per-solve error.
	Rho float64
	// Duration is the board time the round's solve sampled, BoardTime
	// the board time it took in all (burn-in and pilots included).
	Duration, BoardTime time.Duration
	// Pilots and Saturated are the round's pilot runs and saturated
	// readings in its final sampling.
	Pilots, Saturated int
}

// Refinement is the outcome of Refine.
type Refinement struct {
	// X is the refined solution (the last accepted round's).
	X []float64
	// Residual is ‖b − A X‖₂/‖b‖₂.
	Residual float64
	// Rounds lists every round, rejected ones included; Rounds[0] is the
	// first solve.
	Rounds []Round
	// Converged says Residual ≤ Tol; otherwise Stalled says why not.
	Converged bool
	Stalled   string
	// First is the first solve's result (its scale, samples and pilots).
	First *Result
	// Correction is the budget of the corrections.
	Correction Options
	// Usage is the board time and programmings of the whole refinement.
	Usage Usage
	// Notes are the system's notes and the first solve's.
	Notes []string
}

// Refine solves A x = b to a relative residual Tol by iterative
// refinement with the board as the low-precision solver (mixed-precision
// refinement): x₀ is the board's solution of A x = b; then, each round,
// r = b − A x in float64, the board solves A d = r — scaled on its own, so
// that r fills the bias range however small it has become — and x ← x + d.
// If the board solves each system with relative residual ρ (its per-solve
// error: ‖r − A d̂‖ ≤ ρ‖r‖), the residual shrinks by ρ per round; the
// rounds' measured ρ are in the result. A is programmed once (by the first
// solve); corrections use RefineOptions.Correction (default
// InexactOptions).
//
// Refine stops when the residual is ≤ Tol (Converged), or returns the
// result so far with an error wrapping ErrNotConverged when a round did
// not contract (ρ ≥ 1: the board's error on this system is too large for
// refinement, or the residual reached float64 round-off — the message
// says which; that round is rejected), when a round's final sampling
// saturated (also wrapping the *hal.SaturationError; the round is
// rejected), or after MaxRounds. Bad input (b's length or entries, Tol
// outside [1e-15, 1), a bad option) is an error before the board is
// touched; board and context errors are returned as they are, with a nil
// result. The residual uses the System's copy of A (symmetrised to within
// 10⁻¹² relative on a hal.Symmetric board).
func Refine(ctx context.Context, sys *System, b []float64, o *RefineOptions) (*Refinement, error) {
	res, err := refine(ctx, sys, b, o)
	if err != nil {
		err = fmt.Errorf("solver: refine: %w", err)
	}
	return res, err
}

func refine(ctx context.Context, sys *System, b []float64, o *RefineOptions) (*Refinement, error) {
	if sys == nil || o == nil {
		return nil, fmt.Errorf("nil system or options: %w", hal.ErrInvalid)
	}
	if err := vector("b", b, sys.n); err != nil {
		return nil, err
	}
	if !(o.Tol >= 1e-15 && o.Tol < 1) {
		return nil, fmt.Errorf("tolerance %g: want a relative residual in [1e-15, 1): %w", o.Tol, hal.ErrInvalid)
	}
	if o.MaxRounds < 0 {
		return nil, fmt.Errorf("MaxRounds = %d, want ≥ 0 (0: %d): %w", o.MaxRounds, DefaultMaxRounds, hal.ErrInvalid)
	}
	maxRounds := cmp.Or(o.MaxRounds, DefaultMaxRounds)
	corr := o.Correction
	if corr == nil {
		corr = sys.InexactOptions()
	}
	u0 := sys.sess.Usage()
	n := sys.n
	ref := &Refinement{X: make([]float64, n), Residual: 1, Correction: *corr}
	nb := floats.Norm(b, 2)
	if nb == 0 {
		ref.Residual, ref.Converged = 0, true
		ref.Notes = append(sys.Notes(), "b = 0: x = 0 exactly (A is nonsingular); the board was not used")
		return ref, nil
	}
	r := append([]float64(nil), b...)
	xn, rn := make([]float64, n), make([]float64, n)
	var stall error
	for k := 0; ; k++ {
		if k == maxRounds {
			stall = fmt.Errorf("%d rounds (MaxRounds) left the relative residual at %.3g, above %g", k, ref.Residual, o.Tol)
			break
		}
		opts := corr
		if k == 0 {
			opts = o.First
		}
		rd, d, err := sys.round(ctx, r, opts)
		if err != nil && !errors.Is(err, hal.ErrSaturated) {
			return nil, fmt.Errorf("round %d: %w", k, err)
		}
		if k == 0 && d != nil {
			ref.First = d
			ref.Notes = d.Notes
		}
		// x + d and its residual, in float64.
		floats.AddTo(xn, ref.X, d.X)
		sys.residual(rn, xn, b)
		rd.Residual = floats.Norm(rn, 2) / nb
		rd.Rho = rd.Residual / ref.Residual
		ref.Rounds = append(ref.Rounds, rd)
		if err != nil {
			stall = fmt.Errorf("round %d's final sampling saturated (%d readings; the round is rejected): %w", k, rd.Saturated, err)
			break
		}
		if rd.Rho >= 1 {
			stall = sys.stalled(k, rd, ref.X, b, nb)
			break
		}
		copy(ref.X, xn)
		copy(r, rn)
		ref.Residual = rd.Residual
		if ref.Residual <= o.Tol {
			ref.Converged = true
			break
		}
	}
	ref.Usage = sys.sess.Usage().Sub(u0)
	if stall != nil {
		ref.Stalled = stall.Error()
		return ref, fmt.Errorf("%w: %w", ErrNotConverged, stall)
	}
	return ref, nil
}

// round solves A d = r on the board; a saturated final sampling returns the
// result with its error.
func (s *System) round(ctx context.Context, r []float64, o *Options) (Round, *Result, error) {
	res, err := s.Solve(ctx, r, o)
	if res == nil {
		return Round{}, nil, err
	}
	return Round{Duration: res.Duration, BoardTime: res.BoardTime, Pilots: len(res.Pilots), Saturated: res.Saturated}, res, err
}

// stalled explains a round k that did not contract (rd.Rho ≥ 1) from x:
// the float64 round-off of the residual, or the board's per-solve error.
func (s *System) stalled(k int, rd Round, x, b []float64, nb float64) error {
	// The computed r = b − A x carries round-off of about
	// n·ε·(‖A‖·‖x‖ + ‖b‖); below a few times that, no solver contracts it.
	floor := float64(s.n) * 0x1p-52 * (floats.Norm(s.a, 2)*floats.Norm(x, 2) + nb) / nb
	before := rd.Residual / rd.Rho
	if before <= 10*floor {
		return fmt.Errorf("round %d did not reduce the relative residual %.3g (ρ = %.3g): it is at the float64 round-off floor of b − A x (≈ %.2g); ask for a tolerance above it",
			k, before, rd.Rho, floor)
	}
	return fmt.Errorf("round %d's board solve has relative residual ρ = %.3g ≥ 1 (residual %.3g → %.3g; the round is rejected): the board's per-solve error on this system is too large for refinement — calibrate the board, precondition or rescale A, or sample longer (RefineOptions.Correction)",
		k, rd.Rho, before, rd.Residual)
}

// residual writes dst = b − A x for the system's A, in float64.
func (s *System) residual(dst, x, b []float64) {
	copy(dst, b)
	n := s.n
	blas64.Gemv(blas.NoTrans, -1, blas64.General{Rows: n, Cols: n, Stride: n, Data: s.a},
		blas64.Vector{N: n, Inc: 1, Data: x}, 1, blas64.Vector{N: n, Inc: 1, Data: dst})
}
