package remote_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// TestTemperature: a served board that reports its temperature (sim
// boards do) reports it through the client, the local board's value, and
// still after Close; one that does not (sim:tngd) has no Temperature
// method, as locally, so calibration.Temperature says ok = false.
func TestTemperature(t *testing.T) {
	for _, uri := range []string{"sim:proto8?seed=1", "sim:tngd?cells=12&seed=4"} {
		t.Run(uri, func(t *testing.T) {
			s := servetest.Start(t, server.Options{URI: uri}, server.Auth{}, nil)
			want, wantOK := calibration.Temperature(haltest.Open(t, uri))
			b := haltest.Open(t, "grpc://"+s.Addr)
			got, ok := calibration.Temperature(b)
			require.Equal(t, wantOK, ok)
			assert.Equal(t, want, got)
			_, factored := b.(hal.Factored)
			_, diag := b.(hal.Diagnoser)
			_, clock := b.(hal.Clock)
			assert.Equal(t, [3]bool{!wantOK, false, true}, [3]bool{factored, diag, clock},
				"the other capabilities are the served board's (sim:tngd is factored, neither has driver checks)")
			require.NoError(t, b.Close())
			got, _ = calibration.Temperature(b)
			assert.Equal(t, want, got, "read before the lease ended")
		})
	}
}

// TestSampleLimit: a Sample call beyond the server's MaxSampleValues is
// hal.ErrDimension naming the limit, before the server allocates
// anything; one at the limit is served.
func TestSampleLimit(t *testing.T) {
	s := servetest.Start(t, server.Options{URI: "sim:proto8?seed=1", MaxSampleValues: 800}, server.Auth{}, nil)
	b := haltest.Open(t, "grpc://"+s.Addr)
	n, err := b.Sample(t.Context(), 0, make([]float64, 101*8))
	require.ErrorIs(t, err, hal.ErrDimension)
	assert.Contains(t, err.Error(), "want 1 … 100 samples per call (the server's limit of 800 values)")
	assert.Zero(t, n)
	n, err = b.Sample(t.Context(), 0, make([]float64, 100*8))
	require.NoError(t, err)
	assert.Equal(t, 100, n)
}
