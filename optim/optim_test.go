package optim

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
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

// tinyIteration is an Iteration (λ = 0.05) of a small random network with
// non-zero biases on a random batch.
func tinyIteration(t *testing.T, sizes []int, act Activation, b int, seed uint64) *Iteration {
	t.Helper()
	m, err := NewMLP(sizes, act, seed)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(seed, 9))
	for i := range m.Params() {
		m.Params()[i] += 0.1 * r.NormFloat64()
	}
	it, err := NewIteration(0, m, tinyBatch(r, b, sizes[0], max(sizes[len(sizes)-1], 2)), 0.05)
	require.NoError(t, err)
	return it
}

var tinyNets = []struct {
	sizes []int
	act   Activation
}{
	{[]int{5, 4, 3}, Tanh},
	{[]int{5, 4, 3}, ReLU},
	{[]int{3, 6, 4, 1}, Tanh}, // one logistic output, two hidden layers
	{[]int{4, 5, 3, 4}, ReLU},
}

// Central differences (f(θ+h) − f(θ−h))/2h have truncation error
// h²·f⁽³⁾/6 and round-off about ε·|f|/h. The losses here are O(1) with
// third derivatives O(1–10), so with h = 1e-5 the truncation error is
// ≲ 2e-10 and the round-off ≈ 2e-16/1e-5 = 2e-11: the finite difference is
// good to ~1e-9. The test allows 1e-6 relative to the gradient's largest
// entry (O(0.1–1) here), a 100× margin over the FD error, while any wrong
// term in backprop (a missing bias, derivative or 1/b) is an O(|g|) error.
// ReLU kinks: a pre-activation within h of 0 would break the difference;
// with these seeds none is (the probability is ~1e-5 per unit).
func TestGradientFiniteDifferences(t *testing.T) {
	for _, c := range tinyNets {
		it := tinyIteration(t, c.sizes, c.act, 7, 1)
		m := it.Model
		theta := m.Params()
		gmax := 0.0
		for _, g := range it.Grad {
			gmax = math.Max(gmax, math.Abs(g))
		}
		require.Greater(t, gmax, 1e-3)
		const h = 1e-5
		for i := range theta {
			old := theta[i]
			theta[i] = old + h
			lp, _, err := m.Evaluate(it.Batch)
			require.NoError(t, err)
			theta[i] = old - h
			lm, _, err := m.Evaluate(it.Batch)
			require.NoError(t, err)
			theta[i] = old
			assert.InDelta(t, (lp-lm)/(2*h), it.Grad[i], 1e-6*gmax, "%v %v param %d", c.sizes, c.act, i)
		}
		loss, acc, err := m.Evaluate(it.Batch)
		require.NoError(t, err)
		assert.Equal(t, it.Loss, loss)
		assert.Equal(t, it.Accuracy, acc)
	}
}

// denseJ differentiates the logits numerically: an independent J. The
// logits are piecewise smooth in θ with O(1) second derivatives, so the
// central difference with h = 1e-6 is good to ~1e-10.
func denseJ(t *testing.T, it *Iteration) *mat.Dense {
	t.Helper()
	m := it.Model
	theta := m.Params()
	rows := it.Rows()
	j := mat.NewDense(rows, len(theta), nil)
	const h = 1e-6
	for c := range theta {
		old := theta[c]
		theta[c] = old + h
		lp, err := m.Logits(it.Batch.X)
		require.NoError(t, err)
		theta[c] = old - h
		lm, err := m.Logits(it.Batch.X)
		require.NoError(t, err)
		theta[c] = old
		for r := range rows {
			j.Set(r, c, (lp[r]-lm[r])/(2*h))
		}
	}
	return j
}

// blockDiag expands per-sample k × k blocks into a dense matrix.
func blockDiag(blocks []float64, b, k int) *mat.Dense {
	d := mat.NewDense(b*k, b*k, nil)
	for s := range b {
		for a := range k {
			for c := range k {
				d.Set(s*k+a, s*k+c, blocks[s*k*k+a*k+c])
			}
		}
	}
	return d
}

