package ggn_test

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// The oracles below are the naive loops that hal/factored.go, sim/tngd.go
// and optim/tngd.go carried before package ggn: each kernel is tested
// against them.

// naiveMulVec sets dst (length Rows) to J v (v of length Cols).
func naiveMulVec(j *hal.Jacobian, dst, v []float64) {
	clear(dst[:j.Rows])
	tmp := make([]float64, 0, 64)
	for _, b := range j.Blocks {
		// (J v)_r = Σ_p δ_r[p] (W a_s)[p] with W = v[Col:] as Out × In.
		s := j.Samples()
		tmp = tmp[:0]
		for si := range s {
			a := b.Input[si*b.In : si*b.In+b.In]
			for p := range b.Out {
				w := v[b.Col+p*b.In : b.Col+p*b.In+b.In]
				acc := 0.0
				for q, x := range a {
					acc += w[q] * x
				}
				tmp = append(tmp, acc)
			}
		}
		for r := range j.Rows {
			wa := tmp[(r/j.RowsPerSample)*b.Out : (r/j.RowsPerSample+1)*b.Out]
			sig := b.Signal[r*b.Out : r*b.Out+b.Out]
			acc := 0.0
			for p, d := range sig {
				acc += d * wa[p]
			}
			dst[r] += acc
		}
	}
}

// naiveMulTransVec sets dst (length Cols) to Jᵀ w (w of length Rows).
func naiveMulTransVec(j *hal.Jacobian, dst, w []float64) {
	clear(dst[:j.Cols])
	for _, b := range j.Blocks {
		// Jᵀw restricted to the block is Σ_s (Σ_{r∈s} w_r δ_r) ⊗ a_s.
		c := make([]float64, b.Out)
		for si := range j.Samples() {
			clear(c)
			for r := si * j.RowsPerSample; r < (si+1)*j.RowsPerSample; r++ {
				sig := b.Signal[r*b.Out : r*b.Out+b.Out]
				for p, d := range sig {
					c[p] += w[r] * d
				}
			}
			a := b.Input[si*b.In : si*b.In+b.In]
			for p, cp := range c {
				if cp == 0 {
					continue
				}
				row := dst[b.Col+p*b.In : b.Col+p*b.In+b.In]
				for q, x := range a {
					row[q] += cp * x
				}
			}
		}
	}
}

// naiveGram returns J Jᵀ (Rows × Rows, row-major): per block the Hadamard
// product of Signal·Signalᵀ and Input·Inputᵀ expanded to rows.
func naiveGram(j *hal.Jacobian) []float64 {
	m, k, b := j.Rows, j.RowsPerSample, j.Samples()
	out := make([]float64, m*m)
	var ss, ii mat.Dense
	for _, blk := range j.Blocks {
		sg := mat.NewDense(m, blk.Out, blk.Signal)
		in := mat.NewDense(b, blk.In, blk.Input)
		ss.Reset()
		ii.Reset()
		ss.Mul(sg, sg.T())
		ii.Mul(in, in.T())
		sraw, iraw := ss.RawMatrix(), ii.RawMatrix()
		for r := range m {
			row := out[r*m : (r+1)*m]
			srow := sraw.Data[r*sraw.Stride : r*sraw.Stride+m]
			irow := iraw.Data[(r/k)*iraw.Stride : (r/k)*iraw.Stride+b]
			for c, v := range srow {
				row[c] += v * irow[c/k]
			}
		}
	}
	return out
}

// naiveSymSqrt sets dst to the symmetric square root of the PSD part of
// the k × k symmetric h, summing both triangles separately.
func naiveSymSqrt(dst, h []float64, k int) bool {
	if k == 1 {
		dst[0] = math.Sqrt(math.Max(h[0], 0))
		return true
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(k, slices.Clone(h)), true) {
		return false
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	clear(dst)
	for e, l := range vals {
		if l <= 0 {
			continue
		}
		r := math.Sqrt(l)
		for a := range k {
			va := v.At(a, e) * r
			for c := range k {
				dst[a*k+c] += va * v.At(c, e)
			}
		}
	}
	return true
}

// naiveMulH sets dst = H v for block-diagonal H with r × r blocks.
func naiveMulH(dst, h, v []float64, r int) {
	for s := 0; s*r < len(v); s++ {
		blk := h[s*r*r : (s+1)*r*r]
		for i := range r {
			acc := 0.0
			for c, x := range blk[i*r : (i+1)*r] {
				acc += x * v[s*r+c]
			}
			dst[s*r+i] = acc
		}
	}
}

// naiveCurvature returns the k × k matrix whose leading N × N block is
// F = λI + s·JᵀHJ, column by column from N products with J and Jᵀ.
func naiveCurvature(f *hal.Factorization, k int) []float64 {
	n, m := f.J.Cols, f.J.Rows
	out := make([]float64, k*k)
	e := make([]float64, n)
	jv := make([]float64, m)
	hjv := make([]float64, m)
	col := make([]float64, n)
	for c := range n {
		clear(e)
		e[c] = 1
		naiveMulVec(&f.J, jv, e)
		naiveMulH(hjv, f.H, jv, f.J.RowsPerSample)
		naiveMulTransVec(&f.J, col, hjv)
		for r := range n {
			out[r*k+c] = f.Scale * col[r]
		}
		out[c*k+c] += f.Lambda
	}
	return out
}

// denseFromDefinition builds J entry by entry from hal.Jacobian's doc.
func denseFromDefinition(j *hal.Jacobian) *mat.Dense {
	out := mat.NewDense(j.Rows, j.Cols, nil)
	for r := range j.Rows {
		for _, b := range j.Blocks {
			for p := range b.Out {
				for q := range b.In {
					c := b.Col + p*b.In + q
					out.Set(r, c, out.At(r, c)+b.Signal[r*b.Out+p]*b.Input[(r/j.RowsPerSample)*b.In+q])
				}
			}
		}
	}
	return out
}

// gemmMulTransVec is the GEMM formulation of Jᵀw that optim used before
// package ggn: per block, C_s = Σ_{r∈s} w_r Signal_r (Samples × Out), then
// the block's columns are Cᵀ·Input. MulTransVec must match it bit for bit:
// the seeded results of ngd-woodbury and the dual mapping depend on it.
func gemmMulTransVec(j *hal.Jacobian, dst, w []float64) {
	clear(dst[:j.Cols])
	b, k := j.Samples(), j.RowsPerSample
	for _, blk := range j.Blocks {
		c := make([]float64, b*blk.Out)
		for r := range j.Rows {
			if w[r] != 0 {
				for p, v := range blk.Signal[r*blk.Out : (r+1)*blk.Out] {
					c[(r/k)*blk.Out+p] += w[r] * v
				}
			}
		}
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, blas64.General{Rows: b, Cols: blk.Out, Stride: blk.Out, Data: c},
			blas64.General{Rows: b, Cols: blk.In, Stride: blk.In, Data: blk.Input}, 1,
			blas64.General{Rows: blk.Out, Cols: blk.In, Stride: blk.In, Data: dst[blk.Col : blk.Col+blk.Out*blk.In]})
	}
}
