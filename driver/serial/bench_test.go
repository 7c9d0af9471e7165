package serial

import (
	"context"
	"slices"
	"testing"
	"time"

	bug "go.bug.st/serial"

	"github.com/spukit/spukit/emu"
	"github.com/spukit/spukit/hal"
)

// countingPort counts the bytes each way.
type countingPort struct {
	Port
	in, out int
}

func (c *countingPort) Read(p []byte) (int, error) {
	n, err := c.Port.Read(p)
	c.in += n
	return n, err
}

func (c *countingPort) Write(p []byte) (int, error) {
	n, err := c.Port.Write(p)
	c.out += n
	return n, err
}

// BenchmarkStreamOverPTY: over a real pty to the emulator, program an 8 × 8
// coupling matrix and the bias, then stream 10,000 samples of 8 channels.
// Reports the wire bytes, the streaming efficiency (sample payload bytes /
// bytes on the wire while streaming), the median round trip of a small
// request, and what the same traffic would take at 921,600 baud (10 bits a
// byte) and at 12 Mbit/s (USB full speed, raw).
func BenchmarkStreamOverPTY(b *testing.B) {
	ctx := context.Background()
	sb, err := hal.Open(ctx, "sim:proto8?seed=1")
	if err != nil {
		b.Fatal(err)
	}
	e, err := emu.Serve(ctx, sb, "", emu.Faults{}, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	p, err := bug.Open(e.Path, &bug.Mode{BaudRate: 921600})
	if err != nil {
		b.Fatal(err)
	}
	cp := &countingPort{Port: p}
	d, err := New(ctx, cp, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	k := d.Info().Cells
	a := make([]float64, k*k)
	bias := make([]float64, k)
	for i := range k {
		a[i*k+i] = 1
		bias[i] = 0.1 * float64(i)
	}
	dst := make([]float64, 10000*k)
	var wire, stream int
	for b.Loop() {
		in0, out0 := cp.in, cp.out
		a[0] = 1 + 0.001*float64(cp.in%7) // a changed matrix each time
		if err := d.SetCouplings(ctx, a); err != nil {
			b.Fatal(err)
		}
		if err := d.SetBias(ctx, bias); err != nil {
			b.Fatal(err)
		}
		s0 := cp.in + cp.out
		if _, err := d.Sample(ctx, 0, dst); err != nil {
			b.Fatal(err)
		}
		stream = cp.in + cp.out - s0
		wire = cp.in - in0 + cp.out - out0
	}
	b.StopTimer()
	var rtts []time.Duration
	for range 101 {
		t0 := time.Now()
		bias[0] = -bias[0]
		if err := d.SetBias(ctx, bias); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(t0))
	}
	slices.Sort(rtts)
	payload := 10000 * k * 2
	b.ReportMetric(float64(wire), "wire_bytes/op")
	b.ReportMetric(float64(payload)/float64(stream), "stream_efficiency")
	b.ReportMetric(float64(rtts[50].Microseconds()), "rtt_median_µs")
	b.ReportMetric(float64(wire)*10/921600, "s@921600baud")
	b.ReportMetric(float64(wire)*8/12e6, "s@12Mbit")
}
