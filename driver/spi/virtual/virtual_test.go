package virtual

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	_ "github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/solver"
)

// The SPI driver on virtual chips is a conforming hal.Board.
func TestConformance(t *testing.T) {
	haltest.Run(t, func(t *testing.T) hal.Board { return haltest.Open(t, "spi+sim:proto8?seed=5") })
}

// The same problem solved through the SPI driver and directly on the
// simulator with the same seed (the same hidden part tolerances) agrees
// within the solver's error bars: |x_spi − x_sim| ≤ 5·sqrt(se_spi² + se_sim²)
// per component. Each standard error comes from 20 batch means, so the
// ratio is t-distributed with 19–38 degrees of freedom: P(|t| > 5) ≤ 8e-5
// per component, ≤ 7e-4 for all 8 (and the seeds are fixed, so the test
// gives the same answer on every run).
func TestSolveAgreesWithSim(t *testing.T) {
	ctx := context.Background()
	viaSPI := haltest.Open(t, "spi+sim:proto8?seed=4")
	direct := haltest.Open(t, "sim:proto8?seed=4")
	a := mat.NewDense(8, 8, nil)
	b := make([]float64, 8)
	for i := range 8 {
		a.Set(i, i, 2)
		if i > 0 {
			a.Set(i, i-1, -0.5)
			a.Set(i-1, i, -0.5)
		}
		b[i] = float64(i%3) - 1
	}
	opts := &solver.Options{Duration: 50 * time.Millisecond}
	rs, err := solver.Solve(ctx, viaSPI, a, b, opts)
	require.NoError(t, err)
	rd, err := solver.Solve(ctx, direct, a, b, opts)
	require.NoError(t, err)
	for i := range b {
		tol := 5 * math.Hypot(rs.StdErr[i], rd.StdErr[i])
		assert.InDelta(t, rd.X[i], rs.X[i], tol, "x[%d]: spi %g ± %g, sim %g ± %g", i, rs.X[i], rs.StdErr[i], rd.X[i], rd.StdErr[i])
	}
	t.Logf("spi: %d samples, period %v, board time %v; sim: %d samples, period %v", rs.Samples, rs.Period, rs.BoardTime, rd.Samples, rd.Period)
	st := viaSPI.(*spi.Board).Stats()
	t.Logf("bus: %+v", st)
}
