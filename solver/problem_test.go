package solver

import (
	"context"
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// spectrum returns the sorted eigenvalues of the symmetric matrix a.
func spectrum(t *testing.T, a *mat.Dense) []float64 {
	t.Helper()
	n, _ := a.Dims()
	var eig mat.EigenSym
	require.True(t, eig.Factorize(mat.NewSymDense(n, a.RawMatrix().Data), false))
	v := eig.Values(nil)
	sort.Float64s(v)
	return v
}

// The eigenvalues are the log-spaced 1 … cond the construction promises,
// the matrix is exactly symmetric, and a seed gives the same problem.
func TestRandomSPD(t *testing.T) {
	a, b := RandomSPD(6, 100, 7)
	require.Len(t, b, 6)
	for i := range 6 {
		for j := range 6 {
			require.Equal(t, a.At(i, j), a.At(j, i))
		}
	}
	for i, v := range spectrum(t, a) {
		assert.InDelta(t, math.Pow(100, float64(i)/5), v, 1e-12*100, "λ%d", i)
	}
	a2, b2 := RandomSPD(6, 100, 7)
	assert.Equal(t, a.RawMatrix().Data, a2.RawMatrix().Data)
	assert.Equal(t, b, b2)
	one, _ := RandomSPD(1, 10, 1)
	assert.InDelta(t, 1.0, one.At(0, 0), 1e-15)
	assert.Panics(t, func() { RandomSPD(0, 1, 1) })
}

// n = 500 and 512 span many QR panels of 32 (500 ends in a partial one):
// the spectrum and the condition number match the
// closed form λ_i = cond^{i/(n−1)}. Householder QR and the two-sided
// application are backward stable, so each eigenvalue moves by at most
// about c·n·ε·λ_max; the tolerance takes c = 10.
func TestRandomSPDLarge(t *testing.T) {
	const cond = 1e6
	for _, n := range []int{500, 512} {
		a, b, err := RandomSPDContext(t.Context(), n, cond, 3)
		require.NoError(t, err)
		require.Len(t, b, n)
		tol := 10 * float64(n) * 0x1p-52 * cond
		got := spectrum(t, a)
		worst := 0.0
		for i, v := range got {
			worst = math.Max(worst, math.Abs(v-math.Pow(cond, float64(i)/float64(n-1))))
		}
		assert.Less(t, worst, tol, "n = %d: largest eigenvalue error", n)
		assert.InEpsilon(t, cond, got[n-1]/got[0], 1e-6, "condition number")
	}
}

// A cancelled context stops the generation (issue 10 item 4: --random
// 4096 ignored Ctrl-C and ran for minutes); bad sizes and condition
// numbers are errors, not panics.
func TestRandomSPDContextErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a, b, err := RandomSPDContext(ctx, 512, 10, 1)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, a)
	assert.Nil(t, b)

	for _, c := range []struct {
		n    int
		cond float64
	}{{0, 10}, {3, 0.5}, {3, math.NaN()}, {3, math.Inf(1)}, {3, 1e308}, {3, MaxRandomCond * 1.01}} {
		_, _, err := RandomSPDContext(t.Context(), c.n, c.cond, 1)
		assert.ErrorIs(t, err, hal.ErrInvalid, "n = %d, cond = %g", c.n, c.cond)
	}
	_, _, err = RandomSPDContext(t.Context(), 3, MaxRandomCond, 1)
	assert.NoError(t, err)
}
