package ggn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// benchFact is the paper's MNIST shape: 784-32-10 with bias inputs
// (N = 25,450), batch 64 (m = 640).
func benchFact() *hal.Factorization {
	r := rand.New(rand.NewPCG(1, 2))
	return testnum.RandFactorization(r, 64, 10, 32*785+10*33, [][3]int{{0, 32, 785}, {32 * 785, 10, 33}}, 0.1)
}

// BenchmarkKernels times each kernel at the MNIST shape with reused
// scratch: go test ./ggn -run X -bench Kernels.
func BenchmarkKernels(b *testing.B) {
	f := benchFact()
	j := &f.J
	r := rand.New(rand.NewPCG(3, 3))
	v, w := randVec(r, j.Cols), randVec(r, j.Rows)
	work := make([]float64, ggn.WorkLen(j))
	jv, jtw := make([]float64, j.Rows), make([]float64, j.Cols)
	g := make([]float64, j.Rows*j.Rows)
	hh := make([]float64, len(f.H))
	var gws ggn.GramWork
	var sws ggn.SqrtWork
	var u hal.Jacobian
	for _, c := range []struct {
		name string
		run  func()
	}{
		{"MulVec", func() { ggn.MulVec(jv, j, v, work) }},
		{"MulTransVec", func() { ggn.MulTransVec(jtw, j, w, work) }},
		{"Gram", func() { ggn.Gram(g, j, &gws) }},
		{"SqrtH", func() { ggn.SqrtH(hh, f.H, 10, &sws) }},
		{"U", func() { ggn.U(&u, j, hh, f.Scale) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.run()
			}
		})
	}
}
