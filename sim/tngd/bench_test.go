package tngd

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// mlpFactorization draws a factorization with the shape and the rough
// scales of the paper's MNIST MLP (784-32-10, batch 64, tanh), N = 25,450:
// layer 1 (32 × 785 at column 0) has MNIST-like inputs (19 % of pixels on,
// plus the bias input 1) and signals W₂ᵀ·tanh' with W₂ ~ N(0, 1/33);
// layer 2 (10 × 33 at column 25,120) has tanh inputs and one-hot signals;
// H is the softmax Hessian of random logits, Scale = 1/64, λ = 0.01.
// With gaussian, signals and inputs are plain N(0, 1) instead (a much
// wider spectrum of G).
func mlpFactorization(r *rand.Rand, gaussian bool) *hal.Factorization {
	const batch, out, hidden, in = 64, 10, 32, 784
	m := batch * out
	j := hal.Jacobian{Rows: m, Cols: hidden*(in+1) + out*(hidden+1), RowsPerSample: out}
	l1 := hal.JacobianBlock{Col: 0, Out: hidden, In: in + 1,
		Signal: make([]float64, m*hidden), Input: make([]float64, batch*(in+1))}
	l2 := hal.JacobianBlock{Col: hidden * (in + 1), Out: out, In: hidden + 1,
		Signal: make([]float64, m*out), Input: make([]float64, batch*(hidden+1))}
	w2 := make([]float64, out*hidden)
	for i := range w2 {
		w2[i] = r.NormFloat64() / math.Sqrt(hidden+1)
	}
	for s := range batch {
		x := l1.Input[s*(in+1) : (s+1)*(in+1)]
		for q := range in {
			if r.Float64() < 0.19 {
				x[q] = 0.5 + 0.5*r.Float64()
			}
		}
		x[in] = 1
		a := l2.Input[s*(hidden+1) : (s+1)*(hidden+1)]
		for q := range hidden {
			a[q] = math.Tanh(r.NormFloat64())
		}
		a[hidden] = 1
		for p := range out {
			row := s*out + p
			l2.Signal[row*out+p] = 1
			for q := range hidden {
				l1.Signal[row*hidden+q] = w2[p*hidden+q] * (1 - a[q]*a[q])
			}
		}
	}
	if gaussian {
		for _, v := range [][]float64{l1.Signal, l1.Input, l2.Signal, l2.Input} {
			for i := range v {
				v[i] = r.NormFloat64()
			}
		}
	}
	j.Blocks = []hal.JacobianBlock{l1, l2}
	h := testnum.SoftmaxHessians(r, batch, out, 2)
	return &hal.Factorization{J: j, H: h, Scale: 1.0 / batch, Lambda: 0.01}
}

// BenchmarkTNGDIteration is one TNGD iteration on the virtual SPU at the
// paper's MNIST shape (N = 25,450, m = 640): program J, H, λ; write the
// gradient as the bias; run 50τ; read one sample. The board continues from
// its state (a warm start), as TNGD does. Metrics: Lanczos steps per
// iteration, and the simulated board time per iteration (dominated by
// moving m(m + 2N) values over the 1 GB/s link).
func BenchmarkTNGDIteration(b *testing.B) {
	for _, c := range []struct {
		name     string
		uri      string
		gaussian bool
	}{
		{"mlp", "sim:tngd?cells=25450", false},
		{"mlp-cells100000", "sim:tngd", false},
		{"mlp-eig", "sim:tngd?cells=25450&method=eig", false},
		// The ADC filter at 1 MHz (ω = 6.3/τ): always the eig path.
		{"mlp-eig-filter", "sim:tngd?cells=25450&method=eig&adc_filter=1e6", false},
		{"gaussian", "sim:tngd?cells=25450", true},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			facs := make([]*hal.Factorization, 4)
			for i := range facs {
				facs[i] = mlpFactorization(r, c.gaussian)
			}
			board, err := open(c.uri)
			if err != nil {
				b.Fatal(err)
			}
			cells := board.Info().Cells
			grads := make([][]float64, 4)
			for i := range grads {
				grads[i] = make([]float64, cells)
				for q := range facs[0].J.Cols {
					grads[i][q] = 1e-3 * r.NormFloat64()
				}
			}
			out := make([]float64, cells)
			period := board.Info().MinSamplePeriod
			var prog, run time.Duration
			t0, _ := board.BoardTime()
			s0 := board.Stats()
			i := 0
			for b.Loop() {
				start := time.Now()
				if err := board.SetFactoredCouplings(ctx, facs[i%4]); err != nil {
					b.Fatal(err)
				}
				prog += time.Since(start)
				start = time.Now()
				if err := board.SetBias(ctx, grads[i%4]); err != nil {
					b.Fatal(err)
				}
				if err := board.Run(ctx, 50*time.Microsecond-period); err != nil {
					b.Fatal(err)
				}
				if _, err := board.Sample(ctx, period, out); err != nil {
					b.Fatal(err)
				}
				run += time.Since(start)
				i++
			}
			st := board.Stats()
			n := float64(b.N)
			b.ReportMetric(float64(st.LanczosSteps-s0.LanczosSteps)/n, "lanczos-steps/op")
			b.ReportMetric(float64(st.MaxLanczosSteps), "max-steps")
			b.ReportMetric(float64(prog.Milliseconds())/n, "program-ms/op")
			b.ReportMetric(float64(run.Milliseconds())/n, "transition-ms/op")
			t1, _ := board.BoardTime()
			b.ReportMetric((t1-t0).Seconds()*1e3/n, "board-ms/op")
		})
	}
}