func testVec(n int, phase float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Sin(1.3*float64(i) + phase)
	}
	return v
}

// assertProbes checks the linear map apply against the matrix want column
// by column: apply(dst, e_c) must be want's column c to 1e-7. name and
// sizes label a failure.
func assertProbes(t *testing.T, want mat.Matrix, apply func(dst, v []float64), name string, sizes any) {
	t.Helper()
	rows, n := want.Dims()
	e := make([]float64, n)
	col := make([]float64, rows)
	for cc := range n {
		clear(e)
		e[cc] = 1
		apply(col, e)
		for r := range rows {
			assert.InDelta(t, want.At(r, cc), col[r], 1e-7, "%s[%d][%d] %v", name, r, cc, sizes)
		}
	}
}

// J as the structured blocks give it — through hal's reference products,
// through the package's GEMM products and column by column — against
// finite differences of the logits.
func TestJacobianAgainstFiniteDifferences(t *testing.T) {
	for _, c := range tinyNets {
		it := tinyIteration(t, c.sizes, c.act, 5, 2)
		f := it.Factorization()
		require.NoError(t, f.Validate(it.Model.NumParams()))
		jd := denseJ(t, it)
		rows, n := jd.Dims()
		require.Equal(t, it.Rows(), rows)
		// Column by column through the package's products (ggn.MulVec),
		// row by row through ggn.MulTransVec.
		assertProbes(t, jd, it.JVec, "J", c.sizes)
		assertProbes(t, jd.T(), it.JTVec, "Jᵀ", c.sizes)
		// The GEMM-based products agree to round-off with J formed entry by
		// entry (ggn.Dense) times the vector.
		jf := mat.NewDense(rows, n, nil)
		ggn.Dense(jf.RawMatrix().Data, &f.J)
		v, y := testVec(n, 0), testVec(rows, 1)
		var want, wantT mat.VecDense
		want.MulVec(jf, mat.NewVecDense(n, v))
		got := make([]float64, rows)
		it.JVec(got, v)
		assert.Less(t, testnum.RelErr(got, want.RawVector().Data), 1e-14)
		wantT.MulVec(jf.T(), mat.NewVecDense(rows, y))
		gotT := make([]float64, n)
		it.JTVec(gotT, y)
		assert.Less(t, testnum.RelErr(gotT, wantT.RawVector().Data), 1e-14)
	}
}

// H against the numerical Hessian of one example's loss in its logits:
// shifting the output bias o shifts logit o alone by the same amount, and
// the loss gradient in that bias is p − onehot(y) (σ − y for one output),
// so differencing the output-bias gradient of a one-example batch is
// ∂²loss/∂z∂z — with no use of the closed form diag(p) − ppᵀ.
func TestHAgainstSoftmaxHessian(t *testing.T) {
	for _, c := range tinyNets {
		it := tinyIteration(t, c.sizes, c.act, 4, 3)
		m := it.Model
		f := it.Factorization()
		k := m.Outputs()
		last := m.Layers() - 1
		in := m.Sizes[last]
		bias := func(o int) int { return m.Offset(last) + o*(in+1) + in }
		for s := range it.Batch.Size() {
			one := it.Batch.Slice(s, s+1, m.Inputs())
			const h = 1e-5
			for o := range k {
				th := m.Params()
				old := th[bias(o)]
				th[bias(o)] = old + h
				ip, err := NewIteration(0, m, one, 0)
				require.NoError(t, err)
				th[bias(o)] = old - h
				im, err := NewIteration(0, m, one, 0)
				require.NoError(t, err)
				th[bias(o)] = old
				for a := range k {
					fd := (ip.Grad[bias(a)] - im.Grad[bias(a)]) / (2 * h)
					assert.InDelta(t, fd, f.H[s*k*k+a*k+o], 1e-9, "%v H_%d[%d][%d]", c.sizes, s, a, o)
				}
			}
		}
		// Rows of a softmax H sum to zero (shifting all logits changes nothing).
		if k > 1 {
			for r := range it.Rows() {
				sum := 0.0
				for a := range k {
					sum += f.H[(r/k)*k*k+(r%k)*k+a]
				}
				assert.InDelta(t, 0, sum, 1e-15)
			}
		}
	}
}

