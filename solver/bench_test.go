package solver_test

import (
	"testing"

	"github.com/spukit/spukit/solver"
)

// BenchmarkSolve8 solves the random SPD 8×8 problem of condition number 10
// on sim:ideal with default options (2000τ of sampling at the minimum
// period, 40 000 samples). board-s/op is the simulated board time per
// solve: what hardware with the same τ would take.
func BenchmarkSolve8(b *testing.B) {
	a, rhs := problem8(1)
	board := open(b, "sim:ideal?seed=1")
	b.ReportAllocs()
	var boardTime float64
	for b.Loop() {
		res, err := solver.Solve(b.Context(), board, a, rhs, nil)
		if err != nil {
			b.Fatal(err)
		}
		boardTime += res.BoardTime.Seconds()
	}
	b.ReportMetric(boardTime/float64(b.N), "board-s/op")
}
