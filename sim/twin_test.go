package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// twin2 is a 2-cell continuous-converter profile with no noise whose twin
// section sets every value away from its nominal.
func twin2() Profile {
	return Profile{
		Name: "t2", Version: "1", Cells: 2, Topology: "general", TauS: 100e-6,
		CapacitorTolerance: 0.05, // drawn, then replaced by the twin's τ
		Coupling:           CouplingProfile{Max: 4, Tolerance: 0.02},
		Bias:               DACProfile{MinV: -5, MaxV: 5},
		ADC:                ADCProfile{MinV: -5, MaxV: 5, MinPeriodS: 5e-6},
		Thermal:            ThermalProfile{AmbientC: 25},
		Twin: &Twin{
			Serial:         "LAB-UNIT-1",
			TauS:           []float64{90e-6, 120e-6},
			CouplingGain:   []float64{1.02, 0.97, 1.01, 0.99},
			CouplingOffset: []float64{0, 0.01, -0.02, 0},
			BiasGain:       []float64{1.01, 0.98},
			BiasOffsetV:    []float64{0.003, -0.002},
			BiasINL:        &TwinINL{LevelsV: []float64{-4, 0, 4}, INLV: [][]float64{{0, 0.004, 0}, nil}},
			ADCGain:        []float64{0.999, 1.002},
			ADCOffsetV:     []float64{0.001, -0.0005},
			NoiseV:         []float64{0, 0},
		},
	}
}

// A noiseless twin settles where its values say, worked out here by hand
// rather than by the simulator's code: with A = [[1, 0.3], [0.2, 1]] and
// bias v = (1, −2), cell i's drift is (1/τ_i)·(Σ_j (g_ij·A_ij + o_ij)·x_j −
// b_i) with b_i = bg_i·(v_i + INL_i(v_i)) + bo_i, so the equilibrium solves
// R x = b with R_ij = g_ij·A_ij + o_ij (τ_i drops out), and the ADC reads
// ag_i·x_i + ao_i. INL_0(1) = 0.004·(1 − 1/4) = 0.003 (linear between 0 and
// 4 V); channel 1 has no INL row.
func TestTwinSettlesWhereItsValuesSay(t *testing.T) {
	ctx := context.Background()
	b, err := New(twin2(), 3)
	require.NoError(t, err)
	assert.Equal(t, "LAB-UNIT-1", b.Info().Serial)
	require.NoError(t, b.SetCouplings(ctx, []float64{1, 0.3, 0.2, 1}))
	require.NoError(t, b.SetBias(ctx, []float64{1, -2}))
	require.NoError(t, b.Run(ctx, 20*time.Millisecond)) // 160 τ of the slowest mode
	r := [2][2]float64{{1.02 * 1, 0.97*0.3 + 0.01}, {1.01*0.2 - 0.02, 0.99 * 1}}
	bias := [2]float64{1.01*(1+0.003) + 0.003, 0.98*(-2) - 0.002}
	det := r[0][0]*r[1][1] - r[0][1]*r[1][0]
	x := [2]float64{(bias[0]*r[1][1] - r[0][1]*bias[1]) / det, (r[0][0]*bias[1] - r[1][0]*bias[0]) / det}
	got := make([]float64, 2)
	_, err = b.Sample(ctx, 0, got)
	require.NoError(t, err)
	assert.InDelta(t, 0.999*x[0]+0.001, got[0], 1e-9)
	assert.InDelta(t, 1.002*x[1]-0.0005, got[1], 1e-9)
	// The τ are the twin's: the diagonal's realised drift rate is g_ii/τ_i.
	assert.InDelta(t, 1.02/90e-6, b.m.At(0, 0), 1e-6)
	assert.InDelta(t, 0.99/120e-6, b.m.At(1, 1), 1e-6)
}

// The twin's noise is per cell: diffusion 2σ_i²/τ_i.
func TestTwinNoisePerCell(t *testing.T) {
	p := twin2()
	p.NoiseV = 0.01
	p.Twin.NoiseV = []float64{0.02, 0.005}
	b, err := New(p, 1)
	require.NoError(t, err)
	assert.InDelta(t, 2*0.02*0.02/90e-6, b.q.At(0, 0), 1e-12)
	assert.InDelta(t, 2*0.005*0.005/120e-6, b.q.At(1, 1), 1e-12)
}

// A twin with the wrong sizes or implausible values is refused, naming the
// field and the allowed values.
func TestTwinValidation(t *testing.T) {
	for _, c := range []struct {
		edit func(*Twin)
		want string
	}{
		{func(w *Twin) { w.TauS = w.TauS[:1] }, "twin.tau_s = 1 entries, want 2 (cells = 2)"},
		{func(w *Twin) { w.CouplingGain[3] = 3 }, "twin.coupling_gain[3] = 3, want 0.5 … 2"},
		{func(w *Twin) { w.CouplingOffset = []float64{0, 0, 5, 0} }, "twin.coupling_offset[2] = 5, want -4 … 4 1/τ"},
		{func(w *Twin) { w.ADCGain[0] = 0 }, "twin.adc_gain[0] = 0"},
		{func(w *Twin) { w.NoiseV[1] = -1 }, "twin.noise_v[1] = -1"},
		{func(w *Twin) { w.BiasINL.LevelsV = []float64{0, 0, 1} }, "twin.bias_inl.levels_v"},
		{func(w *Twin) { w.BiasINL.INLV[1] = []float64{1} }, "twin.bias_inl.inl_v[1] = 1 entries, want 0 or 3 (levels)"},
		{func(w *Twin) { w.Serial = string(make([]byte, 65)) }, "twin.serial = 65 bytes"},
	} {
		p := twin2()
		c.edit(p.Twin)
		err := p.Validate()
		require.Error(t, err, c.want)
		assert.True(t, errors.Is(err, hal.ErrInvalid))
		assert.ErrorContains(t, err, c.want)
	}
}

// Without a twin section nothing changes: the seeded draw stands, and the
// section's absence is not written out.
func TestNoTwinKeepsTheDraw(t *testing.T) {
	p, err := Builtin("proto8")
	require.NoError(t, err)
	a, err := New(p, 5)
	require.NoError(t, err)
	assert.Nil(t, a.tr.coupOffset)
	assert.Nil(t, a.tr.inlTable)
	assert.Equal(t, "SIM-PROTO8-5", a.Info().Serial)
	// proto8's noise is a fixed current (2σ²τ_nom/τ_i²) plus the bias
	// DAC's e²/(2τ_i²) (docs/profiles.md).
	require.Equal(t, NoiseCurrent, p.NoiseSource)
	for i, tau := range a.tr.tau {
		e := p.Bias.NoiseVRtHz
		assert.InEpsilon(t, (2*p.NoiseV*p.NoiseV*p.TauS+e*e/2)/(tau*tau), a.tr.diffusion[i], 1e-12)
	}
}
