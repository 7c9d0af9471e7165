package tngd

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

func relDiff(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}

// exp[0,x,y] is the (0,2) entry of exp([[0,1,0],[0,x,1],[0,0,y]]).
func TestExpDD02AgainstMatrixExp(t *testing.T) {
	for _, c := range [][2]float64{
		{0, 0}, {-1e-9, -2e-9}, {-0.3, -0.3}, {-0.5, -4}, {-3, -3.0000001}, {-7, -19}, {-0.01, -25}, {2, -1},
	} {
		x, y := c[0], c[1]
		var e mat.Dense
		e.Exp(mat.NewDense(3, 3, []float64{0, 1, 0, 0, x, 1, 0, 0, y}))
		assert.Less(t, relDiff(e.At(0, 2), expDD02(x, y)), 1e-13, "x=%g y=%g", x, y)
	}
	// Far apart and large, the naive formula has no cancellation:
	// exp[0,x,y] = (φ₁(y) − φ₁(x))/(y − x).
	for _, c := range [][2]float64{{-50, -5e3}, {-1e3, -1e6}, {-2, -3e8}} {
		x, y := c[0], c[1]
		want := (phi1(y) - phi1(x)) / (y - x)
		assert.Less(t, relDiff(want, expDD02(x, y)), 1e-13, "x=%g y=%g", x, y)
	}
	// Confluent: exp[0,x,x] = d/dx φ₁(x) = (e^x(x − 1) + 1)/x².
	x := -6.0
	assert.Less(t, relDiff((math.Exp(x)*(x-1)+1)/(x*x), expDD02(x, x)), 1e-13)
}

// ψ₂ and ψ₃ are the divided differences of f₂ and f₃: checked against the
// naive quotient where it has no cancellation, and against the derivative
// f'(λ) as s → 0, where the naive quotient would lose every digit.
func TestPsiFunctions(t *testing.T) {
	f2 := func(a, t float64) float64 { return -math.Expm1(-a*t) / a }
	f3 := func(a, t, k float64) float64 { return math.Sqrt(-k * math.Expm1(-2*a*t) / a) }
	for _, c := range []struct{ t, lam, kappa float64 }{{0.1, 0.01, 1e-6}, {50, 0.01, 1e-6}, {3, 2, 0.3}, {1e4, 0.5, 1}} {
		tf := newTransFuncs(c.t, c.lam, c.kappa)
		assert.Less(t, relDiff(f2(c.lam, c.t), tf.f2), 1e-14)
		assert.Less(t, relDiff(f3(c.lam, c.t, c.kappa), tf.f3), 1e-14)
		for _, s := range []float64{c.lam, 1, 10, 1e3} {
			naive2 := (f2(c.lam+s, c.t) - f2(c.lam, c.t)) / s
			naive3 := (f3(c.lam+s, c.t, c.kappa) - f3(c.lam, c.t, c.kappa)) / s
			assert.Less(t, relDiff(naive2, tf.psi2(s)), 1e-11, "ψ₂ t=%g λ=%g s=%g", c.t, c.lam, s)
			assert.Less(t, relDiff(naive3, tf.psi3(s)), 1e-11, "ψ₃ t=%g λ=%g s=%g", c.t, c.lam, s)
		}
		// f₂'(a) = (a t e^{−at} − (1 − e^{−at}))/a², by a central
		// difference of f₂ at a step where it is accurate to ~1e-9.
		h := 1e-4 * c.lam
		d2 := (f2(c.lam+h, c.t) - f2(c.lam-h, c.t)) / (2 * h)
		d3 := (f3(c.lam+h, c.t, c.kappa) - f3(c.lam-h, c.t, c.kappa)) / (2 * h)
		for _, s := range []float64{0, 1e-300, 1e-14 * c.lam} {
			assert.Less(t, relDiff(d2, tf.psi2(s)), 1e-7, "ψ₂(%g) t=%g λ=%g", s, c.t, c.lam)
			assert.Less(t, relDiff(d3, tf.psi3(s)), 1e-7, "ψ₃(%g) t=%g λ=%g", s, c.t, c.lam)
		}
	}
}

func randomTridiag(r *rand.Rand, k int, spread float64) (alpha, beta []float64) {
	alpha, beta = make([]float64, k), make([]float64, k-1)
	for i := range alpha {
		alpha[i] = spread * r.Float64()
	}
	for i := range beta {
		beta[i] = r.NormFloat64()
	}
	return alpha, beta
}

// The rotation-recording QL gives f(T)e₁ as a dense eigendecomposition does.
func TestTriEigApply(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	var te triEig
	for _, k := range []int{1, 2, 3, 10, 57, 200} {
		alpha, beta := randomTridiag(r, k, 10)
		if k > 20 {
			beta[k/2] = 1e-300 // a split
		}
		f := func(x float64) float64 { return math.Exp(-0.3 * x) }
		got, want := make([]float64, k), make([]float64, k)
		require.True(t, te.factor(alpha, beta))
		te.apply(got, f)
		require.True(t, denseTriApply(want, alpha, beta, f))
		for i := range k {
			assert.InDelta(t, want[i], got[i], 1e-13*floats.Norm(want, 2)+1e-300, "k=%d i=%d", k, i)
		}
	}
}

// Lanczos on a PSD G with a spread spectrum agrees with the
// eigendecomposition path to the stated tolerance.
func TestLanczosAgainstEig(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const m, rank = 150, 120
	// G = B Bᵀ with decaying columns: a GGN-like spectrum up to ~100.
	bm := mat.NewDense(m, rank, nil)
	for j := range rank {
		s := 10 * math.Pow(0.95, float64(j))
		for i := range m {
			bm.Set(i, j, s*r.NormFloat64()/math.Sqrt(m))
		}
	}
	var gd mat.Dense
	gd.Mul(bm, bm.T())
	g := append([]float64(nil), gd.RawMatrix().Data...)
	ge, err := newGramEig(g, m)
	require.NoError(t, err)
	ya, yb := make([]float64, m), make([]float64, m)
	for i := range ya {
		ya[i], yb[i] = r.NormFloat64(), r.NormFloat64()
	}
	var ka, kb krylov
	for _, tt := range []float64{0.1, 5, 50, 1000} {
		tf := newTransFuncs(tt, 0.01, 1e-4)
		want, got, coef := make([]float64, m), make([]float64, m), make([]float64, m)
		ge.apply(ge.psis(&tf), ya, yb, want, coef)
		_, err := lanczos2(context.Background(), g, m, &ka, &kb, ya, tf.psi2, yb, tf.psi3, 1e-10, m, got)
		require.NoError(t, err)
		floats.Sub(got, want)
		rel := floats.Norm(got, 2) / floats.Norm(want, 2)
		t.Logf("t = %gτ: %d and %d Lanczos steps, relative difference %.2g", tt, ka.j, kb.j, rel)
		assert.Less(t, rel, 1e-9, "t = %gτ", tt)
	}
	// A cap below what is needed is an error, and leaves dst untouched.
	tf := newTransFuncs(1000, 0.01, 0)
	dst := make([]float64, m)
	_, err = lanczos2(context.Background(), g, m, &ka, &kb, ya, tf.psi2, nil, nil, 1e-10, 8, dst)
	require.ErrorIs(t, err, ErrNotConverged)
	assert.Zero(t, floats.Norm(dst, 2))
}
