package remote_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/remote"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// script programs a board and samples it: the same calls locally and
// through a server must give the same bits (the server runs the calls on
// a board opened from the same URI, so with the same seed).
func script(t *testing.T, b hal.Board) []float64 {
	ctx := t.Context()
	k := b.Info().Cells
	r := rand.New(rand.NewPCG(1, 2))
	a := testnum.Identity(k, 1.2)
	for i := range k - 1 {
		a[i*k+i+1], a[(i+1)*k+i] = 0.1, 0.1
	}
	require.NoError(t, b.SetCouplings(ctx, a))
	bias := make([]float64, k)
	for i := range bias {
		bias[i] = 0.4 * (r.Float64() - 0.5)
	}
	require.NoError(t, b.SetBias(ctx, bias))
	require.NoError(t, b.SetState(ctx, make([]float64, k)))
	require.NoError(t, b.Run(ctx, 5*b.Info().Tau))
	dst := make([]float64, 300*k)
	n, err := b.Sample(ctx, 0, dst)
	require.NoError(t, err)
	require.Equal(t, 300, n)
	bt, ok := hal.BoardTime(b)
	require.True(t, ok)
	return append(dst, bt.Seconds())
}

// openT opens uri for the test (haltest.Open).
func openT(t *testing.T, uri string) hal.Board { return haltest.Open(t, uri) }

func TestBitIdentical(t *testing.T) {
	const uri = "sim:proto8?seed=9"
	s := servetest.Start(t, server.Options{URI: uri, ChunkValues: 64}, server.Auth{}, nil)
	local := script(t, haltest.Open(t, uri))
	// Two leases in turn: each starts from the freshly opened board.
	for range 2 {
		b := haltest.Open(t, "grpc://"+s.Addr)
		assert.Equal(t, local, script(t, b))
		require.NoError(t, b.Close())
	}
}

// factoredScript programs factored couplings and samples.
func factoredScript(t *testing.T, b hal.Board) []float64 {
	ctx := t.Context()
	fb, ok := b.(hal.Factored)
	require.True(t, ok, "%T must implement hal.Factored like the served sim:tngd", b)
	r := rand.New(rand.NewPCG(3, 4))
	f := testnum.RandFactorization(r, 3, 2, 10, [][3]int{{0, 2, 3}, {6, 2, 2}}, 0.3)
	require.NoError(t, fb.SetFactoredCouplings(ctx, f))
	require.NoError(t, b.SetBias(ctx, testnum.Constant(b.Info().Cells, 0.05)))
	dst := make([]float64, 50*b.Info().Cells)
	_, err := b.Sample(ctx, 0, dst)
	require.NoError(t, err)
	return dst
}

func TestFactoredBitIdentical(t *testing.T) {
	const uri = "sim:tngd?cells=12&seed=4"
	s := servetest.Start(t, server.Options{URI: uri}, server.Auth{}, nil)
	assert.Equal(t, factoredScript(t, haltest.Open(t, uri)), factoredScript(t, haltest.Open(t, "grpc://"+s.Addr)))
	// A dense board does not pretend to take factored couplings.
	d := servetest.Start(t, server.Options{URI: "sim:proto8"}, server.Auth{}, nil)
	_, ok := haltest.Open(t, "grpc://"+d.Addr).(hal.Factored)
	assert.False(t, ok)
}

func TestErrorsCrossTheWire(t *testing.T) {
	s := servetest.Start(t, server.Options{URI: "sim:proto8?seed=1"}, server.Auth{}, nil)
	b := haltest.Open(t, "grpc://"+s.Addr)
	ctx := t.Context()
	k := b.Info().Cells
	a := testnum.Identity(k, 1)
	a[1*k+2] = 1e6
	err := b.SetCouplings(ctx, a)
	var re *hal.RangeError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, hal.ErrOutOfRange)
	assert.Equal(t, [3]float64{1, 2, 1e6}, [3]float64{float64(re.Row), float64(re.Col), re.Value})
	assert.Equal(t, b.Info().Coupling.Max, re.Max)
	assert.ErrorIs(t, b.SetBias(ctx, []float64{1}), hal.ErrDimension)
	// Saturation: a bias far beyond the ADC range; every sample arrives.
	require.NoError(t, b.SetBias(ctx, testnum.Constant(k, b.Info().Bias.Max)))
	require.NoError(t, b.SetCouplings(ctx, testnum.Identity(k, b.Info().Coupling.Max/8)))
	dst := make([]float64, 20*k)
	n, err := b.Sample(ctx, 0, dst)
	var se *hal.SaturationError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 20, n, "a saturated Sample still delivers every sample")
	assert.Len(t, se.Counts, k)
	assert.Equal(t, 20, se.Samples)
	require.NoError(t, b.Close())
	assert.ErrorIs(t, b.Run(ctx, time.Millisecond), hal.ErrClosed)
}

func TestServerKilledMidSample(t *testing.T) {
	s := servetest.Start(t, server.Options{URI: "sim:ideal?seed=1"}, server.Auth{}, nil)
	b := haltest.Open(t, "grpc://"+s.Addr)
	k := b.Info().Cells
	dst := make([]float64, 1_000_000*k) // about 0.6 s of simulation
	time.AfterFunc(100*time.Millisecond, s.Stop)
	start := time.Now()
	_, err := b.Sample(context.Background(), 0, dst)
	took := time.Since(start)
	require.ErrorIs(t, err, hal.ErrDisconnected)
	assert.Less(t, took, 100*time.Millisecond+time.Second, "ErrDisconnected within 1 s of the server's death")
}

func TestVersionAndPlaintextRules(t *testing.T) {
	_, err := hal.Open(t.Context(), "grpc://192.0.2.1:7700?tls=0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only a loopback address")
	assert.ErrorIs(t, err, hal.ErrInvalid)
	_, err = hal.Open(t.Context(), "grpc://127.0.0.1:1/path")
	assert.ErrorIs(t, err, hal.ErrInvalid)
	_, err = hal.Open(t.Context(), "grpc://127.0.0.1:1?speed=3")
	assert.ErrorIs(t, err, hal.ErrInvalid)
	_ = remote.ErrUnauthenticated
}
