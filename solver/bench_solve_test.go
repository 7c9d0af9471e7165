package solver_test

import (
	"fmt"
	"testing"

	"github.com/spukit/spukit/solver"
)

// The benchmarks of `make bench-solve` (docs/benchmarks.md, "Tiled solves
// and refinement"): run with -benchtime 1x; the custom metrics, not ns/op,
// are the point. All on uncalibrated sim:proto8 boards (8 cells, 10-bit
// couplings), seeded.

// proto8Pool opens m proto8 boards with seeds 1 … m, one session each.
func proto8Pool(b *testing.B, m int) []*solver.Session {
	pool := make([]*solver.Session, m)
	for i := range pool {
		s, err := solver.NewSession(open(b, fmt.Sprintf("sim:proto8?seed=%d", i+1)))
		if err != nil {
			b.Fatal(err)
		}
		pool[i] = s
	}
	return pool
}

// BenchmarkTiledN: board time (summed, and with the pool's members running
// concurrently) and wall time of a tiled solve of the random SPD problem
// of condition number 10 to the default 10⁻⁶, vs n, on one proto8 and on
// a pool of 4.
func BenchmarkTiledN(b *testing.B) {
	for _, n := range []int{8, 32, 128, 512} {
		a, rhs := solver.RandomSPD(n, 10, 1)
		for _, m := range []int{1, 4} {
			b.Run(fmt.Sprintf("n=%d/boards=%d", n, m), func(b *testing.B) {
				pool := proto8Pool(b, m)
				var res *solver.TiledResult
				for b.Loop() {
					var err error
					if res, err = solver.TiledPool(b.Context(), pool, a, rhs, &solver.TileOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(res.Usage.BoardTime.Seconds(), "board-s")
				b.ReportMetric(res.ParallelBoardTime.Seconds(), "parallel-board-s")
				b.ReportMetric(float64(res.Krylov.Iterations), "outer-iters")
				b.ReportMetric(float64(res.Usage.Programs), "programs")
				b.ReportMetric(res.Krylov.Residual, "residual")
			})
		}
	}
}

// BenchmarkTiledExactVsBoard: outer iterations to 10⁻⁸ with the blocks
// solved exactly (LU) and on the board, for coupled blocks of increasing
// condition.
func BenchmarkTiledExactVsBoard(b *testing.B) {
	for _, c := range []float64{10, 100, 1000} {
		a, rhs := solver.RandomSPD(64, c, 1)
		for _, exact := range []bool{true, false} {
			name := "board"
			if exact {
				name = "exact"
			}
			b.Run(fmt.Sprintf("n=64/cond=%g/%s", c, name), func(b *testing.B) {
				pool := proto8Pool(b, 1)
				var res *solver.TiledResult
				for b.Loop() {
					var err error
					if res, err = solver.Tiled(b.Context(), pool[0], a, rhs, &solver.TileOptions{Tol: 1e-8, Exact: exact}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(res.Krylov.Iterations), "outer-iters")
				b.ReportMetric(res.Usage.BoardTime.Seconds(), "board-s")
			})
		}
	}
}

// BenchmarkRefineCond: refinement rounds to 10⁻¹⁰ vs condition number on
// proto8?seed=3 (n = 8); a stall is reported as converged = 0.
func BenchmarkRefineCond(b *testing.B) {
	for _, c := range []float64{10, 100, 1000} {
		a, rhs := solver.RandomSPD(8, c, 1)
		b.Run(fmt.Sprintf("n=8/cond=%g", c), func(b *testing.B) {
			sess, err := solver.NewSession(open(b, "sim:proto8?seed=3"))
			if err != nil {
				b.Fatal(err)
			}
			var res *solver.Refinement
			for b.Loop() {
				sys, err := solver.Prepare(b.Context(), sess, a)
				if err != nil {
					b.Fatal(err)
				}
				res, _ = solver.Refine(b.Context(), sys, rhs, &solver.RefineOptions{Tol: 1e-10})
				if res == nil {
					b.Fatal("no refinement result")
				}
			}
			conv := 0.0
			if res.Converged {
				conv = 1
			}
			b.ReportMetric(float64(len(res.Rounds)), "rounds")
			b.ReportMetric(res.Residual, "residual")
			b.ReportMetric(conv, "converged")
			b.ReportMetric(res.Usage.BoardTime.Seconds(), "board-s")
		})
	}
}
