package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPropagateMatchesDefinition checks the step kernel against the plain
// definition y_i = c_i + Σ_j Φ_ij x_j + Σ_j L_ij z_j on random matrices,
// for sizes below, at and above gemvMin (and not a multiple of
// lowerBlock), with a lower-triangular and a full noise factor, and
// without noise. z is redrawn from a copy of the board's noise stream, so
// the kernel must also take the normals in order. The tolerance is
// rounding: a sum of 2n + 1 terms in any order is within 2n·ε·Σ|terms| of
// the exact value, so two orders differ by at most twice that.
func TestPropagateMatchesDefinition(t *testing.T) {
	for _, n := range []int{1, 7, 31, 32, 45, 67} {
		for _, kind := range []string{"lower", "full", "none"} {
			t.Run(fmt.Sprintf("n=%d/%s", n, kind), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 9))
				u := func(m int) []float64 {
					v := make([]float64, m)
					for i := range v {
						v[i] = 2*r.Float64() - 1
					}
					return v
				}
				s := &step{phi: u(n * n), c: u(n), nx: n, lower: kind == "lower"}
				if kind != "none" {
					s.l = u(n * n)
					if s.lower {
						for i := range n {
							clear(s.l[i*n+i+1 : i*n+n])
						}
					}
				}
				x := u(n)
				b := &Board{k: n, noise: rand.New(rand.NewPCG(3, 4)), z: make([]float64, n)}
				ref := rand.New(rand.NewPCG(3, 4))
				y := make([]float64, n)
				b.propagate(s, n, x, y)

				z := make([]float64, n)
				if s.l != nil {
					for j := range z {
						z[j] = ref.NormFloat64()
					}
				}
				for i := range n {
					want, abs := s.c[i], math.Abs(s.c[i])
					for j := range n {
						want += s.phi[i*n+j] * x[j]
						abs += math.Abs(s.phi[i*n+j] * x[j])
						if s.l != nil {
							want += s.l[i*n+j] * z[j]
							abs += math.Abs(s.l[i*n+j] * z[j])
						}
					}
					require.InDelta(t, want, y[i], 4*float64(n)*0x1p-52*abs, "row %d", i)
				}
			})
		}
	}
}
