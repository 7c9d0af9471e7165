package ggn

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"

	"github.com/spukit/spukit/hal"
)

// checkShape panics unless j's blocks fit its rows and columns: the
// kernels index Signal, Input and the block's columns from these numbers.
func checkShape(j *hal.Jacobian) {
	if j.Rows <= 0 || j.Cols <= 0 || j.RowsPerSample <= 0 || j.Rows%j.RowsPerSample != 0 {
		panic(fmt.Sprintf("ggn: jacobian %d×%d with %d rows per sample", j.Rows, j.Cols, j.RowsPerSample))
	}
	s := j.Samples()
	for k, b := range j.Blocks {
		if b.Out <= 0 || b.In <= 0 || b.Col < 0 || b.Col+b.Out*b.In > j.Cols ||
			len(b.Signal) != j.Rows*b.Out || len(b.Input) != s*b.In {
			panic(fmt.Sprintf("ggn: jacobian block %d (columns [%d, %d) of %d, %d signal and %d input entries) does not fit %d rows of %d samples",
				k, b.Col, b.Col+b.Out*b.In, j.Cols, len(b.Signal), len(b.Input), j.Rows, s))
		}
	}
}

func checkLen(what string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("ggn: %s has length %d, want %d", what, got, want))
	}
}

func checkWork(got, want int) {
	if got < want {
		panic(fmt.Sprintf("ggn: work has length %d, want at least %d", got, want))
	}
}

// WorkLen returns the scratch length MulVec and MulTransVec need for j:
// Samples × the largest block's Out.
func WorkLen(j *hal.Jacobian) int {
	w := 0
	for _, b := range j.Blocks {
		w = max(w, b.Out)
	}
	return j.Samples() * w
}

// MulVec sets dst = J v: per block, the Samples × Out matrix Z = Input·V_Bᵀ
// (V_B = the block's columns of v as Out × In, one GEMM), then
// (J v)_r = Signal_r · Z_{s(r)}. dst has length j.Rows, v length j.Cols,
// work at least WorkLen(j). It does not allocate.
func MulVec(dst []float64, j *hal.Jacobian, v, work []float64) {
	checkShape(j)
	checkLen("dst", len(dst), j.Rows)
	checkLen("v", len(v), j.Cols)
	checkWork(len(work), WorkLen(j))
	clear(dst)
	b, k := j.Samples(), j.RowsPerSample
	for _, blk := range j.Blocks {
		zb := work[:b*blk.Out]
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, general(b, blk.In, blk.In, blk.Input),
			general(blk.Out, blk.In, blk.In, v[blk.Col:blk.Col+blk.Out*blk.In]), 0, general(b, blk.Out, blk.Out, zb))
		for r := range j.Rows {
			dst[r] += dot(blk.Signal[r*blk.Out:(r+1)*blk.Out], zb[(r/k)*blk.Out:(r/k+1)*blk.Out])
		}
	}
}

// MulTransVec sets dst = Jᵀ w: per block and sample s, the Out-vector
// c = Σ_{r∈s} w_r Signal_r, then each of the block's Out column ranges
// gets c_p times the sample's input (a long AXPY). Every entry sums over
// the samples in order, exactly as the GEMM Cᵀ·Input that optim used, so
// the results are bit for bit those of GEMM, without its blocking of the
// In columns into short pieces. Columns no block covers are zero. dst has
// length j.Cols, w length j.Rows, work at least WorkLen(j). It does not
// allocate.
func MulTransVec(dst []float64, j *hal.Jacobian, w, work []float64) {
	checkShape(j)
	checkLen("dst", len(dst), j.Cols)
	checkLen("w", len(w), j.Rows)
	checkWork(len(work), WorkLen(j))
	clear(dst)
	k := j.RowsPerSample
	for _, blk := range j.Blocks {
		c := work[:blk.Out]
		for s := range j.Samples() {
			clear(c)
			for r := s * k; r < (s+1)*k; r++ {
				if w[r] != 0 {
					axpy(c, w[r], blk.Signal[r*blk.Out:(r+1)*blk.Out])
				}
			}
			a := blk.Input[s*blk.In : (s+1)*blk.In]
			for p, cp := range c {
				if cp != 0 {
					floats.AddScaled(dst[blk.Col+p*blk.In:blk.Col+(p+1)*blk.In], cp, a)
				}
			}
		}
	}
}

// Dense sets dst (j.Rows × j.Cols, row-major) to J formed entry by entry:
// O(Rows·Cols) memory, for small problems and tests.
func Dense(dst []float64, j *hal.Jacobian) {
	checkShape(j)
	m, n, k := j.Rows, j.Cols, j.RowsPerSample
	checkLen("dst", len(dst), m*n)
	clear(dst)
	for _, blk := range j.Blocks {
		for r := range m {
			a := blk.Input[(r/k)*blk.In : (r/k+1)*blk.In]
			for p, sv := range blk.Signal[r*blk.Out : (r+1)*blk.Out] {
				if sv != 0 {
					axpy(dst[r*n+blk.Col+p*blk.In:r*n+blk.Col+(p+1)*blk.In], sv, a)
				}
			}
		}
	}
}

// U sets dst to U = √scale·H^{1/2}·J as a structured Jacobian with J's
// blocks, given hhalf = H^{1/2} in the layout of hal.Factorization.H (see
// SqrtH): the rows of one sample share the layer input, so premultiplying
// by the block-diagonal H^{1/2} only mixes that sample's signals. dst's
// inputs are j's (shared, not copied); its signals are reused when dst
// already has j's blocks with signals of the right length, else allocated,
// and must not alias j's. Then λI + UᵀU = λI + scale·JᵀHJ.
func U(dst, j *hal.Jacobian, hhalf []float64, scale float64) {
	checkShape(j)
	k, b := j.RowsPerSample, j.Samples()
	checkLen("hhalf", len(hhalf), b*k*k)
	if !(scale >= 0) {
		panic(fmt.Sprintf("ggn: scale = %g, want ≥ 0", scale))
	}
	c := math.Sqrt(scale)
	if len(dst.Blocks) != len(j.Blocks) {
		dst.Blocks = make([]hal.JacobianBlock, len(j.Blocks))
	}
	dst.Rows, dst.Cols, dst.RowsPerSample = j.Rows, j.Cols, k
	for i, blk := range j.Blocks {
		out := blk.Out
		sig := dst.Blocks[i].Signal
		if len(sig) != len(blk.Signal) {
			sig = make([]float64, len(blk.Signal))
		} else {
			clear(sig)
		}
		for s := range b {
			h := hhalf[s*k*k : (s+1)*k*k]
			src := blk.Signal[s*k*out : (s+1)*k*out]
			dst := sig[s*k*out : (s+1)*k*out]
			for a := range k {
				row := dst[a*out : (a+1)*out]
				for e := range k {
					if w := c * h[a*k+e]; w != 0 {
						axpy(row, w, src[e*out:(e+1)*out])
					}
				}
			}
		}
		dst.Blocks[i] = hal.JacobianBlock{Col: blk.Col, Out: out, In: blk.In, Signal: sig, Input: blk.Input}
	}
}

func general(rows, cols, stride int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: stride, Data: data}
}

// dot and axpy are plain loops: their summation order is part of every
// seeded result (BLAS's unrolled versions sum in another order).
func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpy(dst []float64, a float64, x []float64) {
	for i, v := range x {
		dst[i] += a * v
	}
}