// denseCurv builds, from the finite-difference J, the dense F = λI +
// (1/b)JᵀHJ and U = b^{−1/2}H^{1/2}J, with H^{1/2} from mat.EigenSym of
// the whole block-diagonal H (independent of the per-block code).
func denseCurv(t *testing.T, it *Iteration) (fd, ud *mat.Dense) {
	t.Helper()
	f := it.Factorization()
	jd := denseJ(t, it)
	rows, n := jd.Dims()
	k := it.Model.Outputs()
	hm := blockDiag(f.H, it.Batch.Size(), k)
	var hj mat.Dense
	hj.Mul(hm, jd)
	fd = mat.NewDense(n, n, nil)
	fd.Mul(jd.T(), &hj)
	fd.Scale(f.Scale, fd)
	for i := range n {
		fd.Set(i, i, fd.At(i, i)+it.Lambda)
	}
	var eig mat.EigenSym
	require.True(t, eig.Factorize(mat.NewSymDense(rows, hm.RawMatrix().Data), true))
	var v mat.Dense
	eig.VectorsTo(&v)
	vals := eig.Values(nil)
	sq := mat.NewDiagDense(rows, nil)
	for i, l := range vals {
		sq.SetDiag(i, math.Sqrt(math.Max(l, 0)))
	}
	var tmp, hh mat.Dense
	tmp.Mul(&v, sq)
	hh.Mul(&tmp, v.T())
	ud = mat.NewDense(rows, n, nil)
	ud.Mul(&hh, jd)
	ud.Scale(math.Sqrt(f.Scale), ud)
	return fd, ud
}

func TestCurvatureAgainstDense(t *testing.T) {
	for _, c := range tinyNets {
		it := tinyIteration(t, c.sizes, c.act, 5, 4)
		f := it.Factorization()
		n, rows := it.Model.NumParams(), it.Rows()
		fd, ud := denseCurv(t, it)
		k := it.Model.Outputs()

		// H^{1/2} squares to H.
		hh := blockDiag(it.HalfH(), it.Batch.Size(), k)
		var sq mat.Dense
		sq.Mul(hh, hh)
		assert.Less(t, testnum.MaxAbsDiff(&sq, blockDiag(f.H, it.Batch.Size(), k)), 1e-14, "H^{1/2}² = H %v", c.sizes)

		// F v matrix-free.
		v := testVec(n, 0.5)
		fv := make([]float64, n)
		it.FVec(fv, v)
		var want mat.VecDense
		want.MulVec(fd, mat.NewVecDense(n, v))
		assert.Less(t, testnum.RelErr(fv, want.RawVector().Data), 1e-8, "F v %v", c.sizes)

		// F dense.
		fdense, err := it.DenseF()
		require.NoError(t, err)
		assert.Less(t, testnum.MaxAbsDiff(fdense, fd), 1e-8, "DenseF %v", c.sizes)

		// U v, Uᵀ y and F = λI + UᵀU.
		uv := make([]float64, rows)
		it.U(uv, v)
		var wantU, wantUT mat.VecDense
		wantU.MulVec(ud, mat.NewVecDense(n, v))
		assert.Less(t, testnum.RelErr(uv, wantU.RawVector().Data), 1e-8, "U v %v", c.sizes)
		y := testVec(rows, 2)
		uty := make([]float64, n)
		it.UT(uty, y)
		wantUT.MulVec(ud.T(), mat.NewVecDense(rows, y))
		assert.Less(t, testnum.RelErr(uty, wantUT.RawVector().Data), 1e-8, "Uᵀ y %v", c.sizes)
		var utu mat.Dense
		utu.Mul(ud.T(), ud)
		for i := range n {
			utu.Set(i, i, utu.At(i, i)+it.Lambda)
		}
		assert.Less(t, testnum.MaxAbsDiff(&utu, fd), 1e-8, "λI + UᵀU = F %v", c.sizes)

		// G = U Uᵀ, and the hal reference Gram of the structured U.
		var uut mat.Dense
		uut.Mul(ud, ud.T())
		g := it.DualGram()
		assert.Equal(t, rows, g.SymmetricDim())
		assert.Less(t, testnum.MaxAbsDiff(g, &uut), 1e-8, "G = U Uᵀ %v", c.sizes)
		assert.Less(t, testnum.MaxAbsDiff(g, denseGram(it.UJacobian())), 1e-14, "U Uᵀ of U formed entry by entry %v", c.sizes)
		raw := g.RawSymmetric()
		for r := range rows {
			for cc := range rows {
				require.Equal(t, raw.Data[r*raw.Stride+cc], raw.Data[cc*raw.Stride+r], "both triangles filled")
			}
		}
	}
}

