package ggn

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// SqrtWork is SqrtH's scratch space, reused across calls; the zero value
// is ready. It is not safe for concurrent use.
type SqrtWork struct {
	k        int
	sym      *mat.SymDense
	eig      mat.EigenSym
	vecs     mat.Dense
	vals, sq []float64
}

func (ws *SqrtWork) size(k int) {
	if ws.k != k {
		ws.k = k
		ws.sym = mat.NewSymDense(k, nil)
		ws.vals = make([]float64, k)
		ws.sq = make([]float64, k)
		ws.vecs.Reset()
	}
}

// SqrtH sets dst to the symmetric square roots H_s^{1/2} of the k × k
// blocks of h (concatenated row-major blocks, as hal.Factorization.H),
// each from its eigendecomposition V diag(√max(θ, 0)) Vᵀ: eigenvalues
// below zero from round-off are clipped, so a symmetric block that is not
// positive semidefinite gets the square root of its PSD part. Only the
// upper triangle of each block is read; dst's blocks are exactly
// symmetric. len(dst) = len(h), a multiple of k². It reports false if an
// eigendecomposition failed (not expected for a symmetric block); that
// block of dst is zero, and the others are computed.
func SqrtH(dst, h []float64, k int, ws *SqrtWork) bool {
	if k <= 0 || len(h)%(k*k) != 0 {
		panic(fmt.Sprintf("ggn: H has %d entries, not a whole number of %d×%d blocks", len(h), k, k))
	}
	checkLen("dst", len(dst), len(h))
	if k == 1 {
		for s, v := range h {
			dst[s] = math.Sqrt(math.Max(v, 0))
		}
		return true
	}
	ws.size(k)
	ok := true
	for s := range len(h) / (k * k) {
		blk := h[s*k*k : (s+1)*k*k]
		for a := range k {
			for c := a; c < k; c++ {
				ws.sym.SetSym(a, c, blk[a*k+c])
			}
		}
		out := dst[s*k*k : (s+1)*k*k]
		if !ws.eig.Factorize(ws.sym, true) {
			clear(out)
			ok = false
			continue
		}
		ws.eig.Values(ws.vals)
		ws.eig.VectorsTo(&ws.vecs)
		for e, lam := range ws.vals {
			ws.sq[e] = math.Sqrt(math.Max(lam, 0))
		}
		v := ws.vecs.RawMatrix()
		for a := range k {
			va := v.Data[a*v.Stride : a*v.Stride+k]
			for c := a; c < k; c++ {
				vc := v.Data[c*v.Stride : c*v.Stride+k]
				acc := 0.0
				for e := range k {
					acc += va[e] * ws.sq[e] * vc[e]
				}
				out[a*k+c], out[c*k+a] = acc, acc
			}
		}
	}
	return ok
}
