package optim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// eigF returns the eigendecomposition of the dense F of it.
func eigF(t *testing.T, it *Iteration) (vals []float64, vecs *mat.Dense) {
	t.Helper()
	fd, err := it.DenseF()
	require.NoError(t, err)
	var eig mat.EigenSym
	require.True(t, eig.Factorize(fd, true))
	vecs = new(mat.Dense)
	eig.VectorsTo(vecs)
	return eig.Values(nil), vecs
}

// emClosedForm is n noiseless Euler steps of size h from x0:
// x_n = d + (I − hF)ⁿ(x0 − d) with d = F⁻¹g, through F's eigenvectors.
func emClosedForm(vals []float64, v *mat.Dense, g, x0 []float64, h float64, n int) []float64 {
	dim := len(g)
	out := make([]float64, dim)
	for e, lam := range vals {
		var pg, px float64
		for i := range dim {
			pg += v.At(i, e) * g[i]
			px += v.At(i, e) * x0[i]
		}
		d := pg / lam
		c := d + math.Pow(1-h*lam, float64(n))*(px-d)
		for i := range dim {
			out[i] += v.At(i, e) * c
		}
	}
	return out
}

func TestEulerNoiselessClosedForm(t *testing.T) {
	ctx := context.Background()
	it := tinyIteration(t, []int{4, 3, 3}, Tanh, 4, 11)
	vals, vecs := eigF(t, it)
	o, err := NewTNGDEuler(EulerOptions{T: 2.5, Dt: 0.1})
	require.NoError(t, err)
	got, st, err := o.Direction(ctx, it)
	require.NoError(t, err)
	assert.Equal(t, 25, st.Iterations)
	assert.Equal(t, 2500*time.Nanosecond, st.BoardTime, "t = 2.5τ at τ = 1 µs")
	assert.Positive(t, st.SimWall, "the integration stands in for the board")
	want := emClosedForm(vals, vecs, it.Grad, it.Grad, 0.1, 25)
	assert.Less(t, testnum.RelErr(got, want), 1e-12, "first iteration starts from g")

	// The next iteration starts from the previous g̃.
	it2 := tinyIteration(t, []int{4, 3, 3}, Tanh, 4, 12)
	vals2, vecs2 := eigF(t, it2)
	got2, _, err := o.Direction(ctx, it2)
	require.NoError(t, err)
	assert.Less(t, testnum.RelErr(got2, emClosedForm(vals2, vecs2, it2.Grad, got, 0.1, 25)), 1e-12, "warm start")

	// A time that is not a multiple of δt ends with a shorter step.
	o3, err := NewTNGDEuler(EulerOptions{T: 0.25, Dt: 0.1})
	require.NoError(t, err)
	got3, st3, err := o3.Direction(ctx, it)
	require.NoError(t, err)
	assert.Equal(t, 3, st3.Iterations)
	two := emClosedForm(vals, vecs, it.Grad, it.Grad, 0.1, 2)
	assert.Less(t, testnum.RelErr(got3, emClosedForm(vals, vecs, it.Grad, two, 0.05, 1)), 1e-12)
}

// κ₀ = 0: a long run is NGD (the Euler iteration's fixed point is exactly
// F⁻¹g and it contracts by (1 − δtλ_min) ≤ 0.995 per step here, e^{−50}
// after t = 1000τ); a short run is SGD.
func TestEulerLimits(t *testing.T) {
	ctx := context.Background()
	it := tinyIteration(t, []int{5, 4, 3}, ReLU, 6, 13)
	ngd, err := DenseDirection(it)
	require.NoError(t, err)
	long, err := NewTNGDEuler(EulerOptions{T: 1000})
	require.NoError(t, err)
	d, _, err := long.Direction(ctx, it)
	require.NoError(t, err)
	assert.Less(t, testnum.RelErr(d, ngd), 1e-9)

	short, err := NewTNGDEuler(EulerOptions{T: 1e-9})
	require.NoError(t, err)
	d, st, err := short.Direction(ctx, it)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Iterations)
	assert.Less(t, testnum.RelErr(d, it.Grad), 1e-8)

	// In between it moves from g toward F⁻¹g.
	mid, err := NewTNGDEuler(EulerOptions{T: 5})
	require.NoError(t, err)
	d, _, err = mid.Direction(ctx, it)
	require.NoError(t, err)
	assert.Less(t, testnum.RelErr(d, ngd), testnum.RelErr(it.Grad, ngd))

	// The step is θ ← θ − η g̃.
	before := append([]float64(nil), it.Model.Params()...)
	o, err := NewTNGDEuler(EulerOptions{LR: 0.2, T: 1000})
	require.NoError(t, err)
	_, err = o.Step(ctx, it)
	require.NoError(t, err)
	for i, th := range it.Model.Params() {
		assert.InDelta(t, before[i]-0.2*ngd[i], th, 1e-9)
	}
}

