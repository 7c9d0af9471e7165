package optim

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// Iteration is one training step's local model: the batch, the loss, the
// gradient g and — built on first use and cached — the pieces of the
// damped generalised Gauss–Newton matrix
//
//	F = λI + (1/b) Jᵀ H J = λI + UᵀU      (N × N, never formed except by DenseF)
//
// with J the m × N Jacobian of the logits (m = b·outputs, rows ordered
// sample-major: row s·outputs + o is logit o of example s), H block-diagonal
// with each example's Hessian of the loss in its logits (diag(p) − ppᵀ for
// softmax, p(1−p) for one sigmoid output), U = b^{−1/2} H^{1/2} J with
// H^{1/2} the symmetric square root of each block, and the m × m dual Gram
// G = U Uᵀ.
//
// Everything is computed from the forward pass that NewIteration ran, so an
// optimiser may update Model's parameters and still ask for the curvature
// afterwards. An Iteration is not safe for concurrent use (its products
// share scratch space). Make Iterations with NewIteration; a literal with
// only Model and Grad set serves the first-order optimisers (SGD, Adam)
// but has no curvature.
type Iteration struct {
	K        int     // iteration number, from 0
	Model    *MLP    // the model whose parameters the optimiser updates
	Batch    Batch   // the minibatch
	Lambda   float64 // damping λ ≥ 0 (> 0 for the NGD variants)
	Loss     float64 // mean loss on the batch, before the step
	Accuracy float64 // fraction of the batch classified correctly, before the step
	Grad     []float64

	ps    *pass
	fac   *hal.Factorization
	hhalf []float64 // H^{1/2} blocks, b × outputs², row-major
	ujac  *hal.Jacobian
	gram  *mat.SymDense
	ws    work
}

// work is scratch for the matrix-free products.
type work struct {
	z, jv, hjv []float64
}

// NewIteration runs the forward and backward pass of m on bt.
func NewIteration(k int, m *MLP, bt Batch, lambda float64) (*Iteration, error) {
	if err := m.check(bt); err != nil {
		return nil, err
	}
	if !(lambda >= 0) || math.IsInf(lambda, 0) {
		return nil, fmt.Errorf("damping λ = %g, want finite ≥ 0: %w", lambda, hal.ErrInvalid)
	}
	ps := m.forward(bt, true)
	return &Iteration{
		K: k, Model: m, Batch: bt, Lambda: lambda,
		Loss: ps.loss, Accuracy: float64(ps.right) / float64(ps.b),
		Grad: m.backward(ps, bt), ps: ps,
	}, nil
}

// Rows returns m = batch × outputs.
func (it *Iteration) Rows() int { return it.Batch.Size() * it.Model.Outputs() }

// Factorization returns F as a hal.Factorization: the structured J (one
// block per layer: Input = the layer's augmented inputs per example,
// Signal = ∂logit_r/∂(layer pre-activation) for each row r), H, Scale =
// 1/b and Lambda = λ. Cached; callers must not modify it.
func (it *Iteration) Factorization() *hal.Factorization {
	if it.fac != nil {
		return it.fac
	}
	m, ps := it.Model, it.ps
	b, k, L := ps.b, m.Outputs(), m.Layers()
	rows := b * k
	j := hal.Jacobian{Rows: rows, Cols: m.NumParams(), RowsPerSample: k}
	// sig[l] is rows × Out_l: ∂logit_r/∂z_l, backpropagated from the unit
	// vector of each logit: S_{l−1} = (S_l W_l[:, :In_l]) ⊙ act'(z_{l−1}).
	sig := make([][]float64, L)
	last := make([]float64, rows*k)
	for r := range rows {
		last[r*k+r%k] = 1
	}
	sig[L-1] = last
	for l := L - 1; l > 0; l-- {
		in, out := m.Sizes[l], m.Sizes[l+1]
		prev := make([]float64, rows*in)
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, general(rows, out, out, sig[l]),
			general(out, in, in+1, ps.w[l-1]), 0, general(rows, in, in, prev))
		for r := range rows {
			da := ps.dact[l-1][(r/k)*in : (r/k+1)*in]
			dst := prev[r*in : (r+1)*in]
			for q := range dst {
				dst[q] *= da[q]
			}
		}
		sig[l-1] = prev
	}
	for l := range L {
		j.Blocks = append(j.Blocks, hal.JacobianBlock{
			Col: m.Offset(l), Out: m.Sizes[l+1], In: m.Sizes[l] + 1,
			Signal: sig[l], Input: ps.in[l],
		})
	}
	h := make([]float64, b*k*k)
	for s := range b {
		p := ps.prob[s*k : (s+1)*k]
		blk := h[s*k*k : (s+1)*k*k]
		if k == 1 {
			blk[0] = p[0] * (1 - p[0])
			continue
		}
		for a := range k {
			for c := range k {
				blk[a*k+c] = -p[a] * p[c]
			}
			blk[a*k+a] += p[a]
		}
	}
	it.fac = &hal.Factorization{J: j, H: h, Scale: 1 / float64(b), Lambda: it.Lambda}
	return it.fac
}