// The dual Gram of a batch with many rows exercises the parallel row
// split: it must match U Uᵀ of the dense U exactly up to round-off.
func TestDualGramLargeBatch(t *testing.T) {
	it := tinyIteration(t, []int{20, 12, 10}, Tanh, 40, 5) // m = 400
	g := it.DualGram()
	assert.Less(t, testnum.MaxAbsDiff(g, denseGram(it.UJacobian())), 1e-13)
}

// denseGram is U Uᵀ from U formed entry by entry (ggn.Dense), by gonum.
func denseGram(u *hal.Jacobian) *mat.Dense {
	ud := mat.NewDense(u.Rows, u.Cols, nil)
	ggn.Dense(ud.RawMatrix().Data, u)
	var g mat.Dense
	g.Mul(ud, ud.T())
	return &g
}

// The curvature belongs to the parameters of the forward pass, even when
// it is first asked for after an optimiser has moved them.
func TestCurvatureAfterUpdate(t *testing.T) {
	a := tinyIteration(t, []int{4, 5, 3}, Tanh, 3, 6)
	b, err := NewIteration(0, a.Model.Clone(), a.Batch, a.Lambda)
	require.NoError(t, err)
	want := b.DualGram()
	_, err = (&SGD{LR: 0.5}).Step(context.Background(), a)
	require.NoError(t, err)
	assert.Equal(t, 0.0, testnum.MaxAbsDiff(a.DualGram(), want))
}

func TestWoodburyAndCGAreExactNGD(t *testing.T) {
	for _, c := range []struct {
		sizes []int
		batch int
	}{
		{[]int{6, 5, 4}, 3},    // m = 12 < N = 55: the low-rank case
		{[]int{3, 4, 1}, 3},    // one output
		{[]int{2, 3, 3}, 10},   // m = 30 > N = 18
		{[]int{5, 4, 3, 4}, 4}, // two hidden layers
	} {
		it := tinyIteration(t, c.sizes, ReLU, c.batch, 3)
		dense, err := DenseDirection(it)
		require.NoError(t, err)
		wood, err := WoodburyDirection(it)
		require.NoError(t, err)
		assert.Less(t, testnum.RelErr(wood, dense), 1e-8, "woodbury %v", c.sizes)
		y, err := WoodburyDual(it)
		require.NoError(t, err)
		assert.Equal(t, wood, WoodburyBack(it, y))

		// CG stops at relative residual ≤ tol; the error is then at most
		// κ(F)·tol relative.
		fd, err := it.DenseF()
		require.NoError(t, err)
		var eig mat.EigenSym
		require.True(t, eig.Factorize(fd, false))
		vals := eig.Values(nil)
		kappa := vals[len(vals)-1] / vals[0]
		const tol = 1e-8
		cg := &NGDCG{LR: 1, Tol: tol, MaxIter: 1000}
		d, st, err := cg.Direction(context.Background(), it)
		require.NoError(t, err)
		fdv := make([]float64, len(d))
		it.FVec(fdv, d)
		assert.Less(t, testnum.RelErr(fdv, it.Grad), 2*tol, "CG residual %v", c.sizes)
		assert.LessOrEqual(t, st.Residual, tol)
		assert.Less(t, testnum.RelErr(d, dense), kappa*tol, "CG error %v (κ = %.3g, %d iterations)", c.sizes, kappa, st.Iterations)
	}
}

