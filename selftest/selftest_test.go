package selftest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/spukit/spukit/driver/spi/virtual"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	_ "github.com/spukit/spukit/sim"
)

// run runs the selftest on b and logs every failed row.
func run(t *testing.T, b hal.Board) *Report {
	t.Helper()
	rep, err := Run(context.Background(), b, nil)
	require.NoError(t, err)
	for _, c := range rep.Checks {
		if !c.Pass || testing.Verbose() {
			t.Logf("%-14s %-28s pass=%v skip=%v measured=%s expected=%s hint=%s", c.Name, c.Component, c.Pass, c.Skipped, c.Measured, c.Expected, c.Hint)
		}
	}
	t.Logf("board time %.3f s (clocked %v), wall %.3f s, %d rows", rep.BoardTimeS, rep.Clocked, rep.WallS, len(rep.Checks))
	return rep
}

// A good board passes on every scheme that needs no hardware.
func TestGoodBoards(t *testing.T) {
	for _, uri := range []string{"sim:proto8?seed=3", "spi+sim:proto8?seed=3", "sim:ideal?seed=1"} {
		t.Run(uri, func(t *testing.T) {
			rep := run(t, haltest.Open(t, uri))
			assert.True(t, rep.Pass)
		})
	}
}

// Progress goes through the stages in order, its fraction never goes
// back, and it ends at 1 with "done".
func TestProgress(t *testing.T) {
	var stages []string
	last := -1.0
	o := &Options{Progress: func(stage string, f float64) {
		assert.GreaterOrEqual(t, f, last, stage)
		last = f
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
	}}
	_, err := Run(context.Background(), haltest.Open(t, "sim:ideal?seed=1"), o)
	require.NoError(t, err)
	assert.Equal(t, []string{"driver diagnostics", "noise floor", "τ and state forcing", "bias loopback", "coupling sweep", "sample timing", "done"}, stages)
	assert.Equal(t, 1.0, last)
}

// A margin that is not positive is refused before the board is touched.
func TestOptionsRefused(t *testing.T) {
	_, err := Run(context.Background(), haltest.Open(t, "sim:ideal?seed=1"), &Options{Sigmas: -1})
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), "sigmas = -1")
}
