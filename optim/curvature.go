package optim

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/ggn"
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

// NewIteration runs the forward and backward pass of m on bt. The
// Iteration keeps bt.X (the first layer's input, built lazily for the
// curvature): bt must not change while the Iteration is in use.
func NewIteration(k int, m *MLP, bt Batch, lambda float64) (*Iteration, error) {
	if err := m.check(bt); err != nil {
		return nil, err
	}
	if !(lambda >= 0) || math.IsInf(lambda, 0) {
		return nil, fmt.Errorf("damping λ = %g, want finite ≥ 0: %w", lambda, hal.ErrInvalid)
	}
	ps := m.forward(bt, true)
	grad := m.backward(ps, bt)
	ps.releaseSparse()
	return &Iteration{
		K: k, Model: m, Batch: bt, Lambda: lambda,
		Loss: ps.loss, Accuracy: float64(ps.right) / float64(ps.b),
		Grad: grad, ps: ps,
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
			Signal: sig[l], Input: ps.input(l),
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
	out := make([]float64, len(f.H))
	// A failed eigendecomposition (not reached for a symmetric 10 × 10
	// block) leaves that block 0 rather than panic, which drops this
	// example's curvature.
	var ws ggn.SqrtWork
	ggn.SqrtH(out, f.H, f.J.RowsPerSample, &ws)
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
	it.ujac = &hal.Jacobian{}
	ggn.U(it.ujac, &f.J, it.HalfH(), f.Scale)
	return it.ujac
}

func (it *Iteration) scratch() *work {
	if it.ws.jv == nil {
		f := it.Factorization()
		it.ws = work{
			z:   make([]float64, ggn.WorkLen(&f.J)),
			jv:  make([]float64, f.J.Rows),
			hjv: make([]float64, f.J.Rows),
		}
	}
	return &it.ws
}

// JVec sets dst (length m) to J v (v of length N).
func (it *Iteration) JVec(dst, v []float64) {
	ggn.MulVec(dst, &it.Factorization().J, v, it.scratch().z)
}

// JTVec sets dst (length N) to Jᵀ w (w of length m).
func (it *Iteration) JTVec(dst, w []float64) {
	ggn.MulTransVec(dst, &it.Factorization().J, w, it.scratch().z)
}

// U sets dst (length m) to U v = b^{−1/2} H^{1/2} J v (v of length N).
func (it *Iteration) U(dst, v []float64) {
	ggn.MulVec(dst, it.UJacobian(), v, it.scratch().z)
}

// UT sets dst (length N) to Uᵀ y = b^{−1/2} Jᵀ H^{1/2} y (y of length m).
func (it *Iteration) UT(dst, y []float64) {
	ggn.MulTransVec(dst, it.UJacobian(), y, it.scratch().z)
}

// FVec sets dst to F v = λv + (1/b) Jᵀ H J v without forming F: two
// structured products, O(b·N) each. dst and v must not overlap.
func (it *Iteration) FVec(dst, v []float64) {
	f := it.Factorization()
	ws := it.scratch()
	ggn.MulVec(ws.jv, &f.J, v, ws.z)
	mulH(ws.hjv, f.H, ws.jv, f.J.RowsPerSample)
	ggn.MulTransVec(dst, &f.J, ws.hjv, ws.z)
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
		m := it.Rows()
		g := make([]float64, m*m)
		var ws ggn.GramWork
		ggn.Gram(g, it.UJacobian(), &ws)
		it.gram = mat.NewSymDense(m, g)
	}
	return it.gram
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
	f := make([]float64, n*n)
	it.denseFInto(f, n)
	return mat.NewSymDense(n, f), nil
}

// denseFInto sets the leading N × N block of the row-major dst (row stride
// stride ≥ N) to F = λI + UᵀU, with no bound on N: TNGD's primal mapping
// programs it on a board with stride cells.
func (it *Iteration) denseFInto(dst []float64, stride int) {
	u := it.UJacobian()
	ggn.Curvature(dst, stride, u, it.Lambda, make([]float64, u.Rows*u.Cols))
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
