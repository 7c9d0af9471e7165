package optim

import (
	"testing"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// BenchmarkTNGDvsEuler times one first TNGD iteration (t = 50τ, from g) at
// the paper's model two ways in the same run: on the virtual SPU (exact OU
// transition by Lanczos, noise off) and by the paper's Euler–Maruyama
// simulation (δt = 0.1τ, 500 F·v products). Each reports rel_err_vs_exact,
// its g̃'s distance from the same board's eigendecomposition path (an
// independent exact evaluation), so the speed comparison is made at known
// accuracy.
func BenchmarkTNGDvsEuler(b *testing.B) {
	it := benchIteration(b)
	n := it.Model.NumParams()
	open := func(method string) hal.Board {
		bd, err := hal.Open(bg, "sim:tngd?cells=25450&noise=0&adc_bits=0&bias_bits=0&method="+method)
		if err != nil {
			b.Fatal(err)
		}
		return bd
	}
	ref, err := NewTNGD(open("eig"), n, it.Rows(), TNGDOptions{T: 50})
	if err != nil {
		b.Fatal(err)
	}
	exact, _, err := ref.Direction(bg, it)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sim", func(b *testing.B) {
		board := open("lanczos")
		var d []float64
		for b.Loop() {
			o, err := NewTNGD(board, n, it.Rows(), TNGDOptions{T: 50})
			if err != nil {
				b.Fatal(err)
			}
			if d, _, err = o.Direction(bg, it); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(testnum.RelErr(d, exact), "rel_err_vs_exact")
	})
	b.Run("euler", func(b *testing.B) {
		var d []float64
		for b.Loop() {
			o, err := NewTNGDEuler(EulerOptions{T: 50, Dt: 0.1})
			if err != nil {
				b.Fatal(err)
			}
			if d, _, err = o.Direction(bg, it); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(testnum.RelErr(d, exact), "rel_err_vs_exact")
	})
}
