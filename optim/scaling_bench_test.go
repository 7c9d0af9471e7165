package optim

import (
	"fmt"
	"testing"
)

// BenchmarkDigitalVsN is the shape of the paper's Figure 2: the host's
// digital work per iteration as the parameter count N grows (784-h-10 with
// h = 1, 4, 13, 40, 126: N ≈ 10³ … 10⁵), batch 64, m = 640:
//   - tngd: gradient + J and H in structured form (what a board is sent);
//   - ngd-woodbury: gradient + dual Gram + m × m Cholesky + back-map;
//   - ngd-cg: gradient + CG on matrix-free F v (tol 1e-6, ≤ 100 iterations);
//   - ngd: gradient + dense N × N F + Cholesky (N ≤ 5000 only).
func BenchmarkDigitalVsN(b *testing.B) {
	for _, h := range []int{1, 4, 13, 40, 126} {
		sizes := []int{784, h, 10}
		m, bt := benchModel(b, sizes)
		n := m.NumParams()
		run := func(name string, f func(it *Iteration)) {
			b.Run(fmt.Sprintf("N=%d/%s", n, name), func(b *testing.B) {
				for b.Loop() {
					it, err := NewIteration(0, m, bt, 0.01)
					if err != nil {
						b.Fatal(err)
					}
					f(it)
				}
			})
		}
		run("tngd", func(it *Iteration) { it.Factorization() })
		run("ngd-woodbury", func(it *Iteration) {
			if _, err := WoodburyDirection(it); err != nil {
				b.Fatal(err)
			}
		})
		run("ngd-cg", func(it *Iteration) { cg(it, 1e-6, 100) })
		if n <= MaxDenseParams {
			run("ngd", func(it *Iteration) {
				if _, err := DenseDirection(it); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
