package virtual

import (
	"context"
	"testing"

	"github.com/spukit/spukit/hal"
)

// The cost of the SPI path on virtual chips against the simulator alone:
// 1000 samples of 8 cells per op, at each board's minimum period.
func BenchmarkSample(b *testing.B) {
	for _, uri := range []string{"sim:proto8?seed=1", "spi+sim:proto8?seed=1"} {
		b.Run(uri, func(b *testing.B) {
			ctx := context.Background()
			bd, err := hal.Open(ctx, uri)
			if err != nil {
				b.Fatal(err)
			}
			defer bd.Close()
			dst := make([]float64, 1000*8)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bd.Sample(ctx, 0, dst); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sample")
		})
	}
}

// A full coupling update (sign changes included) through the driver and
// the virtual chips.
func BenchmarkSetCouplings(b *testing.B) {
	ctx := context.Background()
	bd, err := hal.Open(ctx, "spi+sim:proto8?seed=1")
	if err != nil {
		b.Fatal(err)
	}
	defer bd.Close()
	k := 8
	a1, a2 := make([]float64, k*k), make([]float64, k*k)
	for i := range k {
		a1[i*k+i], a2[i*k+i] = 1, 1.5
		if i > 0 {
			a1[i*k+i-1], a2[i*k+i-1] = -0.2, 0.2
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		a := a1
		if n%2 == 1 {
			a = a2
		}
		n++
		if err := bd.SetCouplings(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}
