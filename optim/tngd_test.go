package optim

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/sim"
)

var bg = context.Background()

// quietBoard is the ideal 8-cell simulator without injected noise: the
// board then computes the OU mean exactly, so TNGD's estimate is a
// deterministic function of t that closed forms predict.
func quietBoard(t *testing.T) hal.Board {
	t.Helper()
	p, err := sim.Builtin("ideal")
	require.NoError(t, err)
	p.NoiseV = 0
	b, err := sim.New(p, 1)
	require.NoError(t, err)
	return b
}

func logisticIteration(t *testing.T, sizes []int, b int, seed uint64) *Iteration {
	t.Helper()
	it := tinyIteration(t, sizes, Tanh, b, seed)
	return it
}

// With t ≫ 1/λ the board's relaxation has converged: TNGD's direction is
// exact NGD (to e^{−λt} ≈ e^{−50}), through the primal and the dual mapping.
func TestTNGDLongRunIsNGD(t *testing.T) {
	for _, c := range []struct {
		mapping Mapping
		sizes   []int
		batch   int
	}{
		{MapPrimal, []int{3, 1}, 6},  // N = 4 ≤ 8 cells
		{MapDual, []int{3, 4, 1}, 8}, // m = 8 ≤ 8 cells < N = 21
		{MapAuto, []int{2, 2, 2}, 4}, // N = 12 > 8, m = 8: auto picks dual
	} {
		it := logisticIteration(t, c.sizes, c.batch, 7)
		want, err := DenseDirection(it)
		require.NoError(t, err)
		o, err := NewTNGD(quietBoard(t), it.Model.NumParams(), it.Rows(), TNGDOptions{T: 1000, Mapping: c.mapping})
		require.NoError(t, err)
		if c.mapping == MapAuto {
			assert.Equal(t, MapDual, o.Mapping())
		}
		got, st, err := o.Direction(bg, it)
		require.NoError(t, err)
		// λ = 0.05: e^{−λT} = e^{−50}; what remains is float round-off
		// amplified by the scaling (1/λ for the dual back-map).
		assert.Less(t, testnum.RelErr(got, want), 1e-6, "%v", c.mapping)
		// The run lasts t/α in board τ (α: the coupling scale that fits F
		// into the range), plus programming and one sample.
		assert.GreaterOrEqual(t, st.BoardTime, time.Duration(1000/o.alpha*float64(100*time.Microsecond)), "board time covers the run")
	}
}

// For finite t the primal board computes the OU mean from the warm start g:
// g̃(t) = e^{−Ft}g + F⁻¹(I − e^{−Ft})g, here from F's eigendecomposition
// (an independent closed form). t → 0 is SGD (g̃ = g).
func TestTNGDFiniteTimeClosedForm(t *testing.T) {
	it := logisticIteration(t, []int{3, 1}, 6, 8)
	n := it.Model.NumParams()
	fd := mat.NewSymDense(n, nil)
	col := make([]float64, n)
	for c := range n {
		e := make([]float64, n)
		e[c] = 1
		it.FVec(col, e)
		for r := c; r < n; r++ {
			fd.SetSym(c, r, col[r])
		}
	}
	var eig mat.EigenSym
	require.True(t, eig.Factorize(fd, true))
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	for _, tt := range []float64{1, 3, 20} {
		want := make([]float64, n)
		for i := range n {
			for k, lam := range vals {
				// Σ_k v_k v_kᵀ g (e^{−λt} + (1 − e^{−λt})/λ)
				proj := 0.0
				for j := range n {
					proj += v.At(j, k) * it.Grad[j]
				}
				e := math.Exp(-lam * tt)
				want[i] += v.At(i, k) * proj * (e + (1-e)/lam)
			}
		}
		o, err := NewTNGD(quietBoard(t), n, it.Rows(), TNGDOptions{T: tt, Mapping: MapPrimal})
		require.NoError(t, err)
		got, _, err := o.Direction(bg, it)
		require.NoError(t, err)
		// The run lasts t/α·τ rounded to 1 ns: relative timing error ≤ 1e-5.
		assert.Less(t, testnum.RelErr(got, want), 1e-4, "t = %gτ", tt)
		if tt == 1 {
			assert.Less(t, testnum.RelErr(got, it.Grad), testnum.RelErr(got, func() []float64 { d, _ := DenseDirection(it); return d }()), "short runs stay near SGD")
		}
	}
	o, err := NewTNGD(quietBoard(t), n, it.Rows(), TNGDOptions{T: 0.01, Mapping: MapPrimal})
	require.NoError(t, err)
	_, _, err = o.Direction(bg, it)
	require.ErrorIs(t, err, hal.ErrOutOfRange, "shorter than one sample period")
}