// HalfH returns the symmetric square roots H_s^{1/2} of H's blocks, in
// the layout of Factorization().H, from each block's eigendecomposition
// (eigenvalues below zero from round-off are clipped to 0). Cached; callers
// must not modify it.
func (it *Iteration) HalfH() []float64 {
	if it.hhalf != nil {
		return it.hhalf
	}
	f := it.Factorization()
	k, b := f.J.RowsPerSample, f.J.Samples()
	out := make([]float64, len(f.H))
	if k == 1 {
		for s, h := range f.H {
			out[s] = math.Sqrt(math.Max(h, 0))
		}
		it.hhalf = out
		return out
	}
	var eig mat.EigenSym
	var v mat.Dense
	sym := mat.NewSymDense(k, nil)
	sq := make([]float64, k)
	for s := range b {
		blk := f.H[s*k*k : (s+1)*k*k]
		for a := range k {
			for c := a; c < k; c++ {
				sym.SetSym(a, c, blk[a*k+c])
			}
		}
		dst := out[s*k*k : (s+1)*k*k]
		if !eig.Factorize(sym, true) {
			// Not reached for a symmetric 10 × 10 block; keep H^{1/2} = 0
			// rather than panic, which drops this example's curvature.
			continue
		}
		vals := eig.Values(nil)
		eig.VectorsTo(&v)
		for e, lam := range vals {
			sq[e] = math.Sqrt(math.Max(lam, 0))
		}
		for a := range k {
			for c := a; c < k; c++ {
				acc := 0.0
				for e := range k {
					acc += v.At(a, e) * sq[e] * v.At(c, e)
				}
				dst[a*k+c], dst[c*k+a] = acc, acc
			}
		}
	}
	it.hhalf = out
	return out
}

