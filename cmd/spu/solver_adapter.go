package main

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// boardSolve runs the solver package on b. TEMPORARY: the solver package is
// not committed yet.
func boardSolve(ctx context.Context, b hal.Board, a *mat.Dense, rhs []float64, o solveOpts) (solveOut, error) {
	return solveOut{}, fmt.Errorf("the solver package is not available yet: %w", hal.ErrUnsupported)
}