func TestNGDStepsAlongDirection(t *testing.T) {
	for _, o := range []Director{&NGD{LR: 0.3}, &NGDWoodbury{LR: 0.3}, &NGDCG{LR: 0.3, Tol: 1e-12, MaxIter: 500}} {
		it := tinyIteration(t, []int{4, 3, 3}, Tanh, 4, 8)
		before := append([]float64(nil), it.Model.Params()...)
		d, err := DenseDirection(it)
		require.NoError(t, err)
		_, err = o.Step(context.Background(), it)
		require.NoError(t, err, o.Name())
		for i, th := range it.Model.Params() {
			assert.InDelta(t, before[i]-0.3*d[i], th, 1e-9, "%s θ[%d]", o.Name(), i)
		}
	}
}

func TestOptimizerErrors(t *testing.T) {
	ctx := context.Background()
	big, err := NewMLP([]int{100, 50, 10}, Tanh, 1) // N = 5560
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 1))
	it, err := NewIteration(0, big, tinyBatch(r, 2, 100, 10), 0.1)
	require.NoError(t, err)
	_, err = (&NGD{LR: 1}).Step(ctx, it)
	require.ErrorIs(t, err, hal.ErrUnsupported)
	assert.Contains(t, err.Error(), "5560")
	assert.Contains(t, err.Error(), "ngd-woodbury")

	small := tinyIteration(t, []int{3, 2}, Tanh, 2, 1)
	for _, o := range []Optimizer{&SGD{}, &Adam{}, &NGD{}, &NGDCG{}, &NGDWoodbury{LR: -1}} {
		_, err := o.Step(ctx, small)
		require.ErrorIs(t, err, hal.ErrInvalid, o.Name())
		assert.Contains(t, err.Error(), "learning rate", o.Name())
	}
	small.Lambda = 0
	_, err = WoodburyDirection(small)
	require.ErrorIs(t, err, hal.ErrInvalid)

	_, err = NewIteration(0, small.Model, small.Batch, math.NaN())
	require.ErrorIs(t, err, hal.ErrInvalid)
	_, err = NewIteration(0, small.Model, Batch{X: []float64{1, 2}, Y: []int{0}}, 0)
	require.ErrorIs(t, err, ErrData)
	_, err = NewIteration(0, small.Model, Batch{X: []float64{1, 2, 3}, Y: []int{2}}, 0)
	require.ErrorIs(t, err, ErrData)
	_, err = NewMLP([]int{3}, Tanh, 1)
	require.ErrorIs(t, err, ErrModel)
	_, err = ParseActivation("sigmoid")
	require.ErrorIs(t, err, ErrModel)
	a, err := ParseActivation("ReLU")
	require.NoError(t, err)
	assert.Equal(t, "relu", a.String())
}

func TestSGDStepByHand(t *testing.T) {
	m, err := NewMLP([]int{1, 1}, Tanh, 1)
	require.NoError(t, err)
	copy(m.Params(), []float64{0.5, -0.25})
	it := &Iteration{Model: m, Grad: []float64{2, -4}}
	sgd := &SGD{LR: 0.1, Momentum: 0.5}
	_, err = sgd.Step(context.Background(), it)
	require.NoError(t, err)
	// v = g = (2, −4); θ = (0.5 − 0.2, −0.25 + 0.4).
	assert.InDeltaSlice(t, []float64{0.3, 0.15}, m.Params(), 1e-15)
	_, err = sgd.Step(context.Background(), it)
	require.NoError(t, err)
	// v = 0.5·(2, −4) + (2, −4) = (3, −6); θ = (0.3 − 0.3, 0.15 + 0.6).
	assert.InDeltaSlice(t, []float64{0, 0.75}, m.Params(), 1e-15)
	assert.Equal(t, []float64{3, -6}, sgd.State())
}

