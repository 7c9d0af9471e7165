package testnum

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestSmallHelpers(t *testing.T) {
	assert.InDelta(t, 0.8, RelErr([]float64{3, 0}, []float64{3, 4}), 1e-15) // ‖(0, −4)‖ / ‖(3, 4)‖
	assert.Equal(t, []float64{2, 0, 0, 2}, Identity(2, 2))
	assert.Equal(t, []float64{7, 7, 7}, Constant(3, 7))
	a := mat.NewDense(2, 2, []float64{1, 2, 3, 4})
	b := mat.NewDense(2, 2, []float64{1, 2.5, 1, 4})
	assert.Equal(t, 2.0, MaxAbsDiff(a, b))
}

// Drawn factorizations are valid and their H blocks are softmax Hessians:
// symmetric, rows summing to zero, diagonal in (0, 1/4].
func TestRandFactorization(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := RandFactorization(r, 4, 3, 40, [][3]int{{0, 4, 5}, {20, 3, 5}}, 0.2)
	require.NoError(t, f.Validate(f.J.Cols))
	assert.Equal(t, 0.25, f.Scale)
	for s := range 4 {
		h := f.H[s*9 : (s+1)*9]
		for a := range 3 {
			sum := 0.0
			for c := range 3 {
				sum += h[a*3+c]
				assert.Equal(t, h[a*3+c], h[c*3+a])
			}
			assert.InDelta(t, 0, sum, 1e-15)
			assert.True(t, h[a*3+a] > 0 && h[a*3+a] <= 0.25)
		}
	}
	f = RandFactorization(r, 5, 1, 8, [][3]int{{0, 1, 8}}, 0.2)
	for _, v := range f.H {
		assert.True(t, v >= 0.2 && v < 1.2 && !math.IsNaN(v))
	}
}
