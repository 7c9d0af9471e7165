package calibration

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// −log(e^{−Mh})/h recovers a non-normal stable M for sample periods up to
// well beyond where the plain series (‖I − Φ‖ < 1/2) stops, compared with
// gonum's matrix exponential.
func TestLogmInvertsExp(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const k = 6
	m := mat.NewDense(k, k, nil)
	for i := range k {
		for j := range k {
			v := 0.4 * r.NormFloat64()
			if i == j {
				v = 2 + r.Float64()
			}
			m.Set(i, j, v)
		}
	}
	for _, h := range []float64{0.05, 0.17, 0.5, 1.0} {
		var mh, phi mat.Dense
		mh.Scale(-h, m)
		phi.Exp(&mh)
		var x mat.Dense
		x.Sub(identityDense(k), &phi)
		l, err := logm(append([]float64(nil), phi.RawMatrix().Data...), k)
		require.NoError(t, err, "h = %g (‖I − Φ‖ = %.2f)", h, mat.Norm(&x, 2))
		for i := range k {
			for j := range k {
				// Conditioning of log at Φ: a few ulps times e^{‖M‖h}.
				assert.InDelta(t, m.At(i, j), l[i*k+j]/h, 1e-9, "h = %g, M[%d][%d]", h, i, j)
			}
		}
	}
}

// A negative real eigenvalue (Φ = e^{−Mh} with h·Im λ = π) has no real
// logarithm: reported, not returned wrong.
func TestLogmRefusesNegativeEigenvalue(t *testing.T) {
	_, err := logm([]float64{-0.5, 0, 0, 0.5}, 2)
	require.Error(t, err)
}
