package trainer

import (
	"context"
	"math/rand/v2"
	"testing"
)

// benchIteration is the paper's setting: 784-32-10 (N = 25,450), batch 64,
// inputs uniform in [0, 1) like normalised MNIST pixels.
func benchIteration(b *testing.B) (*MLP, Batch) {
	b.Helper()
	m, err := NewMLP(DefaultSizes(), Tanh, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	bt := Batch{X: make([]float64, 64*784), Y: make([]int, 64)}
	for i := range bt.X {
		bt.X[i] = r.Float64()
	}
	for i := range bt.Y {
		bt.Y[i] = r.IntN(10)
	}
	return m, bt
}

func BenchmarkGradient(b *testing.B) {
	m, bt := benchIteration(b)
	for b.Loop() {
		if _, err := NewIteration(0, m, bt, 0.01); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFactorization(b *testing.B) {
	m, bt := benchIteration(b)
	for b.Loop() {
		it, _ := NewIteration(0, m, bt, 0.01)
		it.Factorization()
	}
}

func BenchmarkDualGram(b *testing.B) {
	m, bt := benchIteration(b)
	for b.Loop() {
		it, _ := NewIteration(0, m, bt, 0.01)
		it.DualGram()
	}
}

func BenchmarkWoodbury(b *testing.B) {
	m, bt := benchIteration(b)
	for b.Loop() {
		it, _ := NewIteration(0, m, bt, 0.01)
		if _, err := WoodburyDirection(it); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFVec(b *testing.B) {
	m, bt := benchIteration(b)
	it, _ := NewIteration(0, m, bt, 0.01)
	it.Factorization()
	dst := make([]float64, m.NumParams())
	for b.Loop() {
		it.FVec(dst, it.Grad)
	}
}

var _ = context.Background

func BenchmarkStructGram(b *testing.B) {
	m, bt := benchIteration(b)
	it, _ := NewIteration(0, m, bt, 0.01)
	u := it.UJacobian()
	for b.Loop() {
		structGram(u)
	}
}

func BenchmarkHalGram(b *testing.B) {
	m, bt := benchIteration(b)
	it, _ := NewIteration(0, m, bt, 0.01)
	u := it.UJacobian()
	for b.Loop() {
		u.Gram()
	}
}

func BenchmarkUJacobian(b *testing.B) {
	m, bt := benchIteration(b)
	for b.Loop() {
		it, _ := NewIteration(0, m, bt, 0.01)
		it.UJacobian()
	}
}
