package tngd_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/sim/tngd"
)

// The dense simulator (package sim) with A = λI + s·JᵀHJ programmed
// directly (τ = 1 µs, no noise) agrees with the virtual SPU to 1e-10: the
// problem of TestTNGDMeanClosedForm, drawn from the same seed.
func TestTNGDMatchesDenseBoard(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 1))
	const cells = 12
	f := tngd.SmallFact(r)
	a := tngd.DenseA(f, cells)
	x0, bias := tngd.RandVec(r, cells, 1), tngd.RandVec(r, cells, 1)
	p := sim.Profile{Name: "dense", Version: "1", Cells: cells, TauS: 1e-6, Coupling: sim.CouplingProfile{Max: 100},
		Bias: sim.DACProfile{MinV: -10, MaxV: 10}, ADC: sim.ADCProfile{MinV: -10, MaxV: 10, MinPeriodS: 1e-8}}
	dense, err := sim.New(p, 1)
	require.NoError(t, err)
	require.NoError(t, dense.SetCouplings(ctx, a.RawMatrix().Data))
	b := tngd.IdealBoard(t, cells, 0, "auto", 1)
	require.NoError(t, b.SetFactoredCouplings(ctx, f))
	assert.Less(t, tngd.MaxAbsDiffVec(tngd.RunFrom(t, dense, x0, bias, 3), tngd.RunFrom(t, b, x0, bias, 3)), 1e-10)
}

// With the ADC filter on both boards (adc.filter_hz, adc_filter_hz = 200
// kHz, ω = 1.26/τ), noise off, the dense simulator's readings — its
// filter is two more states per channel in its own Van Loan transition
// (sim/rails.go) — agree with the virtual SPU's push-through evaluation
// to 1e-10, after a run shorter than the filter's settling (t = 3τ).
func TestTNGDFilterMatchesDenseBoard(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 1))
	const cells, hz = 12, 200e3
	f := tngd.SmallFact(r)
	a := tngd.DenseA(f, cells)
	x0, bias := tngd.RandVec(r, cells, 1), tngd.RandVec(r, cells, 1)
	p := sim.Profile{Name: "dense", Version: "1", Cells: cells, TauS: 1e-6, Coupling: sim.CouplingProfile{Max: 100},
		Bias: sim.DACProfile{MinV: -10, MaxV: 10}, ADC: sim.ADCProfile{MinV: -10, MaxV: 10, MinPeriodS: 1e-8, FilterHz: hz}}
	dense, err := sim.New(p, 1)
	require.NoError(t, err)
	require.NoError(t, dense.SetCouplings(ctx, a.RawMatrix().Data))
	b, err := tngd.New(tngd.Profile{Cells: cells, TauS: 1e-6, BiasRangeV: 10, ADCRangeV: 10, MinPeriodS: 1e-8, ADCFilterHz: hz}, 1)
	require.NoError(t, err)
	require.NoError(t, b.SetFactoredCouplings(ctx, f))
	want := tngd.RunFrom(t, dense, x0, bias, 3)
	got := tngd.RunFrom(t, b, x0, bias, 3)
	assert.Less(t, tngd.MaxAbsDiffVec(want, got), 1e-10)
	// The filter matters here: the unfiltered cells are elsewhere.
	pb := tngd.IdealBoard(t, cells, 0, "auto", 1)
	require.NoError(t, pb.SetFactoredCouplings(ctx, f))
	plain := tngd.RunFrom(t, pb, x0, bias, 3)
	assert.Greater(t, tngd.MaxAbsDiffVec(want, plain), 1e-3)
}