// UJacobian returns U = b^{−1/2} H^{1/2} J as a structured Jacobian with
// the blocks of J: rows of one example share the layer input, so premultiplying
// by the block-diagonal b^{−1/2} H^{1/2} only mixes the signals of that
// example's rows. F = λI + UᵀU. Cached; callers must not modify it.
func (it *Iteration) UJacobian() *hal.Jacobian {
	if it.ujac != nil {
		return it.ujac
	}
	f := it.Factorization()
	hh := it.HalfH()
	k, b := f.J.RowsPerSample, f.J.Samples()
	c := math.Sqrt(f.Scale)
	u := &hal.Jacobian{Rows: f.J.Rows, Cols: f.J.Cols, RowsPerSample: k}
	for _, blk := range f.J.Blocks {
		out := blk.Out
		sig := make([]float64, len(blk.Signal))
		for s := range b {
			h := hh[s*k*k : (s+1)*k*k]
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
		u.Blocks = append(u.Blocks, hal.JacobianBlock{Col: blk.Col, Out: out, In: blk.In, Signal: sig, Input: blk.Input})
	}
	it.ujac = u
	return u
}

func (it *Iteration) scratch() *work {
	if it.ws.jv == nil {
		f := it.Factorization()
		w := 0
		for _, b := range f.J.Blocks {
			w = max(w, b.Out)
		}
		it.ws = work{
			z:   make([]float64, f.J.Samples()*w),
			jv:  make([]float64, f.J.Rows),
			hjv: make([]float64, f.J.Rows),
		}
	}
	return &it.ws
}

// JVec sets dst (length m) to J v (v of length N).
func (it *Iteration) JVec(dst, v []float64) {
	jacMul(&it.Factorization().J, dst, v, it.scratch().z)
}

// JTVec sets dst (length N) to Jᵀ w (w of length m).
func (it *Iteration) JTVec(dst, w []float64) {
	jacTransMul(&it.Factorization().J, dst, w, it.scratch().z)
}

// U sets dst (length m) to U v = b^{−1/2} H^{1/2} J v (v of length N).
func (it *Iteration) U(dst, v []float64) {
	jacMul(it.UJacobian(), dst, v, it.scratch().z)
}

// UT sets dst (length N) to Uᵀ y = b^{−1/2} Jᵀ H^{1/2} y (y of length m).
func (it *Iteration) UT(dst, y []float64) {
	jacTransMul(it.UJacobian(), dst, y, it.scratch().z)
}

// FVec sets dst to F v = λv + (1/b) Jᵀ H J v without forming F: two
// structured products, O(b·N) each. dst and v must not overlap.
func (it *Iteration) FVec(dst, v []float64) {
	f := it.Factorization()
	ws := it.scratch()
	jacMul(&f.J, ws.jv, v, ws.z)
	mulH(ws.hjv, f.H, ws.jv, f.J.RowsPerSample)
	jacTransMul(&f.J, dst, ws.hjv, ws.z)
	for i := range dst[:f.J.Cols] {
		dst[i] = f.Scale*dst[i] + f.Lambda*v[i]
	}
}

// DualGram returns G = U Uᵀ (m × m, both triangles filled) without forming
// J: for a dense layer (U Uᵀ)_{r,r'} = (S_r·S_r')(A_s·A_s') with S the
// layer's rows of b^{−1/2}H^{1/2}·Signal and A its inputs, so each layer
// costs O(m²·Out + b²·In) instead of O(m²·N). Cached; callers must not
// modify it.
func (it *Iteration) DualGram() *mat.SymDense {
	if it.gram == nil {
		it.gram = mat.NewSymDense(it.Rows(), structGram(it.UJacobian()))
	}
	return it.gram
}

// structGram returns J Jᵀ (m × m, row-major, both triangles) for a
// structured Jacobian. Row r of the upper triangle is, per block,
// (Σ_p S[r,p]·Sᵀ[p, r:]) ∘ (A_s·A_{s(c)}) — Out long AXPYs and one
// Hadamard product — and rows are shared among GOMAXPROCS goroutines.
func structGram(j *hal.Jacobian) []float64 {
	m, k, b := j.Rows, j.RowsPerSample, j.Samples()
	type layer struct {
		out     int
		sig, st []float64 // m × Out and its transpose
		aa      []float64 // b × b input Gram, upper triangle
	}
	ls := make([]layer, len(j.Blocks))
	for i, blk := range j.Blocks {
		st := make([]float64, blk.Out*m)
		for r := range m {
			for p, v := range blk.Signal[r*blk.Out : (r+1)*blk.Out] {
				st[p*m+r] = v
			}
		}
		aa := make([]float64, b*b)
		blas64.Syrk(blas.NoTrans, 1, general(b, blk.In, blk.In, blk.Input), 0,
			blas64.Symmetric{Uplo: blas.Upper, N: b, Stride: b, Data: aa})
		ls[i] = layer{out: blk.Out, sig: blk.Signal, st: st, aa: aa}
	}
	g := make([]float64, m*m)
	const chunk = 16
	parallelFor((m+chunk-1)/chunk, func(next func() (int, bool)) {
		tmp := make([]float64, m)
		for {
			ci, ok := next()
			if !ok {
				return
			}
			for r := ci * chunk; r < min((ci+1)*chunk, m); r++ {
				s := r / k
				row := g[r*m+r : (r+1)*m]
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
	// Mirror the upper triangle, in tiles to stay in cache.
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
	return g
}

// parallelFor runs work on GOMAXPROCS goroutines (at most n) that share
// the indices 0..n−1 through next.
func parallelFor(n int, work func(next func() (int, bool))) {
	var ctr atomic.Int64
	next := func() (int, bool) {
		i := int(ctr.Add(1) - 1)
		return i, i < n
	}
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 {
		work(next)
		return
	}
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() { work(next) })
	}
	wg.Wait()
}

// MaxDenseParams bounds the dense N × N curvature of DenseF and NGD.
const MaxDenseParams = 5000

// DenseF returns F = λI + UᵀU as a dense N × N matrix, from U formed
// densely (m × N) and one BLAS rank-m update: O(N²·m) time and O(N² + mN)
// memory, so it refuses N > MaxDenseParams with hal.ErrUnsupported.
func (it *Iteration) DenseF() (*mat.SymDense, error) {
	n := len(it.Grad)
	if n > MaxDenseParams {
		return nil, fmt.Errorf("dense curvature for %d parameters exceeds %d (an N × N matrix); use ngd-woodbury or ngd-cg: %w",
			n, MaxDenseParams, hal.ErrUnsupported)
	}
	u := it.UJacobian()
	m, k := u.Rows, u.RowsPerSample
	ud := make([]float64, m*n)
	for _, blk := range u.Blocks {
		for r := range m {
			a := blk.Input[(r/k)*blk.In : (r/k+1)*blk.In]
			for p, sv := range blk.Signal[r*blk.Out : (r+1)*blk.Out] {
				if sv != 0 {
					axpy(ud[r*n+blk.Col+p*blk.In:r*n+blk.Col+(p+1)*blk.In], sv, a)
				}
			}
		}
	}
	f := make([]float64, n*n)
	blas64.Syrk(blas.Trans, 1, general(m, n, n, ud), 0, blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: f})
	for i := range n {
		f[i*n+i] += it.Lambda
		for c := i + 1; c < n; c++ {
			f[c*n+i] = f[i*n+c]
		}
	}
	return mat.NewSymDense(n, f), nil
}

// jacMul sets dst = J v for a structured Jacobian: per block, the b × Out
// matrix Z = Input · V_Bᵀ (V_B = the block's columns of v as Out × In, one
// GEMM), then (J v)_r = Signal_r · Z_{s(r)}. z is scratch of at least
// Samples × max Out.
func jacMul(j *hal.Jacobian, dst, v, z []float64) {
	clear(dst[:j.Rows])
	b, k := j.Samples(), j.RowsPerSample
	for _, blk := range j.Blocks {
		zb := z[:b*blk.Out]
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, general(b, blk.In, blk.In, blk.Input),
			general(blk.Out, blk.In, blk.In, v[blk.Col:blk.Col+blk.Out*blk.In]), 0, general(b, blk.Out, blk.Out, zb))
		for r := range j.Rows {
			dst[r] += dot(blk.Signal[r*blk.Out:(r+1)*blk.Out], zb[(r/k)*blk.Out:(r/k+1)*blk.Out])
		}
	}
}

// jacTransMul sets dst = Jᵀ w: per block, C_s = Σ_{r∈s} w_r Signal_r
// (b × Out), then the block's columns are Cᵀ · Input (one GEMM).
func jacTransMul(j *hal.Jacobian, dst, w, z []float64) {
	clear(dst[:j.Cols])
	b, k := j.Samples(), j.RowsPerSample
	for _, blk := range j.Blocks {
		c := z[:b*blk.Out]
		clear(c)
		for r := range j.Rows {
			if w[r] != 0 {
				axpy(c[(r/k)*blk.Out:(r/k+1)*blk.Out], w[r], blk.Signal[r*blk.Out:(r+1)*blk.Out])
			}
		}
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, general(b, blk.Out, blk.Out, c),
			general(b, blk.In, blk.In, blk.Input), 1, general(blk.Out, blk.In, blk.In, dst[blk.Col:blk.Col+blk.Out*blk.In]))
	}
}

// mulH sets dst = H v for block-diagonal H with r × r blocks.
func mulH(dst, h, v []float64, r int) {
	for s := 0; s*r < len(v); s++ {
		blk := h[s*r*r : (s+1)*r*r]
		for i := range r {
			dst[s*r+i] = dot(blk[i*r:(i+1)*r], v[s*r:(s+1)*r])
		}
	}
}

// MaxEigenvalue estimates λ_max(F) by iters steps of power iteration on
// F v (default 30 when iters ≤ 0), started from g. The estimate is a
// Rayleigh quotient, so it never exceeds the true value and converges
// from below. Euler–Maruyama with step δt is stable only while
// δt·λ_max(F) < 2.
func (it *Iteration) MaxEigenvalue(iters int) float64 {
	if iters <= 0 {
		iters = 30
	}
	n := len(it.Grad)
	v := append([]float64(nil), it.Grad...)
	if dot(v, v) == 0 {
		for i := range v {
			v[i] = 1
		}
	}
	fv := make([]float64, n)
	est := 0.0
	for range iters {
		nv := math.Sqrt(dot(v, v))
		for i := range v {
			v[i] /= nv
		}
		it.FVec(fv, v)
		est = dot(v, fv)
		v, fv = fv, v
	}
	return est
}
