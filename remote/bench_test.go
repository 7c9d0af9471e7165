package remote_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// boards returns sim:proto8 locally and through a loopback server.
func benchBoards(b *testing.B) map[string]func(t *testing.T) hal.Board {
	s := servetest.Start(b, server.Options{URI: "sim:proto8?seed=1"}, server.Auth{}, nil)
	return map[string]func(t *testing.T) hal.Board{
		"local":    func(t *testing.T) hal.Board { return haltest.Open(t, "sim:proto8?seed=1") },
		"loopback": func(t *testing.T) hal.Board { return haltest.Open(t, "grpc://"+s.Addr) },
	}
}

// BenchmarkRoundTrip is one small request (SetBias of 8 values).
func BenchmarkRoundTrip(b *testing.B) {
	for name, open := range benchBoards(b) {
		b.Run(name, func(b *testing.B) {
			t := &testing.T{}
			bd := open(t)
			defer bd.Close()
			v := testnum.Constant(8, 0.1)
			for b.Loop() {
				require.NoError(b, bd.SetBias(b.Context(), v))
			}
		})
	}
}

// BenchmarkSample streams 10⁵ samples of 8 cells per call; the metric
// samples/s compares the local and the remote rate.
func BenchmarkSample(b *testing.B) {
	const n = 100_000
	for name, open := range benchBoards(b) {
		b.Run(name, func(b *testing.B) {
			t := &testing.T{}
			bd := open(t)
			defer bd.Close()
			dst := make([]float64, n*8)
			for b.Loop() {
				_, err := bd.Sample(b.Context(), 0, dst)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
