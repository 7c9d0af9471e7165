package optim

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/internal/testnum"
)

// benchModel is the paper's setting: 784-32-10 (N = 25,450), batch 64
// (m = 640), inputs like MNIST pixels: a fifth of them uniform in (0, 1],
// the rest 0 (λ_max(F) ≈ 1.6 at λ = 0.01, so Euler–Maruyama at δt = 0.1τ is
// stable; real MNIST batches give 3–6 at initialisation).
func benchModel(b *testing.B, sizes []int) (*MLP, Batch) {
	b.Helper()
	m, err := NewMLP(sizes, Tanh, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	bt := Batch{X: make([]float64, 64*sizes[0]), Y: make([]int, 64)}
	for i := range bt.X {
		if r.Float64() < 0.2 {
			bt.X[i] = 1 - r.Float64()
		}
	}
	for i := range bt.Y {
		bt.Y[i] = r.IntN(sizes[len(sizes)-1])
	}
	return m, bt
}

func benchIteration(b *testing.B) *Iteration {
	b.Helper()
	m, bt := benchModel(b, DefaultSizes())
	it, err := NewIteration(0, m, bt, 0.01)
	if err != nil {
		b.Fatal(err)
	}
	return it
}

// BenchmarkGradient: forward pass, loss and backprop gradient.
func BenchmarkGradient(b *testing.B) {
	m, bt := benchModel(b, DefaultSizes())
	for b.Loop() {
		if _, err := NewIteration(0, m, bt, 0.01); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFactorization: J's signals and H on top of the gradient — what
// the factored mapping sends to a board.
func BenchmarkFactorization(b *testing.B) {
	m, bt := benchModel(b, DefaultSizes())
	for b.Loop() {
		it, _ := NewIteration(0, m, bt, 0.01)
		it.Factorization()
	}
}

// BenchmarkDualGram: G = UUᵀ (640 × 640) alone, from a prepared U, with
// the reused workspace of ggn.Gram.
func BenchmarkDualGram(b *testing.B) {
	it := benchIteration(b)
	u := it.UJacobian()
	g := make([]float64, u.Rows*u.Rows)
	var ws ggn.GramWork
	for b.Loop() {
		ggn.Gram(g, u, &ws)
	}
}

// BenchmarkWoodbury: the exact NGD direction from a fresh iteration's
// gradient: H^{1/2}, U, G, Cholesky of λI + G, U g, solve, Uᵀ y.
func BenchmarkWoodbury(b *testing.B) {
	m, bt := benchModel(b, DefaultSizes())
	for b.Loop() {
		it, _ := NewIteration(0, m, bt, 0.01)
		if _, err := WoodburyDirection(it); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFVec: one matrix-free F v (the unit of NGD-CG and the
// Euler–Maruyama reference).
func BenchmarkFVec(b *testing.B) {
	it := benchIteration(b)
	dst := make([]float64, len(it.Grad))
	it.FVec(dst, it.Grad)
	for b.Loop() {
		it.FVec(dst, it.Grad)
	}
}

// BenchmarkStep is one whole digital training iteration per optimiser:
// NewIteration (forward, gradient) and Step (curvature and solve when the
// optimiser needs them) at the default model, except dense NGD, which is
// refused at N = 25,450 and runs at 100-9-10 (N = 1,009) instead. With
// -cpu 1 the cpu-ns/op metric is the CPU time of the loop per step
// (getrusage), without the process's start and the set-up (about 40 ms,
// which the whole child's rusage in scripts/peers/go_cpu.py counted).
func BenchmarkStep(b *testing.B) {
	ctx := context.Background()
	em, err := NewTNGDEuler(EulerOptions{LR: 0.01, T: 50, Dt: 0.1})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		sizes []int
		opt   Optimizer
	}{
		{"sgd", nil, &SGD{LR: 0.01, Momentum: 0.9}},
		{"adam", nil, NewAdam(1e-3)},
		{"ngd-woodbury", nil, &NGDWoodbury{LR: 0.01}},
		{"ngd-cg", nil, &NGDCG{LR: 0.01}},
		{"tngd-em-t50", nil, em},
		{"ngd-dense-N1009", []int{100, 9, 10}, &NGD{LR: 0.01}},
	} {
		b.Run(c.name, func(b *testing.B) {
			sizes := c.sizes
			if sizes == nil {
				sizes = DefaultSizes()
			}
			m, bt := benchModel(b, sizes)
			iters := 0
			cpu0, cpuOK := testnum.ProcessCPU()
			for b.Loop() {
				it, err := NewIteration(0, m, bt, 0.01)
				if err != nil {
					b.Fatal(err)
				}
				st, err := c.opt.Step(ctx, it)
				if err != nil {
					b.Fatal(err)
				}
				iters += st.Iterations
			}
			if cpu1, ok := testnum.ProcessCPU(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			if iters > 0 {
				b.ReportMetric(float64(iters)/float64(b.N), "inner/op")
			}
		})
	}
}