func TestAdamStepByHand(t *testing.T) {
	m, err := NewMLP([]int{1, 1}, Tanh, 1)
	require.NoError(t, err)
	copy(m.Params(), []float64{0.5, -0.25})
	adam := NewAdam(0.01)
	_, err = adam.Step(context.Background(), &Iteration{Model: m, Grad: []float64{2, -4}})
	require.NoError(t, err)
	// Step 1: m = 0.1g, v = 0.001g², m̂ = g, v̂ = g²: θ −= 0.01·g/(|g| + 1e-8).
	assert.InDeltaSlice(t, []float64{0.49, -0.24}, m.Params(), 1e-9)
	_, err = adam.Step(context.Background(), &Iteration{Model: m, Grad: []float64{1, 1}})
	require.NoError(t, err)
	// Step 2, parameter 0: m = 0.9·0.2 + 0.1·1 = 0.28, v = 0.999·0.004 +
	// 0.001·1 = 0.004996; m̂ = 0.28/0.19, v̂ = 0.004996/0.001999.
	// Parameter 1: m = 0.9·(−0.4) + 0.1 = −0.26, v = 0.999·0.016 + 0.001
	// = 0.016984; m̂ = −0.26/0.19, v̂ = 0.016984/0.001999.
	step := func(mh, vh float64) float64 { return 0.01 * mh / (math.Sqrt(vh) + 1e-8) }
	th0 := 0.5 - step(2, 4)     // step 1 exactly, ε included
	th1 := -0.25 - step(-4, 16) // m̂ = −4, v̂ = 16
	assert.InDelta(t, th0-step(0.28/0.19, 0.004996/0.001999), m.Params()[0], 1e-12)
	assert.InDelta(t, th1-step(-0.26/0.19, 0.016984/0.001999), m.Params()[1], 1e-12)
	assert.InDelta(t, 0.49-0.0093217, m.Params()[0], 1e-6, "0.01·1.47368/1.58090")

	// β = (0, 0), ε = 0 (TNGD-Adam style): a zero gradient leaves θ alone.
	z := &Adam{LR: 0.1}
	before := append([]float64(nil), m.Params()...)
	_, err = z.Step(context.Background(), &Iteration{Model: m, Grad: []float64{0, 3}})
	require.NoError(t, err)
	assert.Equal(t, before[0], m.Params()[0])
	assert.InDelta(t, before[1]-0.1, m.Params()[1], 1e-15)
}

// Saving and restoring an optimiser's state mid-run gives bit-identical
// parameters to an uninterrupted run.
func TestStateResumesBitIdentically(t *testing.T) {
	mk := map[string]func() Optimizer{
		"sgd":  func() Optimizer { return &SGD{LR: 0.05, Momentum: 0.9} },
		"adam": func() Optimizer { return NewAdam(0.01) },
		"tngd-em": func() Optimizer {
			o, err := NewTNGDEuler(EulerOptions{LR: 0.05, T: 3, Kappa: 1e-3, Seed: 4})
			require.NoError(t, err)
			return o
		},
	}
	for name, newOpt := range mk {
		run := func(split int) []float64 {
			m, err := NewMLP([]int{3, 4, 2}, Tanh, 2)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(3, 3))
			o := newOpt()
			for k := range 6 {
				if k == split {
					st := o.(Stateful).State()
					o = newOpt()
					require.NoError(t, o.(Stateful).SetState(st))
				}
				it, err := NewIteration(k, m, tinyBatch(r, 5, 3, 2), 0.1)
				require.NoError(t, err)
				_, err = o.Step(context.Background(), it)
				require.NoError(t, err)
			}
			return m.Params()
		}
		assert.Equal(t, run(-1), run(3), name)
	}
	require.Error(t, NewAdam(0).SetState([]float64{1, 2}))
}

