package trainer

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func tinyBatch(r *rand.Rand, b, in, classes int) Batch {
	bt := Batch{X: make([]float64, b*in), Y: make([]int, b)}
	for i := range bt.X {
		bt.X[i] = r.NormFloat64()
	}
	for i := range bt.Y {
		bt.Y[i] = r.IntN(classes)
	}
	return bt
}

func tinyIteration(t *testing.T, sizes []int, act Activation, b int, seed uint64) *Iteration {
	t.Helper()
	m, err := NewMLP(sizes, act, seed)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(seed, 9))
	for i := range m.Params() { // non-zero biases too
		m.Params()[i] += 0.1 * r.NormFloat64()
	}
	it, err := NewIteration(0, m, tinyBatch(r, b, sizes[0], max(sizes[len(sizes)-1], 2)), 0.05)
	require.NoError(t, err)
	return it
}

// Central differences have truncation error O(h²·f⁽³⁾) and round-off
// O(ε·|f|/h); with h = 1e-5 both are below ~1e-9 for these O(1) losses, so
// 1e-6 absolute leaves a wide margin while catching any wrong term.
func TestGradientFiniteDifferences(t *testing.T) {
	for _, c := range []struct {
		sizes []int
		act   Activation
	}{{[]int{5, 4, 3}, Tanh}, {[]int{5, 4, 3}, ReLU}, {[]int{3, 6, 4, 1}, Tanh}} {
		it := tinyIteration(t, c.sizes, c.act, 7, 1)
		m := it.Model
		theta := m.Params()
		const h = 1e-5
		for i := range theta {
			old := theta[i]
			theta[i] = old + h
			lp, _, err := m.Evaluate(it.Batch)
			require.NoError(t, err)
			theta[i] = old - h
			lm, _, _ := m.Evaluate(it.Batch)
			theta[i] = old
			assert.InDelta(t, (lp-lm)/(2*h), it.Grad[i], 1e-6, "%v %v param %d", c.sizes, c.act, i)
		}
	}
}

// denseJ differentiates the logits numerically: an independent J.
func denseJ(t *testing.T, it *Iteration) *mat.Dense {
	m := it.Model
	theta := m.Params()
	rows := it.Rows()
	j := mat.NewDense(rows, len(theta), nil)
	const h = 1e-6
	for c := range theta {
		old := theta[c]
		theta[c] = old + h
		lp := append([]float64(nil), m.forward(it.Batch, false).logits...)
		theta[c] = old - h
		lm := m.forward(it.Batch, false).logits
		theta[c] = old
		for r := range rows {
			j.Set(r, c, (lp[r]-lm[r])/(2*h))
		}
	}
	return j
}

func TestJacobianAndCurvature(t *testing.T) {
	for _, sizes := range [][]int{{4, 5, 3}, {3, 4, 1}} {
		it := tinyIteration(t, sizes, Tanh, 5, 2)
		f := it.Factorization()
		require.NoError(t, f.Validate(it.Model.NumParams()))
		jd := denseJ(t, it)
		rows, n := jd.Dims()
		// J from the structured blocks, column by column.
		e := make([]float64, n)
		col := make([]float64, rows)
		for c := range n {
			clear(e)
			e[c] = 1
			f.J.MulVec(col, e)
			for r := range rows {
				assert.InDelta(t, jd.At(r, c), col[r], 1e-7, "J[%d][%d] %v", r, c, sizes)
			}
		}
		// H: the Hessian of the per-sample loss in the logits, closed form.
		k := sizes[len(sizes)-1]
		for s := range it.Batch.Size() {
			p := it.ps.prob[s*k : (s+1)*k]
			for a := range k {
				for c := range k {
					want := -p[a] * p[c]
					if a == c {
						want += p[a]
					}
					assert.InDelta(t, want, f.H[s*k*k+a*k+c], 1e-15)
				}
			}
		}
		// Dense F = λI + (1/b) Jᵀ H J and U = b^{-1/2} H^{1/2} J.
		hm := mat.NewDense(rows, rows, nil)
		for s := range it.Batch.Size() {
			for a := range k {
				for c := range k {
					hm.Set(s*k+a, s*k+c, f.H[s*k*k+a*k+c])
				}
			}
		}
		var hj, fd mat.Dense
		hj.Mul(hm, jd)
		fd.Mul(jd.T(), &hj)
		fd.Scale(f.Scale, &fd)
		for i := range n {
			fd.Set(i, i, fd.At(i, i)+it.Lambda)
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Sin(float64(i))
		}
		fv := make([]float64, n)
		it.FVec(fv, v)
		var want mat.VecDense
		want.MulVec(&fd, mat.NewVecDense(n, v))
		for i := range n {
			assert.InDelta(t, want.AtVec(i), fv[i], 1e-6)
		}
		// G = U Uᵀ must equal (1/b) H^{1/2} J Jᵀ H^{1/2}; check U Uᵀ
		// through U and Uᵀ products and the U Uᵀ = dense H-weighted Gram
		// identity vᵀGv = (1/b) (Jᵀ H^{1/2} v)ᵀ(Jᵀ H^{1/2} v).
		g := it.DualGram()
		var jjt, hjjt, want2 mat.Dense
		jjt.Mul(jd, jd.T())
		hh := mat.NewDense(rows, rows, nil)
		half := it.HalfH()
		for s := range it.Batch.Size() {
			for a := range k {
				for c := range k {
					hh.Set(s*k+a, s*k+c, half[s*k*k+a*k+c])
				}
			}
		}
		var hsq mat.Dense
		hsq.Mul(hh, hh)
		assert.InDelta(t, 0, maxDiff(&hsq, hm), 1e-12, "H^{1/2} squared is H")
		hjjt.Mul(hh, &jjt)
		want2.Mul(&hjjt, hh)
		want2.Scale(f.Scale, &want2)
		assert.InDelta(t, 0, maxDiff(&want2, g), 1e-7, "dual Gram %v", sizes)
	}
}

func maxDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	d := 0.0
	for i := range r {
		for j := range c {
			d = math.Max(d, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return d
}

func relErr(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	return math.Sqrt(num / den)
}

func TestWoodburyIsExactNGD(t *testing.T) {
	for _, sizes := range [][]int{{6, 5, 4}, {3, 4, 1}} {
		it := tinyIteration(t, sizes, ReLU, 3, 3) // m < N: the low-rank case
		dense, err := DenseDirection(it)
		require.NoError(t, err)
		wood, err := WoodburyDirection(it)
		require.NoError(t, err)
		assert.Less(t, relErr(wood, dense), 1e-8, "%v", sizes)
		x, k, _ := cg(it, 1e-10, 500)
		assert.Less(t, relErr(x, dense), 1e-7, "CG after %d iterations", k)
	}
}

func TestSGDAndAdamStep(t *testing.T) {
	m, err := NewMLP([]int{1, 1}, Tanh, 1)
	require.NoError(t, err)
	copy(m.Params(), []float64{0.5, -0.25})
	it := &Iteration{Model: m, Grad: []float64{2, -4}}
	sgd := &SGD{LR: 0.1, Momentum: 0.5}
	_, err = sgd.Step(context.Background(), it)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{0.3, 0.15}, m.Params(), 1e-15)
	_, _ = sgd.Step(context.Background(), it) // v = 0.5·g + g = 1.5g
	assert.InDeltaSlice(t, []float64{0.3 - 0.3, 0.15 + 0.6}, m.Params(), 1e-15)

	copy(m.Params(), []float64{0.5, -0.25})
	adam := NewAdam(0.01)
	_, err = adam.Step(context.Background(), it)
	require.NoError(t, err)
	// First bias-corrected Adam step is lr·sign(g) up to ε.
	assert.InDeltaSlice(t, []float64{0.49, -0.24}, m.Params(), 1e-8)
	st := adam.State()
	b := NewAdam(0.01)
	require.NoError(t, b.SetState(st))
	assert.Equal(t, st, b.State())
}

// Adam trains a small MLP on a separable problem: a smoke test that the
// pieces fit together.
func TestAdamTrains(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	mk := func(n int) Batch {
		bt := Batch{X: make([]float64, 2*n), Y: make([]int, n)}
		for i := range n {
			x, y := r.NormFloat64(), r.NormFloat64()
			bt.X[2*i], bt.X[2*i+1] = x, y
			if x*y > 0 {
				bt.Y[i] = 1
			}
		}
		return bt
	}
	m, err := NewMLP([]int{2, 16, 2}, Tanh, 5)
	require.NoError(t, err)
	opt := NewAdam(0.02)
	for k := range 600 {
		it, err := NewIteration(k, m, mk(32), 0)
		require.NoError(t, err)
		_, err = opt.Step(context.Background(), it)
		require.NoError(t, err)
	}
	_, acc, err := m.Evaluate(mk(1000))
	require.NoError(t, err)
	assert.Greater(t, acc, 0.9)
}
