package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// smallFactorization is a 2-layer-shaped Jacobian (blocks 3×3 and 2×4
// within N = 17 columns, the last column uncovered) with 3 samples of 2
// rows, and random PSD H blocks.
func smallFactorization(r *rand.Rand) *hal.Factorization {
	const samples, k = 3, 2
	j := hal.Jacobian{Rows: samples * k, Cols: 17, RowsPerSample: k}
	for _, b := range [][3]int{{0, 3, 3}, {9, 2, 4}} {
		blk := hal.JacobianBlock{Col: b[0], Out: b[1], In: b[2],
			Signal: make([]float64, j.Rows*b[1]), Input: make([]float64, samples*b[2])}
		for i := range blk.Signal {
			blk.Signal[i] = r.NormFloat64()
		}
		for i := range blk.Input {
			blk.Input[i] = r.NormFloat64()
		}
		j.Blocks = append(j.Blocks, blk)
	}
	h := make([]float64, samples*k*k)
	for s := range samples {
		a, b, c := r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
		// [a b; 0 c]ᵀ[a b; 0 c] is PSD.
		h[s*4+0], h[s*4+1], h[s*4+2], h[s*4+3] = a*a, a*b, a*b, b*b+c*c
	}
	return &hal.Factorization{J: j, H: h, Scale: 1.0 / samples, Lambda: 0.3}
}

// denseA builds λI + s·JᵀHJ entry by entry (cells beyond J.Cols: λ).
func denseA(f *hal.Factorization, cells int) *mat.Dense {
	n, m, k := f.J.Cols, f.J.Rows, f.J.RowsPerSample
	jd := mat.NewDense(m, n, nil)
	e := make([]float64, n)
	col := make([]float64, m)
	for c := range n {
		clear(e)
		e[c] = 1
		f.J.MulVec(col, e)
		for r := range m {
			jd.Set(r, c, col[r])
		}
	}
	hm := mat.NewDense(m, m, nil)
	for s := range f.J.Samples() {
		for a := range k {
			for c := range k {
				hm.Set(s*k+a, s*k+c, f.H[s*k*k+a*k+c])
			}
		}
	}
	var hj, jhj mat.Dense
	hj.Mul(hm, jd)
	jhj.Mul(jd.T(), &hj)
	a := mat.NewDense(cells, cells, nil)
	for i := range cells {
		for j := range cells {
			if i < n && j < n {
				a.Set(i, j, f.Scale*jhj.At(i, j))
			}
		}
		a.Set(i, i, a.At(i, i)+f.Lambda)
	}
	return a
}

func TestVirtualMeanClosedForm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	f := smallFactorization(r)
	const cells = 20
	v, err := NewVirtual(VirtualOpts{Cells: cells, NoiseV: -1, ADCBits: 0, ADCRangeV: 100, BiasRangeV: 100}, 1)
	require.NoError(t, err)
	require.NoError(t, v.SetFactoredCouplings(ctx, f))
	x0, g := make([]float64, cells), make([]float64, cells)
	for i := range x0 {
		x0[i], g[i] = r.NormFloat64(), r.NormFloat64()
	}
	// Bias first: writing it takes link time during which the board
	// evolves; forcing the state afterwards starts the clock cleanly.
	require.NoError(t, v.SetBias(ctx, g))
	require.NoError(t, v.SetState(ctx, x0))
	start := v.BoardTime()
	out := make([]float64, cells)
	_, err = v.Sample(ctx, 3*time.Microsecond, out) // t = 3τ
	require.NoError(t, err)
	assert.Greater(t, v.BoardTime()-start, 3*time.Microsecond)

	// x(t) = e^{−At}x0 + A⁻¹(I − e^{−At})g with gonum's Padé exponential.
	a := denseA(f, cells)
	var e, ma mat.Dense
	ma.Scale(-3, a)
	e.Exp(&ma)
	var ex, ieg, want mat.VecDense
	ex.MulVec(&e, mat.NewVecDense(cells, x0))
	var ie mat.Dense
	ie.Sub(eye(cells), &e)
	ieg.MulVec(&ie, mat.NewVecDense(cells, g))
	require.NoError(t, want.SolveVec(a, &ieg))
	want.AddVec(&want, &ex)
	for i := range cells {
		assert.InDelta(t, want.AtVec(i), out[i], 1e-9, "cell %d", i)
	}
}

// Covariance of x(t) from a fixed start over independent runs:
// σ²A⁻¹(I − e^{−2At}). SE of a covariance entry from R independent
// zero-mean Gaussian draws: sqrt((Σ_ii Σ_jj + Σ_ij²)/R); tolerance 5 SE.
func TestVirtualNoiseCovariance(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	f := smallFactorization(r)
	const cells, runs, sig = 17, 4000, 0.1
	v, err := NewVirtual(VirtualOpts{Cells: cells, NoiseV: sig, ADCBits: 0, ADCRangeV: 100, BiasRangeV: 100}, 3)
	require.NoError(t, err)
	require.NoError(t, v.SetFactoredCouplings(ctx, f))
	a := denseA(f, cells)
	var e, ma, ie, cov mat.Dense
	ma.Scale(-2*2, a) // t = 2τ
	e.Exp(&ma)
	ie.Sub(eye(cells), &e)
	require.NoError(t, cov.Solve(a, &ie))
	cov.Scale(sig*sig, &cov)
	zero := make([]float64, cells)
	acc := mat.NewDense(cells, cells, nil)
	out := make([]float64, cells)
	for range runs {
		require.NoError(t, v.SetState(ctx, zero))
		_, err := v.Sample(ctx, 2*time.Microsecond, out)
		require.NoError(t, err)
		for i := range cells {
			for j := range cells {
				acc.Set(i, j, acc.At(i, j)+out[i]*out[j]/runs)
			}
		}
	}
	for i := range cells {
		for j := range cells {
			se := math.Sqrt((cov.At(i, i)*cov.At(j, j) + cov.At(i, j)*cov.At(i, j)) / runs)
			require.InDelta(t, cov.At(i, j), acc.At(i, j), 5*se, "cov[%d][%d]", i, j)
		}
	}
}

func TestVirtualErrors(t *testing.T) {
	v, err := NewVirtual(VirtualOpts{Cells: 10}, 1)
	require.NoError(t, err)
	require.ErrorIs(t, v.SetCouplings(ctx, make([]float64, 100)), hal.ErrUnsupported)
	f := smallFactorization(rand.New(rand.NewPCG(3, 3)))
	require.ErrorIs(t, v.SetFactoredCouplings(ctx, f), hal.ErrDimension, "17 columns on 10 cells")
	b, err := hal.Open(ctx, "sim:tngd?cells=30&seed=2")
	require.NoError(t, err)
	assert.Equal(t, 30, b.Info().Cells)
	_, ok := b.(hal.Factored)
	assert.True(t, ok)
	_, err = hal.Open(ctx, "sim:tngd?colour=1")
	require.ErrorIs(t, err, hal.ErrInvalid)
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Run(ctx, time.Microsecond), hal.ErrClosed)
}
