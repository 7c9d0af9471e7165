package training

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/optim"
	_ "github.com/spukit/spukit/sim"
)

func TestNewOptimizer(t *testing.T) {
	m := newModel(t)
	b, err := hal.Open(context.Background(), "sim:tngd?cells=200")
	require.NoError(t, err)
	defer b.Close()
	for _, name := range Optimizers {
		t.Run(name, func(t *testing.T) {
			var board hal.Board
			if UsesBoard(name) {
				board = b
			}
			o, err := NewOptimizer(OptimizerSpec{Name: name, T: 5, Window: 1}, board, m, 4)
			require.NoError(t, err)
			assert.Equal(t, name, o.Name())
			if UsesBoard(name) {
				assert.Equal(t, "factored", MappingOf(o))
			} else {
				assert.Empty(t, MappingOf(o))
			}
			// One step on a batch moves θ.
			before := append([]float64(nil), m.Params()...)
			it, err := optim.NewIteration(0, m, blobs(4, 3), 0.01)
			require.NoError(t, err)
			_, err = o.Step(context.Background(), it)
			require.NoError(t, err)
			assert.NotEqual(t, before, m.Params())
		})
	}
	assert.InDelta(t, 1e-3, OptimizerSpec{Name: "adam"}.LRValue(), 0)
	assert.InDelta(t, 0.5, OptimizerSpec{Name: "adam", LR: 0.5}.LRValue(), 0)
}

func TestNewOptimizerErrors(t *testing.T) {
	m := newModel(t)
	big, err := optim.NewMLP(optim.DefaultSizes(), optim.Tanh, 1)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		spec  OptimizerSpec
		model *optim.MLP
		want  string
	}{
		{"unknown", OptimizerSpec{Name: "lbfgs"}, m, `optimizer "lbfgs": want one of sgd, adam, ngd, ngd-cg, ngd-woodbury, tngd, tngd-adam, tngd-em`},
		{"negative lr", OptimizerSpec{Name: "sgd", LR: -1}, m, "learning rate -1"},
		{"momentum", OptimizerSpec{Name: "sgd", Momentum: 1}, m, "momentum 1"},
		{"t", OptimizerSpec{Name: "tngd-em", T: 0}, m, "t = 0τ"},
		{"delay", OptimizerSpec{Name: "tngd", T: 1, Delay: -1, Window: 1}, m, "delay = -1τ"},
		{"window", OptimizerSpec{Name: "tngd", T: 1}, m, "window 0"},
		{"dense ngd too big", OptimizerSpec{Name: "ngd"}, big, "N = 25450 > 5000"},
		{"no board", OptimizerSpec{Name: "tngd", T: 1, Window: 1}, m, "none was given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewOptimizer(tc.spec, nil, tc.model, 4)
			require.ErrorIs(t, err, hal.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The table says what the six hand-written places said before it: the
// names in help order, the default step sizes and the three properties
// (the old definitions are the oracle).
func TestOptimizerTable(t *testing.T) {
	assert.Equal(t, []string{"sgd", "adam", "ngd", "ngd-cg", "ngd-woodbury", "tngd", "tngd-adam", "tngd-em"}, Optimizers)
	assert.Equal(t, map[string]float64{
		"sgd": 0.1, "adam": 1e-3, "ngd": 0.01, "ngd-cg": 0.01, "ngd-woodbury": 0.01,
		"tngd": 0.01, "tngd-adam": 1e-3, "tngd-em": 0.01,
	}, DefaultLR)
	for _, name := range append(Optimizers, "unknown") {
		board := name == "tngd" || name == "tngd-adam"
		assert.Equal(t, board, UsesBoard(name), name)
		assert.Equal(t, board || name == "tngd-em", UsesAnalogTime(name), name)
		assert.Equal(t, name != "sgd" && name != "adam", UsesCurvature(name), name)
	}
}