// With noise, g̃ after a long run is Gaussian around F⁻¹g with the
// stationary covariance of the discrete scheme, Σ = κ₀F⁻¹(I − δtF/2)⁻¹
// (solve Σ = (I − hF)Σ(I − hF) + 2κ₀hI), so E‖g̃ − F⁻¹g‖² =
// κ₀ Σ_e 1/(λ_e(1 − hλ_e/2)). Averaged over 24 independent iterations (K)
// of a 39-parameter model the estimate's relative standard error is about
// sqrt(2/(24·39)) ≈ 5 %; the test allows 20 %.
func TestEulerNoiseCovariance(t *testing.T) {
	ctx := context.Background()
	it := tinyIteration(t, []int{5, 4, 3}, Tanh, 6, 14)
	vals, _ := eigF(t, it)
	ngd, err := DenseDirection(it)
	require.NoError(t, err)
	const kappa, h = 1e-4, 0.1
	want := 0.0
	for _, l := range vals {
		want += kappa / (l * (1 - h*l/2))
	}
	o, err := NewTNGDEuler(EulerOptions{T: 200, Dt: h, Kappa: kappa, Seed: 7})
	require.NoError(t, err)
	const runs = 24
	got := 0.0
	var first []float64
	for k := range runs {
		require.NoError(t, o.SetState(nil)) // each run from g: e^{−λt} = e^{−10}
		it.K = k
		d, _, err := o.Direction(ctx, it)
		require.NoError(t, err)
		if k == 0 {
			first = d
		}
		for i := range d {
			got += (d[i] - ngd[i]) * (d[i] - ngd[i])
		}
	}
	got /= runs
	assert.InEpsilon(t, want, got, 0.2, "E‖g̃ − F⁻¹g‖²")
	// Same seed and iteration, same noise.
	require.NoError(t, o.SetState(nil))
	it.K = 0
	again, _, err := o.Direction(ctx, it)
	require.NoError(t, err)
	assert.Equal(t, first, again)
}

func TestEulerErrors(t *testing.T) {
	for _, o := range []EulerOptions{{LR: -1}, {T: -1}, {Dt: math.NaN()}, {Kappa: -1}, {T: math.Inf(1)}} {
		_, err := NewTNGDEuler(o)
		require.ErrorIs(t, err, hal.ErrInvalid, "%+v", o)
	}
	o, err := NewTNGDEuler(EulerOptions{})
	require.NoError(t, err)
	assert.Equal(t, EulerOptions{LR: 0.01, T: 50, Dt: 0.1}, o.Options())
	assert.Equal(t, "tngd-em", o.Name())

	// δt·λ_max(F) > 2 diverges: a clear error, parameters untouched.
	it := tinyIteration(t, []int{4, 3, 3}, Tanh, 4, 15)
	vals, _ := eigF(t, it)
	bad, err := NewTNGDEuler(EulerOptions{T: 2000, Dt: 2.5 / vals[len(vals)-1]})
	require.NoError(t, err)
	before := append([]float64(nil), it.Model.Params()...)
	_, err = bad.Step(context.Background(), it)
	require.ErrorIs(t, err, hal.ErrUnstable)
	assert.Contains(t, err.Error(), "2/λ_max(F)")
	assert.Equal(t, before, it.Model.Params())
	assert.Empty(t, bad.State(), "a failed step does not become the warm start")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = o.Step(ctx, it)
	require.ErrorIs(t, err, context.Canceled)
}

// The dual-space integration (dualRun) and the matrix-free one (primalRun)
// compute the same iterates: x_k = α_k x₀ + β_k g + Uᵀz_k is an identity of
// the recurrence, so they differ by rounding only — about 1e-15 per step,
// grown at most by the contraction-free directions over 250 steps, far
// below 1e-11 here. Both start warm (from an earlier g̃), end with a shorter
// step and detect divergence and cancellation alike.
func TestEulerDualMatchesPrimal(t *testing.T) {
	ctx := context.Background()
	for i, net := range tinyNets {
		it := tinyIteration(t, net.sizes, net.act, 5, uint64(20+i))
		vals, _ := eigF(t, it)
		var got [2][]float64
		for j, mode := range []eulerMode{eulerPrimal, eulerDual} {
			o, err := NewTNGDEuler(EulerOptions{T: 25.05, Dt: 0.1})
			require.NoError(t, err)
			o.mode = mode
			require.NoError(t, o.SetState(it.Grad[:len(it.Grad)/2:len(it.Grad)/2])) // wrong length: starts from g
			_, _, err = o.Direction(ctx, it)
			require.NoError(t, err)
			d, st, err := o.Direction(ctx, it) // warm start from the first g̃
			require.NoError(t, err)
			assert.Equal(t, 251, st.Iterations)
			got[j] = d

			dt := 2.5 / vals[len(vals)-1]
			bad, err := NewTNGDEuler(EulerOptions{T: 1000 * dt, Dt: dt})
			require.NoError(t, err)
			bad.mode = mode
			_, st, err = bad.Direction(ctx, it)
			require.ErrorIs(t, err, hal.ErrUnstable, "%v mode %d", net.sizes, mode)
			assert.Less(t, st.Iterations, 1000, "stopped early")

			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, _, err = o.Direction(cctx, it)
			require.ErrorIs(t, err, context.Canceled)
		}
		assert.Less(t, testnum.RelErr(got[1], got[0]), 1e-11, "%v", net.sizes)
	}
}
