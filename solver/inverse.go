package solver

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// InverseResult is the outcome of Inverse. Matrices are n×n, in problem
// units.
type InverseResult struct {
	// Inv is the estimate of A⁻¹, symmetric.
	Inv *mat.Dense
	// StdErr holds the element-wise batch-means standard errors of Inv
	// (statistical only; the board's noise σ is taken from Info.Noise).
	StdErr *mat.Dense

	// Scale is the scaling into board units (Beta is 0: no bias).
	Scale Scale
	// Samples, Batches, Burn, Duration, Period, Relaxation, BoardTime,
	// Clocked, Wall, Saturated and Notes are as in Result.
	Samples, Batches       int
	Burn, Duration, Period time.Duration
	Relaxation             time.Duration
	BoardTime              time.Duration
	Clocked                bool
	Wall                   time.Duration
	Saturated              int
	Notes                  []string
}

// Inverse estimates A⁻¹ for a symmetric positive-definite n×n A on board b,
// n ≤ b.Info().Cells, from the stationary covariance of the node voltages.
// With A' = αA programmed and zero bias, the covariance is Σ' = σ²A'⁻¹
// whatever the cells' time constants, so A⁻¹ = α·Σ'/σ², where σ is
// b.Info().Noise. A nil opts selects every default; Warm, Tol, MaxDuration,
// Beta and MaxRetries do not apply.
//
// Errors (errors.Is) before the board is touched: hal.ErrDimension,
// hal.ErrInvalid and hal.ErrUnstable as for Solve (a symmetric A that is not
// positive definite is unstable); hal.ErrUnsupported when A is not
// symmetric (solve column by column with Solve instead) or the board does
// not inject calibrated noise (no hal.CapNoise or Info.Noise = 0);
// hal.ErrOutOfRange when A is so small that A⁻¹ overflows float64 (checked
// again after sampling: a result that is not finite is never returned). Board
// and context errors are returned wrapped with a nil result. If sampling
// saturated, Inverse returns the result and an error wrapping a
// *hal.SaturationError: the covariance is then underestimated.
func Inverse(ctx context.Context, b hal.Board, a mat.Matrix, opts *Options) (*InverseResult, error) {
	res, err := inverse(ctx, b, a, opts)
	if err != nil {
		err = fmt.Errorf("solver: inverse: %w", err)
	}
	return res, err
}

func inverse(ctx context.Context, b hal.Board, a mat.Matrix, opts *Options) (*InverseResult, error) {
	s, o, err := open(ctx, b, a, opts, true,
		"the covariance method needs a symmetric A; for a general A call Solve once per column of the identity")
	if err != nil {
		return nil, err
	}
	sigma := s.info.Noise
	if !s.info.Caps.Has(hal.CapNoise) || !(sigma > 0) {
		return nil, fmt.Errorf("board %s does not inject calibrated noise (caps %v, noise %g V), so its covariance carries no inverse: %w",
			s.info.Model, s.info.Caps, sigma, hal.ErrUnsupported)
	}
	if a := s.sA / s.mA; math.IsInf(a, 0) {
		return nil, fmt.Errorf("A⁻¹ overflows float64: max|A_ij| = %g is too small (the scale into the board's range, %g/τ per problem unit, is not finite); multiply A by a common factor: %w",
			s.mA, a, hal.ErrOutOfRange)
	}
	if err := s.timing(o, DefaultInverseTaus, batchCorrInv); err != nil {
		return nil, err
	}
	n := s.n
	if _, err := s.program(ctx, nil, 0, 1, nil); err != nil {
		return nil, err
	}
	rows := s.rows(s.duration, s.batches)
	acc := newCovs(n, s.batches, rows/s.batches)
	s.batchNote(acc.size)
	if err := s.sess.Stream(ctx, s.period, acc.remaining(), acc.add); err != nil {
		return nil, fmt.Errorf("sampling: %w", err)
	}
	cov, se := make([]float64, n*n), make([]float64, n*n)
	acc.stats(cov, se)
	// A⁻¹ = α Σ'/σ² with α = sA/mA, applied in an order that cannot
	// overflow for tame inputs.
	for i := range cov {
		cov[i] = cov[i] / (sigma * sigma) * s.sA / s.mA
		se[i] = se[i] / (sigma * sigma) * s.sA / s.mA
	}
	if i := firstNonFinite(cov, se); i >= 0 {
		return nil, fmt.Errorf("A⁻¹[%d][%d] = %g ± %g overflows float64 (max|A_ij| = %g); multiply A by a common factor: %w",
			i/n, i%n, cov[i], se[i], s.mA, hal.ErrOutOfRange)
	}
	res := &InverseResult{
		Inv: mat.NewDense(n, n, cov), StdErr: mat.NewDense(n, n, se),
		Scale:   Scale{Alpha: s.sA / s.mA},
		Samples: acc.samples(), Batches: s.batches,
		Burn: s.burn, Period: s.period, Duration: s.period * timeMul(acc.samples()),
		Relaxation: taus(s.tau, 1/s.rate),
		Saturated:  s.sess.Saturated(),
	}
	res.BoardTime, res.Clocked, res.Wall = s.elapsed()
	res.Notes = s.notes
	if res.Saturated > 0 {
		return res, fmt.Errorf("sampling: %w", s.sess.SaturationError(res.Samples))
	}
	return res, nil
}
