package calibration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
)

// A calibrated board keeps board time exactly when the board it wraps
// does, and forwards that board's time (one wrapper type for both).
func TestWrapForwardsBoardTime(t *testing.T) {
	ctx := context.Background()
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})

	b := haltest.Open(t, "sim:proto8?seed=1")
	w, err := Wrap(b, c, nil)
	require.NoError(t, err)
	require.NoError(t, w.Run(ctx, time.Millisecond))
	inner, ok := hal.BoardTime(b)
	require.True(t, ok)
	got, ok := hal.BoardTime(w)
	assert.True(t, ok, "the simulator keeps board time, so the wrapper does")
	assert.Equal(t, inner, got)

	clockless := struct{ hal.Board }{haltest.Open(t, "sim:proto8?seed=1")} // hides hal.Clock
	w, err = Wrap(clockless, c, nil)
	require.NoError(t, err)
	got, ok = hal.BoardTime(w)
	assert.False(t, ok, "a board without a clock stays without one when wrapped")
	assert.Zero(t, got)
}
