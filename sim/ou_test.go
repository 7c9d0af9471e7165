package sim

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

// lyapunov solves M Σ + Σ Mᵀ = Q by the Kronecker form
// (I⊗M + M⊗I) vec(Σ) = vec(Q): an independent O(k⁶) reference for small k.
func lyapunov(t *testing.T, m, q *mat.Dense) *mat.Dense {
	t.Helper()
	k, _ := m.Dims()
	big := mat.NewDense(k*k, k*k, nil)
	rhs := mat.NewVecDense(k*k, nil)
	// vec is column-major: index of (i, j) is j*k+i.
	for i := range k {
		for j := range k {
			row := j*k + i
			rhs.SetVec(row, q.At(i, j))
			for l := range k {
				big.Set(row, j*k+l, big.At(row, j*k+l)+m.At(i, l)) // (M Σ)_ij = Σ_l M_il Σ_lj
				big.Set(row, l*k+i, big.At(row, l*k+i)+m.At(j, l)) // (Σ Mᵀ)_ij = Σ_l Σ_il M_jl
			}
		}
	}
	var v mat.VecDense
	require.NoError(t, v.SolveVec(big, rhs))
	s := mat.NewDense(k, k, nil)
	for i := range k {
		for j := range k {
			s.Set(i, j, v.AtVec(j*k+i))
		}
	}
	return s
}

// expmEig computes e^{-Mh} from the eigendecomposition of a diagonalisable
// M with distinct eigenvalues: V e^{-Λh} V⁻¹, an independent reference.
func expmEig(t *testing.T, m *mat.Dense, h float64) *mat.Dense {
	t.Helper()
	k, _ := m.Dims()
	var eig mat.Eigen
	require.True(t, eig.Factorize(m, mat.EigenRight))
	vals := eig.Values(nil)
	var v mat.CDense
	eig.VectorsTo(&v)
	// Solve V X = V diag(e) column by column with complex Gaussian
	// elimination is overkill; instead use V⁻¹ via real 2k×2k embedding.
	re := mat.NewDense(2*k, 2*k, nil)
	for i := range k {
		for j := range k {
			c := v.At(i, j)
			re.Set(i, j, real(c))
			re.Set(i, k+j, -imag(c))
			re.Set(k+i, j, imag(c))
			re.Set(k+i, k+j, real(c))
		}
	}
	var inv mat.Dense
	require.NoError(t, inv.Inverse(re))
	out := mat.NewDense(k, k, nil)
	for i := range k {
		for j := range k {
			var s complex128
			for l := range k {
				e := cexp(-vals[l] * complex(h, 0))
				vinv := complex(inv.At(l, j), inv.At(k+l, j))
				s += v.At(i, l) * e * vinv
			}
			out.Set(i, j, real(s))
		}
	}
	return out
}

func cexp(z complex128) complex128 {
	r := math.Exp(real(z))
	return complex(r*math.Cos(imag(z)), r*math.Sin(imag(z)))
}

func TestDiscretizeScalarClosedForm(t *testing.T) {
	const a, q = 2.5, 0.7
	for _, h := range []float64{1e-4, 0.1, 1, 10, 1e4} {
		tr := mustDiscretize(t, mat.NewDense(1, 1, []float64{a}), mat.NewDense(1, 1, []float64{q}), h)
		assert.InDelta(t, math.Exp(-a*h), tr.phi.At(0, 0), 1e-14, "Φ h=%g", h)
		assert.InDelta(t, (1-math.Exp(-a*h))/a, tr.psi.At(0, 0), 1e-13*(1+h), "Ψ h=%g", h)
		want := q * (1 - math.Exp(-2*a*h)) / (2 * a)
		assert.InEpsilon(t, want, tr.qd.At(0, 0), 1e-11, "Qd h=%g", h)
	}
}

// A strongly non-normal drift: the eigenvalue shortcut through the symmetric
// part would give the wrong covariance here.
var nonNormal = mat.NewDense(3, 3, []float64{
	1.0, 4.0, 0.0,
	0.0, 1.5, 3.0,
	0.2, 0.0, 2.0,
})