func TestTNGDMappingErrors(t *testing.T) {
	b := quietBoard(t)
	_, err := NewTNGD(b, 100, 64, TNGDOptions{})
	require.ErrorIs(t, err, hal.ErrDimension)
	assert.Contains(t, err.Error(), "8 cells")
	_, err = NewTNGD(b, 4, 4, TNGDOptions{Mapping: MapFactored})
	require.ErrorIs(t, err, hal.ErrUnsupported)
	_, err = NewTNGD(b, 100, 4, TNGDOptions{Mapping: MapPrimal})
	require.ErrorIs(t, err, hal.ErrDimension)
	_, err = NewTNGD(b, 4, 4, TNGDOptions{LR: -1})
	require.ErrorIs(t, err, hal.ErrInvalid)
	_, err = ParseMapping("diagonal")
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), "auto, primal, factored, dual")
}

// The acceptance test for the dual mapping: an uncalibrated 8-cell
// lab prototype trains a binary classifier (batch 8, one output) well above
// chance. The label is the XOR of the signs of two standard normal inputs,
// which no linear model separates: a random network is at chance (0.5).
func TestTNGDDualTrainsOnProto8(t *testing.T) {
	board, err := hal.Open(bg, "sim:proto8?seed=4")
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(10, 10))
	draw := func(n int) Batch { return xorBatch(r, n) }
	m, err := NewMLP([]int{2, 8, 1}, Tanh, 11)
	require.NoError(t, err)
	test := draw(2000)
	_, before, err := m.Evaluate(test)
	require.NoError(t, err)
	o, err := NewTNGD(board, m.NumParams(), 8, TNGDOptions{LR: 0.1, T: 20})
	require.NoError(t, err)
	require.Equal(t, MapDual, o.Mapping())
	var boardTime time.Duration
	for k := range 400 {
		it, err := NewIteration(k, m, draw(8), 0.05)
		require.NoError(t, err)
		st, err := o.Step(bg, it)
		require.NoError(t, err)
		boardTime += st.BoardTime
	}
	_, acc, err := m.Evaluate(test)
	require.NoError(t, err)
	t.Logf("accuracy %.3f → %.3f after 400 TNGD steps, board time %v", before, acc, boardTime)
	// With 2000 test points the accuracy's standard error at chance is
	// sqrt(0.5·0.5/2000) ≈ 0.011: 0.8 is more than 25 SE above chance.
	assert.Less(t, before, 0.65, "the untrained network is near chance")
	assert.Greater(t, acc, 0.8)
	assert.False(t, math.IsNaN(acc))
}

