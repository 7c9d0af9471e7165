package solver

import (
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

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
	var eig mat.EigenSym
	require.True(t, eig.Factorize(mat.NewSymDense(6, a.RawMatrix().Data), false))
	got := eig.Values(nil)
	sort.Float64s(got)
	for i, v := range got {
		assert.InDelta(t, math.Pow(100, float64(i)/5), v, 1e-12*100, "λ%d", i)
	}
	a2, b2 := RandomSPD(6, 100, 7)
	assert.Equal(t, a.RawMatrix().Data, a2.RawMatrix().Data)
	assert.Equal(t, b, b2)
	one, _ := RandomSPD(1, 10, 1)
	assert.InDelta(t, 1.0, one.At(0, 0), 1e-15)
	assert.Panics(t, func() { RandomSPD(0, 1, 1) })
}
