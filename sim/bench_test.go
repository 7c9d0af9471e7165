package sim

import (
	"fmt"
	"testing"

	"github.com/spukit/spukit/internal/testnum"
)

// benchProfile is the ideal board ("off": injected noise only, which is
// the physics, not a non-ideality) or proto8 ("on": every non-ideality of
// the lab prototype, drift and ±12 V rails included) resized to k cells;
// "filter" adds the AD7606's 15 kHz anti-aliasing filter to proto8.
func benchProfile(k int, name string) Profile {
	p := builtins["ideal"]
	if name != "off" {
		p = builtins["proto8"]
	}
	if name == "filter" {
		p.ADC.FilterHz = 15e3
	}
	p.Cells = k
	return p
}

// BenchmarkStep measures simulator steps (one exact OU transition of the
// whole chain plus one ADC reading of every cell) per second: one op is one
// step. Run with -benchmem: allocs/op must be 0. With -cpu 1 the
// cpu-ns/op metric is the CPU time of the timed loop per step (getrusage:
// on a shared machine wall time counts other processes' turns; unlike the
// child's whole rusage it leaves out the set-up, the discretisation of the
// transition, which takes about 0.1 s at K = 256).
func BenchmarkStep(b *testing.B) {
	for _, k := range []int{8, 64, 256} {
		for _, name := range []string{"off", "on", "filter"} {
			if name == "filter" && k > 64 {
				continue // a 768-state transition takes a minute to set up
			}
			b.Run(fmt.Sprintf("K=%d/nonideal=%s", k, name), func(b *testing.B) {
				brd, err := New(benchProfile(k, name), 1)
				if err != nil {
					b.Fatal(err)
				}
				const rows = 1024
				dst := make([]float64, rows*k)
				if _, err := brd.Sample(ctx, 0, dst[:k]); err != nil { // transitions computed here
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0, cpuOK := testnum.ProcessCPU()
				for done := 0; done < b.N; done += rows {
					n := min(rows, b.N-done)
					if _, err := brd.Sample(ctx, 0, dst[:n*k]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
				if cpu1, ok := testnum.ProcessCPU(); ok && cpuOK {
					b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}