func TestDiscretizeNonNormal(t *testing.T) {
	q := mat.NewDense(3, 3, []float64{
		0.5, 0.1, 0,
		0.1, 0.3, 0,
		0, 0, 0.2,
	})
	sigma := lyapunov(t, nonNormal, q)
	for _, h := range []float64{0.01, 0.3, 2, 50} {
		tr := mustDiscretize(t, nonNormal, q, h)
		phi := expmEig(t, nonNormal, h)
		assert.Less(t, testnum.MaxAbsDiff(phi, tr.phi), 1e-12, "Φ vs eigendecomposition, h=%g", h)

		// Ψ = M⁻¹ (I − Φ).
		var imp, psi mat.Dense
		imp.Sub(eye(3), phi)
		require.NoError(t, psi.Solve(nonNormal, &imp))
		assert.Less(t, testnum.MaxAbsDiff(&psi, tr.psi), 1e-12, "Ψ, h=%g", h)

		// Discrete Lyapunov: Qd = Σ − Φ Σ Φᵀ with Σ the stationary covariance.
		var t1, t2, want mat.Dense
		t1.Mul(phi, sigma)
		t2.Mul(&t1, phi.T())
		want.Sub(sigma, &t2)
		assert.Less(t, testnum.MaxAbsDiff(&want, tr.qd), 1e-11, "Qd, h=%g", h)
	}
}

func eye(k int) *mat.Dense {
	m := mat.NewDense(k, k, nil)
	for i := range k {
		m.Set(i, i, 1)
	}
	return m
}

func TestNoiseFactor(t *testing.T) {
	// Positive definite: lower-triangular Cholesky factor.
	pd := mat.NewSymDense(2, []float64{4, 2, 2, 3})
	l, err := noiseFactor(pd)
	require.NoError(t, err)
	require.True(t, isLower(l, 2))
	assert.InDelta(t, 2, l[0], 1e-15)
	assert.InDelta(t, 1, l[2], 1e-15)
	assert.InDelta(t, math.Sqrt(2), l[3], 1e-15)

	// Singular (noise on one cell only): symmetric square root with L Lᵀ = Qd.
	sing := mat.NewSymDense(2, []float64{0, 0, 0, 9})
	l, err = noiseFactor(sing)
	require.NoError(t, err)
	var ll mat.Dense
	lm := mat.NewDense(2, 2, l)
	ll.Mul(lm, lm.T())
	assert.Less(t, testnum.MaxAbsDiff(&ll, sing), 1e-12)

	// Zero: no factor.
	l, err = noiseFactor(mat.NewSymDense(2, nil))
	require.NoError(t, err)
	assert.Nil(t, l)
}

func mustDiscretize(t *testing.T, m, q *mat.Dense, h float64) transition {
	t.Helper()
	tr, err := discretize(ctx, m, q, h)
	require.NoError(t, err)
	return tr
}

// A cancelled context stops the transition's computation, and a drift or
// diffusion that is not finite is refused instead of sending gonum's Exp
// into a loop that never ends (issue 10 item 3: a profile with noise_v =
// 1e300 hung spu sample for ever, ignoring Ctrl-C).
func TestDiscretizeCancelAndNonFinite(t *testing.T) {
	m := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := discretize(cancelled, m, m, 1e3)
	assert.ErrorIs(t, err, context.Canceled)

	inf := mat.NewDense(2, 2, []float64{math.Inf(1), 0, 0, 1})
	for _, c := range []struct {
		m, q *mat.Dense
		h    float64
	}{{inf, m, 1}, {m, inf, 1}, {m, m, math.Inf(1)}} {
		_, err = discretize(ctx, c.m, c.q, c.h)
		assert.ErrorIs(t, err, hal.ErrInvalid)
		assert.ErrorContains(t, err, "not finite")
	}
}

// countdown is a context whose Err reports cancellation from its n-th
// call on: it cancels "during" a computation without timing.
type countdown struct {
	context.Context
	n int
}

func (c *countdown) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// Run is cancelled while its first transition is computed (an O(K³) job,
// minutes at the 4096-cell limit): it returns the context's error instead
// of finishing the computation, and no board time passes. Run's own checks
// (on entry and per chunk) take the first two calls of Err.
func TestRunCancelledDuringTransition(t *testing.T) {
	p := builtins["ideal"]
	p.Cells = 64
	b, err := New(p, 1)
	require.NoError(t, err)
	err = b.Run(&countdown{Context: ctx, n: 2}, time.Second)
	assert.ErrorIs(t, err, context.Canceled)
	now, _ := b.BoardTime()
	assert.Zero(t, now, "no time passed")
	require.NoError(t, b.Run(ctx, time.Second), "the board stays usable")
}
