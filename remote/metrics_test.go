package remote_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// TestMetrics: requests, samples and board time are counted as they
// happen (the sample count and board time known from the calls made).
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := servetest.Start(t, server.Options{URI: "sim:proto8?seed=1", Metrics: server.NewMetrics(reg)}, server.Auth{}, nil)
	b := haltest.Open(t, "grpc://"+s.Addr)
	for range 3 {
		_, err := b.Sample(t.Context(), 0, make([]float64, 100*8))
		require.NoError(t, err)
	}
	require.NoError(t, b.Close())
	fams, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			got[name] = v
		}
	}
	assert.Equal(t, 300.0, got["spu_samples_total"])
	assert.Equal(t, 3.0, got["spu_requests_total,code=OK,method=/spukit.board.v1.Board/Sample"])
	assert.Equal(t, 1.0, got["spu_leases_total"])
	assert.Positive(t, got["spu_board_time_seconds"])
	assert.Positive(t, got["spu_board_temperature_celsius"], "sim boards report their temperature")
}
