package optim

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// Defaults of the tiled mapping (docs/solving.md, "TNGD on a small
// board", has the measurements behind them).
const (
	// DefaultTileTol is the relative residual of the dual system at which
	// a step's outer iteration stops. On MNIST (784-32-10, batch 64,
	// λ = 0.01) 10⁻³ trains as ngd-cg does to within the test set's
	// standard error; 10⁻² loses 0.14 in test accuracy at iteration 60,
	// and 10⁻⁴ gains nothing for 1.5× the board time.
	DefaultTileTol = 1e-3
	// DefaultTileIter bounds the outer iterations per step, capping a
	// step's board time when the tolerance is not met; at the default
	// tolerance the MNIST runs stop by it well before 30.
	DefaultTileIter = 30
)

// checkTiled checks the options of the tiled mapping.
func (o TNGDOptions) checkTiled() error {
	switch {
	case !(o.TileTol >= 1e-15 && o.TileTol < 1):
		return fmt.Errorf("tngd: tiled: tolerance %g: want 1e-15 ≤ tol < 1: %w", o.TileTol, hal.ErrInvalid)
	case o.TileIter < 1:
		return fmt.Errorf("tngd: tiled: %d outer iterations: want ≥ 1: %w", o.TileIter, hal.ErrInvalid)
	case o.Delay > 0:
		// Between steps the board holds the last block of the previous
		// system, not the system: there is nothing for t_d to mean.
		return fmt.Errorf("tngd: tiled: delay %gτ: the tiled mapping has no delay (want 0): %w", o.Delay, hal.ErrInvalid)
	}
	return nil
}

// dualSystem returns the dense m × m dual matrix λI + G of the iteration
// (row-major) and m.
func dualSystem(it *Iteration) ([]float64, int) {
	gm := it.DualGram()
	m := gm.SymmetricDim()
	a := make([]float64, m*m)
	for i := range m {
		for j := range m {
			a[i*m+j] = gm.At(i, j)
		}
		a[i*m+i] += it.Lambda
	}
	return a, m
}

// tiledDirection is Direction for MapTiled: the dual system (λI + G) y =
// U g, m = batch × outputs, solved by solver.Tiled — flexible CG in
// float64 with the board solving the diagonal blocks, each run for t from
// zero (solver.System.TimedOptions) — to TileTol or TileIter outer
// iterations, then d = (g − Uᵀy)/λ. Every step starts from y = 0: y is
// indexed by the batch's examples, which change every step, so the
// previous step's y is no guess for this one. st.Iterations counts the
// outer iterations, st.Residual is the dual system's relative residual.
func (o *TNGD) tiledDirection(ctx context.Context, it *Iteration, st *StepStats) ([]float64, StepStats, error) {
	if !(it.Lambda > 0) {
		return nil, *st, fmt.Errorf("tngd: tiled: λ = %g, want > 0 (the dual back-map divides by λ): %w", it.Lambda, hal.ErrInvalid)
	}
	a, m := dualSystem(it)
	rhs := make([]float64, m)
	it.U(rhs, it.Grad)
	res, err := solver.Tiled(ctx, o.sess, mat.NewDense(m, m, a), rhs, &solver.TileOptions{
		Tol: o.opts.TileTol, MaxIter: o.opts.TileIter, Method: solver.MethodFCG,
		T: o.opts.T, Window: o.opts.Window,
	})
	if err != nil && !errors.Is(err, solver.ErrNotConverged) {
		return nil, *st, fmt.Errorf("tngd: %w", err)
	}
	o.started = true
	st.Iterations = res.Krylov.Iterations
	st.Residual = res.Krylov.Residual
	if math.IsNaN(st.Residual) {
		return nil, *st, fmt.Errorf("tngd: tiled: the dual residual is NaN: %w", hal.ErrUnstable)
	}
	return WoodburyBack(it, res.X), *st, nil
}
