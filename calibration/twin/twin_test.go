package twin

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/calibration"
	_ "github.com/spukit/spukit/driver/serial"
	"github.com/spukit/spukit/emu"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/solver"
)

// Solves of the reproduction test: ten random SPD problems of condition
// 20, each sampled for 0.2 s of board time with the solver's defaults.
const (
	problems  = 10
	condition = 20
	sampling  = 200 * time.Millisecond
)

// uncalibratedErrors solves the problems on b without calibration and
// returns each relative error against the digital solution.
func uncalibratedErrors(t *testing.T, b hal.Board) []float64 {
	t.Helper()
	out := make([]float64, problems)
	for p := range problems {
		a, rhs := solver.RandomSPD(8, condition, uint64(100+p))
		var x mat.VecDense
		require.NoError(t, x.SolveVec(a, mat.NewVecDense(8, rhs)))
		r, err := solver.Solve(context.Background(), b, a, rhs, &solver.Options{Duration: sampling})
		require.NoError(t, err)
		out[p] = testnum.RelErr(r.X, x.RawVector().Data)
	}
	return out
}

// openTwin writes p to a file and opens it as sim:FILE.json?seed=seed.
func openTwin(t *testing.T, p sim.Profile, seed uint64) hal.Board {
	t.Helper()
	path := filepath.Join(t.TempDir(), "twin.json")
	require.NoError(t, Save(path, p))
	b, err := hal.Open(context.Background(), fmt.Sprintf("sim:%s?seed=%d", path, seed))
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// perturbed returns a copy of c whose estimates are moved by independent
// normal errors of their standard errors: a calibration as likely as c
// to have been measured on the same board.
func perturbed(t *testing.T, c *calibration.Calibration, r *rand.Rand) *calibration.Calibration {
	t.Helper()
	data, err := json.Marshal(c)
	require.NoError(t, err)
	var d calibration.Calibration
	require.NoError(t, json.Unmarshal(data, &d))
	move := func(v, se []float64) {
		for i := range v {
			v[i] += se[i] * r.NormFloat64()
		}
	}
	move(d.ADC.Gain, d.ADC.GainSE)
	move(d.ADC.Offset, d.ADC.OffsetSE)
	move(d.Bias.Gain, d.Bias.GainSE)
	move(d.Bias.Offset, d.Bias.OffsetSE)
	move(d.Couplings.Gain, d.Couplings.GainSE)
	move(d.Cells.NoiseV, d.Cells.NoiseSE)
	for e, fitted := range d.Couplings.OffsetFitted {
		if fitted {
			d.Couplings.Offset[e] += d.Couplings.OffsetSE[e] * r.NormFloat64()
		}
	}
	return &d
}

// The twin of sim:proto8?seed=7 reproduces that board's uncalibrated solve
// errors. Twin and board share the seed, so they share the noise stream
// and the parts a calibration does not measure (tempcos, ageing, the
// temperature walk): the difference d_p = e_twin − e_board of problem p
// comes from the calibration's estimation error δ = θ̂ − θ alone.
//
// Tolerance: δ is normal with the calibration's standard errors (which
// TestCalibrationAgainstTruth in package sim checks against the truth), so
// to first order d_p is distributed like d_pm = e_m − e_twin, where m is a
// twin built from the estimates moved by an independent draw of those
// errors. With s_p² = mean over M draws of d_pm², d_p²/s_p² is F(1, M)
// distributed (mean M/(M−2), variance 2M²(M−1)/((M−2)²(M−4))); the mean
// over P problems must stay below mean + 5 standard deviations of that.
// A twin of another board (seed 8) must fail the same bound by far.
func TestTwinReproducesUncalibratedErrors(t *testing.T) {
	ctx := context.Background()
	const seed, draws = 7, 8
	board, err := hal.Open(ctx, fmt.Sprintf("sim:proto8?seed=%d", seed))
	require.NoError(t, err)
	defer board.Close()
	cal, err := calibration.Calibrate(ctx, board, &calibration.Options{Events: 16000, BiasTaus: 1000})
	require.NoError(t, err)
	base, err := sim.Builtin("proto8")
	require.NoError(t, err)
	tw, err := Profile(base, cal)
	require.NoError(t, err)

	fresh, err := hal.Open(ctx, fmt.Sprintf("sim:proto8?seed=%d", seed)) // the board as the twin starts: at time 0
	require.NoError(t, err)
	defer fresh.Close()
	eb := uncalibratedErrors(t, fresh)
	et := uncalibratedErrors(t, openTwin(t, tw, seed))
	r := rand.New(rand.NewPCG(seed, 2))
	s2 := make([]float64, problems)
	for range draws {
		pt, err := Profile(base, perturbed(t, cal, r))
		require.NoError(t, err)
		em := uncalibratedErrors(t, openTwin(t, pt, seed))
		for p := range problems {
			s2[p] += (em[p] - et[p]) * (em[p] - et[p]) / draws
		}
	}
	other, err := hal.Open(ctx, "sim:proto8?seed=8")
	require.NoError(t, err)
	defer other.Close()
	eo := uncalibratedErrors(t, other)
	var stat, statOther float64
	for p := range problems {
		t.Logf("problem %d: board %.5f twin %.5f (sd from the standard errors %.2g), seed 8 %.5f", p, eb[p], et[p], math.Sqrt(s2[p]), eo[p])
		stat += (et[p] - eb[p]) * (et[p] - eb[p]) / s2[p] / problems
		statOther += (eo[p] - eb[p]) * (eo[p] - eb[p]) / s2[p] / problems
	}
	m := float64(draws)
	mean := m / (m - 2)
	sd := math.Sqrt(2*m*m*(m-1)/((m-2)*(m-2)*(m-4))) / math.Sqrt(problems)
	t.Logf("mean (d/s)²: twin %.3g, seed-8 board %.3g; bound %.3g", stat, statOther, mean+5*sd)
	assert.Less(t, stat, mean+5*sd, "the twin does not reproduce the board within its calibration's standard errors")
	assert.Greater(t, statOther, mean+5*sd, "another board passes too: the test cannot tell boards apart")
}

// The twin of a serial board (sim:proto8?seed=4 behind spu emu's
// firmware) equals the twin of the same simulated board: calibrating
// through serial:// measures bit-identical quantities
// (calibration.TestSerialGivesTheSameCalibration), and Base takes only
// what hal.Info carries the same over both (the nominal σ, which a serial
// link rounds to float32, comes from the calibration). Only Source
// differs: it names the firmware and the measurement's time.
func TestSerialTwinEqualsSimTwin(t *testing.T) {
	ctx := context.Background()
	sb := haltest.Open(t, "sim:proto8?seed=4")
	e, err := emu.Serve(ctx, sb, "", emu.Faults{}, 1)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	viaSerial := haltest.Open(t, "serial://"+e.Path)
	direct := haltest.Open(t, "sim:proto8?seed=4")
	o := calibration.Options{Events: 1200, Probes: 4, BiasLevels: 4, BiasTaus: 100}
	var twins [2]string
	for n, b := range []hal.Board{direct, viaSerial} {
		c, err := calibration.Calibrate(ctx, b, &o)
		require.NoError(t, err)
		base, err := Base(b.Info(), c)
		require.NoError(t, err)
		p, err := Profile(base, c)
		require.NoError(t, err)
		assert.Equal(t, "SIM-PROTO8-4", p.Twin.Serial)
		p.Twin.Source = ""
		data, err := json.Marshal(p)
		require.NoError(t, err)
		twins[n] = string(data)
	}
	assert.Equal(t, twins[0], twins[1])
}
