package remote_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/optim"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
	_ "github.com/spukit/spukit/sim/tngd" // registers sim:tngd
)

// pair opens uri locally and through a loopback server: a benchmark
// alternates between the two in one loop, so that both see the same load
// on a shared machine and their ratio is measured in one run.
func pair(b *testing.B, uri string) (local, remote hal.Board, s *servetest.Server) {
	s = servetest.Start(b, server.Options{URI: uri}, server.Auth{}, nil)
	t := &testing.T{}
	local, remote = haltest.Open(t, uri), haltest.Open(t, "grpc://"+s.Addr)
	b.Cleanup(func() { local.Close(); remote.Close() })
	return local, remote, s
}

// spent is the wall time and the process's CPU time (user + system, all
// threads: the server's work for a remote call included) of one side of a
// benchmark. On a shared machine the CPU ratio is the steadier one: the
// wall time depends on what else runs, the CPU time much less.
type spent struct{ wall, cpu time.Duration }

// cpuTime returns the process's CPU time so far (0 where the platform
// does not report it).
func cpuTime() time.Duration {
	d, _ := testnum.ProcessCPU()
	return d
}

// timed adds fn's wall and CPU time to *d.
func timed(d *spent, fn func()) {
	start, c := time.Now(), cpuTime()
	fn()
	d.wall += time.Since(start)
	d.cpu += cpuTime() - c
}

// BenchmarkRoundTrip is one small request (SetBias of 8 values), locally
// and over loopback; ns/op is the two together.
func BenchmarkRoundTrip(b *testing.B) {
	local, remote, _ := pair(b, "sim:proto8?seed=1")
	v := testnum.Constant(8, 0.1)
	var tl, tr spent
	for b.Loop() {
		timed(&tl, func() { require.NoError(b, local.SetBias(b.Context(), v)) })
		timed(&tr, func() { require.NoError(b, remote.SetBias(b.Context(), v)) })
	}
	b.ReportMetric(float64(tl.wall.Nanoseconds())/float64(b.N), "local-ns/req")
	b.ReportMetric(float64(tr.wall.Nanoseconds())/float64(b.N), "remote-ns/req")
	b.ReportMetric(float64(tr.cpu.Nanoseconds())/float64(b.N), "remote-cpu-ns/req")
}

// BenchmarkSample takes 10⁵ samples of 8 cells per call locally and
// through the server: samples/s of each, their ratio (the goal:
// ≥ 0.9; "ratio" from wall times, "cpu-ratio" local/remote CPU time), and
// the payload efficiency (8 bytes a value over the bytes the server wrote).
func BenchmarkSample(b *testing.B) {
	const n = 100_000
	local, remote, s := pair(b, "sim:proto8?seed=1")
	dst := make([]float64, n*8)
	var tl, tr spent
	s.Written.Store(0)
	for b.Loop() {
		timed(&tl, func() {
			_, err := local.Sample(b.Context(), 0, dst)
			require.NoError(b, err)
		})
		timed(&tr, func() {
			_, err := remote.Sample(b.Context(), 0, dst)
			require.NoError(b, err)
		})
	}
	b.ReportMetric(float64(n*b.N)/tl.wall.Seconds(), "local-samples/s")
	b.ReportMetric(float64(n*b.N)/tr.wall.Seconds(), "remote-samples/s")
	b.ReportMetric(tl.wall.Seconds()/tr.wall.Seconds(), "ratio")
	b.ReportMetric(tl.cpu.Seconds()/tr.cpu.Seconds(), "cpu-ratio")
	b.ReportMetric(float64(8*8*n*b.N)/float64(s.Written.Load()), "payload/wire")
}

// BenchmarkTNGDIteration is one TNGD training iteration (gradient, factored
// couplings, analog run, read-out, update; the default MNIST model and a
// batch of 64) on sim:tngd locally and through the server; remote/local is
// the ratio (goal ≤ 1.2), of wall and of CPU time.
func BenchmarkTNGDIteration(b *testing.B) {
	const batch = 64
	local, remote, _ := pair(b, "sim:tngd?seed=1")
	step := func(bd hal.Board) func() {
		m, err := optim.NewMLP(optim.DefaultSizes(), optim.Tanh, 1)
		require.NoError(b, err)
		o, err := optim.NewTNGD(bd, m.NumParams(), batch*m.Outputs(), optim.TNGDOptions{LR: 0.01, T: 50, Window: 1})
		require.NoError(b, err)
		bt := optim.Batch{X: testnum.Constant(batch*optim.DefaultSizes()[0], 0.5), Y: make([]int, batch)}
		for i := range bt.Y {
			bt.Y[i] = i % m.Outputs()
		}
		return func() {
			it, err := optim.NewIteration(0, m, bt, 0.01)
			require.NoError(b, err)
			_, err = o.Step(context.Background(), it)
			require.NoError(b, err)
		}
	}
	sl, sr := step(local), step(remote)
	var tl, tr spent
	for b.Loop() {
		timed(&tl, sl)
		timed(&tr, sr)
	}
	b.ReportMetric(tl.wall.Seconds()*1e3/float64(b.N), "local-ms/it")
	b.ReportMetric(tr.wall.Seconds()*1e3/float64(b.N), "remote-ms/it")
	b.ReportMetric(tr.wall.Seconds()/tl.wall.Seconds(), "remote/local")
	b.ReportMetric(tr.cpu.Seconds()/tl.cpu.Seconds(), "remote/local-cpu")
}