// Adam trains a small MLP on a separable problem: a smoke test that the
// pieces fit together. The label is the XOR of the input signs, which no
// linear model separates.
func TestAdamTrains(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	mk := func(n int) Batch { return xorBatch(r, n) }
	m, err := NewMLP([]int{2, 16, 2}, Tanh, 5)
	require.NoError(t, err)
	test := mk(2000)
	_, before, err := m.Evaluate(test)
	require.NoError(t, err)
	opt := NewAdam(0.02)
	for k := range 400 {
		it, err := NewIteration(k, m, mk(32), 0)
		require.NoError(t, err)
		_, err = opt.Step(context.Background(), it)
		require.NoError(t, err)
	}
	_, acc, err := m.Evaluate(test)
	require.NoError(t, err)
	t.Logf("accuracy %.3f → %.3f", before, acc)
	assert.Greater(t, acc, 0.9)
}

// Evaluate works in chunks; it must agree with one pass over the batch.
func TestEvaluateChunks(t *testing.T) {
	m, err := NewMLP([]int{3, 5, 4}, ReLU, 7)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(7, 7))
	bt := tinyBatch(r, 2*evalChunk+17, 3, 4)
	loss, acc, err := m.Evaluate(bt)
	require.NoError(t, err)
	it, err := NewIteration(0, m, bt, 0)
	require.NoError(t, err)
	assert.InDelta(t, it.Loss, loss, 1e-12)
	assert.InDelta(t, it.Accuracy, acc, 1e-15)
	lg, err := m.Logits(bt.X)
	require.NoError(t, err)
	assert.Len(t, lg, bt.Size()*4)
	// Large logits stay finite (max-subtracted softmax).
	w := m.W(1)
	for i := range w {
		w[i] *= 1e3
	}
	loss, _, err = m.Evaluate(bt)
	require.NoError(t, err)
	assert.False(t, math.IsNaN(loss) || math.IsInf(loss, 0))
}

func TestLayout(t *testing.T) {
	m, err := NewMLP(DefaultSizes(), ReLU, 1)
	require.NoError(t, err)
	assert.Equal(t, 25450, m.NumParams())
	assert.Equal(t, 32*785, m.Offset(1))
	// Biases (the last column of each W) start at zero; weights do not.
	for p := range 32 {
		assert.Zero(t, m.W(0)[p*785+784])
	}
	assert.NotZero(t, m.W(0)[0])
	// Same seed, same parameters; the clone is independent.
	m2, err := NewMLP(DefaultSizes(), ReLU, 1)
	require.NoError(t, err)
	assert.Equal(t, m.Params(), m2.Params())
	c := m.Clone()
	c.Params()[0]++
	assert.NotEqual(t, c.Params()[0], m.Params()[0])
}

// xorBatch draws n examples of the XOR-of-signs task: two standard normal
// inputs, label 1 when they have the same sign. No linear model separates
// it, so an untrained network sits at chance (0.5).
func xorBatch(r *rand.Rand, n int) Batch {
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

// potrs1 against lapack64.Potrs, bit for bit: the same operations in the
// same order (a swapped loop order or a multiplication by the diagonal
// instead of by its reciprocal changes the last bits).
func TestPotrs1MatchesLapack(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, m := range []int{1, 2, 7, 64} {
		x := make([]float64, m*(m+3))
		for i := range x {
			x[i] = r.NormFloat64()
		}
		a := blas64.Symmetric{Uplo: blas.Upper, N: m, Stride: m, Data: make([]float64, m*m)}
		blas64.Syrk(blas.NoTrans, 1, general(m, m+3, m+3, x), 0, a)
		tri, ok := lapack64.Potrf(a)
		require.True(t, ok)
		b := make([]float64, m)
		for i := range b {
			b[i] = r.NormFloat64()
		}
		want := append([]float64(nil), b...)
		lapack64.Potrs(tri, general(m, 1, 1, want))
		potrs1(tri.Data, m, b)
		for i := range b {
			require.Equal(t, math.Float64bits(want[i]), math.Float64bits(b[i]), "m = %d, entry %d", m, i)
		}
	}
}