// The primal and factored mappings run the same dynamics on different
// boards (a dense 8-cell simulator, the virtual SPU), so with noise off
// they agree for every t; the dual mapping agrees with both as t → ∞.
func TestTNGDMappingsAgree(t *testing.T) {
	it := logisticIteration(t, []int{3, 1}, 6, 12)
	n, m := it.Model.NumParams(), it.Rows()
	virt := func() hal.Board {
		b, err := hal.Open(bg, "sim:tngd?cells=16&noise=0&adc_bits=0")
		require.NoError(t, err)
		return b
	}
	for _, tt := range []float64{2, 1000} {
		p, err := NewTNGD(quietBoard(t), n, m, TNGDOptions{T: tt, Mapping: MapPrimal})
		require.NoError(t, err)
		f, err := NewTNGD(virt(), n, m, TNGDOptions{T: tt})
		require.NoError(t, err)
		require.Equal(t, MapFactored, f.Mapping(), "auto picks factored on a hal.Factored board")
		dp, _, err := p.Direction(bg, it)
		require.NoError(t, err)
		df, _, err := f.Direction(bg, it)
		require.NoError(t, err)
		// Run times are rounded to 1 ns of board time (τ = 100 µs and
		// 1 µs): relative error ≲ 1e-3 on the virtual board.
		assert.Less(t, testnum.RelErr(df, dp), 2e-3, "t = %gτ", tt)
		if tt == 1000 {
			d, err := NewTNGD(quietBoard(t), n, m, TNGDOptions{T: tt, Mapping: MapDual})
			require.NoError(t, err)
			dd, _, err := d.Direction(bg, it)
			require.NoError(t, err)
			assert.Less(t, testnum.RelErr(dd, dp), 1e-5)
		}
	}
}

// TNGD's state round-trips and makes the next step restart from the saved
// warm start: with noise off the resumed estimate equals the uninterrupted one.
func TestTNGDStateResume(t *testing.T) {
	it := logisticIteration(t, []int{3, 1}, 6, 13)
	n, m := it.Model.NumParams(), it.Rows()
	a, err := NewTNGD(quietBoard(t), n, m, TNGDOptions{T: 3, Mapping: MapPrimal})
	require.NoError(t, err)
	_, _, err = a.Direction(bg, it)
	require.NoError(t, err)
	saved := a.State()
	want, _, err := a.Direction(bg, it)
	require.NoError(t, err)

	b, err := NewTNGD(quietBoard(t), n, m, TNGDOptions{T: 3, Mapping: MapPrimal})
	require.NoError(t, err)
	require.NoError(t, b.SetState(saved))
	got, _, err := b.Direction(bg, it)
	require.NoError(t, err)
	assert.Less(t, testnum.RelErr(got, want), 1e-9)
	require.ErrorIs(t, b.SetState([]float64{1, 2}), hal.ErrDimension)
}

// The tiled mapping solves the dual system m = 24 > 8 cells in 3 blocks
// inside flexible CG: with converged block runs (t = 1000, e^{−λt} =
// e^{−50}) on the noise-free board and a tight outer tolerance, its
// direction is exact NGD; with one outer iteration it is not (the blocks
// are coupled), and it reports the outer iterations it ran.
func TestTNGDTiledIsNGD(t *testing.T) {
	it := logisticIteration(t, []int{3, 4, 1}, 24, 7)
	want, err := DenseDirection(it)
	require.NoError(t, err)
	o, err := NewTNGD(quietBoard(t), it.Model.NumParams(), it.Rows(), TNGDOptions{T: 1000, Mapping: MapTiled, TileTol: 1e-11, TileIter: 200})
	require.NoError(t, err)
	got, st, err := o.Direction(bg, it)
	require.NoError(t, err)
	assert.Less(t, testnum.RelErr(got, want), 1e-6)
	assert.Greater(t, st.Iterations, 1)
	assert.LessOrEqual(t, st.Residual, 1e-11)
	assert.Positive(t, st.BoardTime)

	one, err := NewTNGD(quietBoard(t), it.Model.NumParams(), it.Rows(), TNGDOptions{T: 1000, Mapping: MapTiled, TileIter: 1})
	require.NoError(t, err)
	got, st, err = one.Direction(bg, it)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Iterations)
	assert.Greater(t, testnum.RelErr(got, want), 1e-3, "one block-Jacobi step is not the coupled solution")
}

func TestTNGDTiledErrors(t *testing.T) {
	for _, o := range []TNGDOptions{
		{Mapping: MapTiled, TileTol: 1},
		{Mapping: MapTiled, TileIter: -1},
		{Mapping: MapTiled, Delay: 1},
	} {
		_, err := NewTNGD(quietBoard(t), 100, 640, o)
		require.ErrorIs(t, err, hal.ErrInvalid, "%+v", o)
	}
	m, err := ParseMapping("tiled")
	require.NoError(t, err)
	assert.Equal(t, MapTiled, m)
}
