package sim

import (
	"fmt"
	"testing"
)

// benchProfile is the ideal board ("off": injected noise only, which is
// the physics, not a non-ideality) or proto8 ("on": every non-ideality of
// the lab prototype, drift included) resized to k cells.
func benchProfile(k int, on bool) Profile {
	p := builtins["ideal"]
	if on {
		p = builtins["proto8"]
	}
	p.Cells = k
	return p
}

// BenchmarkStep measures simulator steps (one exact OU transition of the
// whole chain plus one ADC reading of every cell) per second: one op is one
// step. Run with -benchmem: allocs/op must be 0.
func BenchmarkStep(b *testing.B) {
	for _, k := range []int{8, 64, 256} {
		for _, on := range []bool{false, true} {
			name := "off"
			if on {
				name = "on"
			}
			b.Run(fmt.Sprintf("K=%d/nonideal=%s", k, name), func(b *testing.B) {
				brd, err := New(benchProfile(k, on), 1)
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
				for done := 0; done < b.N; done += rows {
					n := min(rows, b.N-done)
					if _, err := brd.Sample(ctx, 0, dst[:n*k]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
			})
		}
	}
}
