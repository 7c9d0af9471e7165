package ggn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/spukit/spukit/ggn"
)

// sparseMat returns a rows × cols matrix with about the given fraction of
// nonzero entries (normal, so products round).
func sparseMat(r *rand.Rand, rows, cols int, density float64) []float64 {
	a := make([]float64, rows*cols)
	for i := range a {
		if r.Float64() < density {
			a[i] = r.NormFloat64()
		}
	}
	return a
}

func gen(rows, cols int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: data}
}

func abs(a []float64) []float64 {
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = math.Abs(v)
	}
	return out
}

// requireBits checks got against gonum's want: bit for bit where gonum's
// dot products are its amd64 assembly, whose four partial sums the sparse
// kernels copy (exactBits); elsewhere gonum's portable loop keeps one sum,
// so the two may differ by rounding only: each of the two n-term sums is
// within (n−1)·u·Σ|terms| of the exact value (u = 2⁻⁵³; Higham, Accuracy
// and Stability, eq. 3.5), hence |got − want| ≤ 2n·u·abs[i], abs the same
// product of the factors' absolute values.
func requireBits(t *testing.T, want, got, absProd []float64, n int, what string) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if exactBits {
			require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]),
				"%s: entry %d: dense %v, sparse %v", what, i, want[i], got[i])
			continue
		}
		require.LessOrEqual(t, math.Abs(got[i]-want[i]), 2*float64(n)*0x1p-53*absProd[i],
			"%s: entry %d: dense %v, sparse %v", what, i, want[i], got[i])
	}
}

// The sparse products against gonum's dense Dgemm and Dsyrk, bit for bit:
// the sparse kernels must add the same products in the same order into
// the same partial sums (a wrong lane for the tail, another combination of
// the four sums or another row order changes the last bits of most
// entries). Widths with every remainder mod 4, densities from empty to
// full, and shapes on both sides of gonum's serial/parallel switch for
// TransMul (which is sequential in rows either way).
//
// Off amd64's assembly (arm64, -tags noasm) gonum sums differently, and the
// check is the rounding bound of requireBits instead.
func TestSparseProductsMatchGonumBitForBit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sh := range []struct{ rows, cols, n int }{
		{1, 1, 1}, {5, 7, 3}, {64, 785, 32}, {13, 34, 10}, {70, 66, 5}, {64, 200, 80},
	} {
		for _, dens := range []float64{0, 0.2, 0.7, 1} {
			a := sparseMat(r, sh.rows, sh.cols, dens)
			var s ggn.Sparse
			s.Set(a, sh.rows, sh.cols)
			if dens == 0.2 { // the same pattern from the matrix without its last column
				x := make([]float64, 0, sh.rows*(sh.cols-1))
				for i := range sh.rows {
					a[i*sh.cols+sh.cols-1] = 1
					x = append(x, a[i*sh.cols:(i+1)*sh.cols-1]...)
				}
				s.Set(sparseMat(r, 3, 9, 0.5), 3, 9) // reused storage
				s.SetOnes(x, sh.rows, sh.cols-1)
			}
			b := sparseMat(r, sh.n, sh.cols, 1)
			if ggn.GemmSerial(sh.rows, sh.n) {
				want := make([]float64, sh.rows*sh.n)
				blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(sh.rows, sh.cols, a), gen(sh.n, sh.cols, b), 0, gen(sh.rows, sh.n, want))
				bound := make([]float64, sh.rows*sh.n)
				blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(sh.rows, sh.cols, abs(a)), gen(sh.n, sh.cols, abs(b)), 0, gen(sh.rows, sh.n, bound))
				got := make([]float64, sh.rows*(sh.n+1)) // a stride wider than n
				s.MulTrans(got, sh.n+1, b, sh.n)
				for i := range sh.rows {
					requireBits(t, want[i*sh.n:(i+1)*sh.n], got[i*(sh.n+1):i*(sh.n+1)+sh.n], bound[i*sh.n:(i+1)*sh.n], sh.cols, "MulTrans")
				}
			}
			d := sparseMat(r, sh.rows, sh.n, 0.9)
			want := make([]float64, sh.n*sh.cols)
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, gen(sh.rows, sh.n, d), gen(sh.rows, sh.cols, a), 0, gen(sh.n, sh.cols, want))
			bound := make([]float64, sh.n*sh.cols)
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, gen(sh.rows, sh.n, abs(d)), gen(sh.rows, sh.cols, abs(a)), 0, gen(sh.n, sh.cols, bound))
			got := make([]float64, sh.n*sh.cols)
			s.TransMul(got, d, sh.n)
			requireBits(t, want, got, bound, sh.rows, "TransMul")

			wantG := make([]float64, sh.rows*sh.rows)
			blas64.Syrk(blas.NoTrans, 1, gen(sh.rows, sh.cols, a), 0,
				blas64.Symmetric{Uplo: blas.Upper, N: sh.rows, Stride: sh.rows, Data: wantG})
			boundG := make([]float64, sh.rows*sh.rows)
			blas64.Syrk(blas.NoTrans, 1, gen(sh.rows, sh.cols, abs(a)), 0,
				blas64.Symmetric{Uplo: blas.Upper, N: sh.rows, Stride: sh.rows, Data: boundG})
			gotG := make([]float64, sh.rows*sh.rows)
			s.UpperGram(gotG)
			requireBits(t, wantG, gotG, boundG, sh.cols, "UpperGram")
		}
	}
}

func TestSparseDensity(t *testing.T) {
	var s ggn.Sparse
	require.Zero(t, s.Density())
	s.Set([]float64{0, 1, 0, 2, 0, 0}, 2, 3)
	require.InDelta(t, 2.0/6, s.Density(), 1e-15)
	require.Panics(t, func() { s.Set([]float64{1}, 2, 3) })
}

// BenchmarkSparse: the sparse products against gonum's dense ones at the
// first layer of the MNIST MLP (64 × 785 inputs, a fifth nonzero, like
// MNIST's pixels; 32 outputs): go test ./ggn -run X -bench Sparse.
func BenchmarkSparse(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	const rows, cols, n = 64, 785, 32
	a := sparseMat(r, rows, cols, 0.2)
	w, d := sparseMat(r, n, cols, 1), sparseMat(r, rows, n, 1)
	z, c, g := make([]float64, rows*n), make([]float64, n*cols), make([]float64, rows*rows)
	var s ggn.Sparse
	s.Set(a, rows, cols)
	b.Run("set", func(b *testing.B) {
		for b.Loop() {
			s.Set(a, rows, cols)
		}
	})
	b.Run("multrans", func(b *testing.B) {
		for b.Loop() {
			s.MulTrans(z, n, w, n)
		}
	})
	b.Run("dense-multrans", func(b *testing.B) {
		for b.Loop() {
			blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(rows, cols, a), gen(n, cols, w), 0, gen(rows, n, z))
		}
	})
	b.Run("transmul", func(b *testing.B) {
		for b.Loop() {
			s.TransMul(c, d, n)
		}
	})
	b.Run("dense-transmul", func(b *testing.B) {
		for b.Loop() {
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, gen(rows, n, d), gen(rows, cols, a), 0, gen(n, cols, c))
		}
	})
	b.Run("uppergram", func(b *testing.B) {
		for b.Loop() {
			s.UpperGram(g)
		}
	})
	b.Run("dense-uppergram", func(b *testing.B) {
		for b.Loop() {
			blas64.Syrk(blas.NoTrans, 1, gen(rows, cols, a), 0, blas64.Symmetric{Uplo: blas.Upper, N: rows, Stride: rows, Data: g})
		}
	})
}
