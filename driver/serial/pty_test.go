package serial

import (
	"context"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/emu"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// Over a real pseudo-terminal, byte for byte as with a USB board: a solve
// through serial:// against the emulator equals the same solve on the
// simulator with the emulator's seed.
func TestSolveOverPTY(t *testing.T) {
	ctx := context.Background()
	sb, err := hal.Open(ctx, "sim:proto8?seed=4")
	require.NoError(t, err)
	e, err := emu.Serve(ctx, sb, "", emu.Faults{}, 1)
	require.NoError(t, err)
	defer e.Close()
	d, err := hal.Open(ctx, "serial://"+e.Path)
	require.NoError(t, err)
	defer d.Close()
	direct, err := hal.Open(ctx, "sim:proto8?seed=4")
	require.NoError(t, err)

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
	opts := &solver.Options{Duration: 20 * time.Millisecond}
	viaSerial, err := solver.Solve(ctx, d, a, b, opts)
	require.NoError(t, err)
	onSim, err := solver.Solve(ctx, direct, a, b, opts)
	require.NoError(t, err)
	for i := range b {
		require.Equal(t, math.Float64bits(onSim.X[i]), math.Float64bits(viaSerial.X[i]), "x[%d]", i)
	}
}

// Killing the emulator mid-sample surfaces as hal.ErrDisconnected within a
// second, without hanging.
func TestEmulatorKilledMidSample(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	sb, err := hal.Open(ctx, "sim:proto8?seed=4")
	require.NoError(t, err)
	e, err := emu.Serve(ctx, sb, "", emu.Faults{}, 1)
	require.NoError(t, err)
	d, err := hal.Open(ctx, "serial://"+e.Path)
	require.NoError(t, err)
	go func() {
		time.Sleep(100 * time.Millisecond)
		e.Close()
	}()
	start := time.Now()
	_, err = d.Sample(ctx, 0, make([]float64, 8*2_000_000))
	killedAt := 100 * time.Millisecond
	require.Error(t, err)
	require.Less(t, time.Since(start), killedAt+time.Second)
	require.ErrorIs(t, err, hal.ErrDisconnected, "got %v", err)
	require.NoError(t, d.Close())
	// No goroutine outlives the emulator and the port. (Polled by hand:
	// assert.Eventually runs its condition on goroutines of its own.)
	n := runtime.NumGoroutine()
	for end := time.Now().Add(time.Second); n > before && time.Now().Before(end); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
