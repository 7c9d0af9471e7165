package ggn

import (
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"

	"github.com/spukit/spukit/hal"
)

// GramWork is Gram's scratch space, grown on demand and reused across
// calls; the zero value is ready. It is not safe for concurrent use.
type GramWork struct {
	st, aa []float64   // per block: transposed signals (Out × m), input Gram (samples², upper)
	rows   [][]float64 // one row buffer (m) per worker
	sp     Sparse      // a sparse block input's nonzeros
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// Gram sets dst (j.Rows × j.Rows, row-major, both triangles, exactly
// symmetric) to J Jᵀ without forming J. For a layer block
// (J Jᵀ)_{r,c} = (Signal_r·Signal_c)(Input_s·Input_{s'}) with s, s' the
// rows' samples, so a block costs O(m²·Out + samples²·In) instead of
// O(m²·Cols). Row r of the upper triangle is, per block,
// (Σ_p S[r,p]·Sᵀ[p, r:]) ∘ (A_s·A_{s(c)}) — Out long AXPYs and one
// Hadamard product — and rows are shared among GOMAXPROCS goroutines.
func Gram(dst []float64, j *hal.Jacobian, ws *GramWork) {
	checkShape(j)
	m, k, b := j.Rows, j.RowsPerSample, j.Samples()
	checkLen("dst", len(dst), m*m)
	nst := 0
	for _, blk := range j.Blocks {
		nst += blk.Out * m
	}
	ws.st = grow(ws.st, nst)
	ws.aa = grow(ws.aa, len(j.Blocks)*b*b)
	type layer struct {
		out     int
		sig, st []float64 // m × Out and its transpose
		aa      []float64 // b × b input Gram, upper triangle
	}
	var small [4]layer
	ls := small[:0]
	off := 0
	for i, blk := range j.Blocks {
		st := ws.st[off : off+blk.Out*m]
		off += blk.Out * m
		for r := range m {
			for p, v := range blk.Signal[r*blk.Out : (r+1)*blk.Out] {
				st[p*m+r] = v
			}
		}
		aa := ws.aa[i*b*b : (i+1)*b*b]
		if float64(Nonzeros(blk.Input)) < SparseDensity*float64(len(blk.Input)) {
			ws.sp.Set(blk.Input, b, blk.In)
			ws.sp.UpperGram(aa) // Syrk's result bit for bit
		} else {
			blas64.Syrk(blas.NoTrans, 1, general(b, blk.In, blk.In, blk.Input), 0,
				blas64.Symmetric{Uplo: blas.Upper, N: b, Stride: b, Data: aa})
		}
		ls = append(ls, layer{out: blk.Out, sig: blk.Signal, st: st, aa: aa})
	}
	clear(dst)
	const chunk = 16
	workers := min(runtime.GOMAXPROCS(0), (m+chunk-1)/chunk)
	for len(ws.rows) < workers {
		ws.rows = append(ws.rows, nil)
	}
	for w := range workers {
		ws.rows[w] = grow(ws.rows[w], m)
	}
	parallelFor((m+chunk-1)/chunk, workers, func(worker int, next func() (int, bool)) {
		tmp := ws.rows[worker]
		for {
			ci, ok := next()
			if !ok {
				return
			}
			for r := ci * chunk; r < min((ci+1)*chunk, m); r++ {
				s := r / k
				row := dst[r*m+r : (r+1)*m]
				for _, l := range ls {
					t := tmp[:m-r]
					clear(t)
					for p, v := range l.sig[r*l.out : (r+1)*l.out] {
						if v != 0 {
							floats.AddScaled(t, v, l.st[p*m+r:(p+1)*m])
						}
					}
					arow := l.aa[s*b : (s+1)*b]
					for c := r; c < m; {
						s2 := c / k
						end := min((s2+1)*k, m)
						a := arow[s2]
						for ; c < end; c++ {
							row[c-r] += t[c-r] * a
						}
					}
				}
			}
		}
	})
	mirror(dst, m)
}

// mirror copies the upper triangle of the m × m row-major g to the lower,
// in tiles to stay in cache.
func mirror(g []float64, m int) {
	const tile = 64
	for r0 := 0; r0 < m; r0 += tile {
		for c0 := r0; c0 < m; c0 += tile {
			for r := r0; r < min(r0+tile, m); r++ {
				for c := max(c0, r+1); c < min(c0+tile, m); c++ {
					g[c*m+r] = g[r*m+c]
				}
			}
		}
	}
}

// parallelFor runs work on the given number of goroutines (numbered from
// 0), which share the indices 0..n−1 through next.
func parallelFor(n, workers int, work func(worker int, next func() (int, bool))) {
	var ctr atomic.Int64
	next := func() (int, bool) {
		i := int(ctr.Add(1) - 1)
		return i, i < n
	}
	if workers <= 1 {
		work(0, next)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { work(w, next) })
	}
	wg.Wait()
}
