package trainer

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// Iteration is one training step's local model: the batch, the loss, the
// gradient g and — built on first use and cached — the pieces of the
// damped generalised Gauss–Newton matrix
//
//	F = λI + (1/b) Jᵀ H J        (N × N, never formed except by dense NGD)
//
// with J the m × N Jacobian of the logits (m = b·outputs, rows ordered
// sample-major), H block-diagonal with each sample's Hessian of the loss
// in its logits (diag(p) − ppᵀ for softmax, p(1−p) for one sigmoid
// output), U = b^{−1/2} H^{1/2} J (so F = λI + UᵀU) and the m × m dual
// Gram G = U Uᵀ. An Iteration is not safe for concurrent use.
type Iteration struct {
	K      int     // iteration number, from 0
	Model  *MLP    // the model at the start of the step
	Batch  Batch   // the minibatch
	Lambda float64 // damping λ
	Loss   float64 // mean loss on the batch
	Grad   []float64

	ps    *pass
	fac   *hal.Factorization
	hhalf []float64 // H^{1/2} blocks, b × outputs²
	gram  *mat.SymDense
}

// NewIteration runs the forward and backward pass of m on bt.
func NewIteration(k int, m *MLP, bt Batch, lambda float64) (*Iteration, error) {
	if err := m.check(bt); err != nil {
		return nil, err
	}
	ps := m.forward(bt)
	return &Iteration{K: k, Model: m, Batch: bt, Lambda: lambda, Loss: ps.loss, Grad: m.backward(ps, bt), ps: ps}, nil
}

// Rows returns m = batch × outputs.
func (it *Iteration) Rows() int { return it.Batch.Size() * it.Model.Outputs() }

// Factorization returns F as a hal.Factorization: the structured J (one
// block per layer), H, Scale = 1/b and Lambda = λ. Cached.
func (it *Iteration) Factorization() *hal.Factorization {
	if it.fac != nil {
		return it.fac
	}
	m, ps := it.Model, it.ps
	b, k := ps.b, m.Outputs()
	rows := b * k
	j := hal.Jacobian{Rows: rows, Cols: m.NumParams(), RowsPerSample: k}
	// sig[l] is rows × Out_l: ∂logit_r/∂z_l, backpropagated from the unit
	// vector of each logit.
	sig := make([][]float64, m.Layers())
	last := make([]float64, rows*k)
	for r := range rows {
		last[r*k+r%k] = 1
	}
	sig[m.Layers()-1] = last
	for l := m.Layers() - 1; l > 0; l-- {
		in, out := m.Sizes[l], m.Sizes[l+1]
		w := m.W(l)
		prev := make([]float64, rows*in)
		for r := range rows {
			s := r / k
			dst := prev[r*in : (r+1)*in]
			for p, d := range sig[l][r*out : (r+1)*out] {
				if d != 0 {
					axpy(dst, d, w[p*(in+1):p*(in+1)+in])
				}
			}
			da := ps.dact[l-1][s*in : (s+1)*in]
			for q := range dst {
				dst[q] *= da[q]
			}
		}
		sig[l-1] = prev
	}
	for l := range m.Layers() {
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

// hHalf returns the symmetric square roots of H's blocks. Cached.
func (it *Iteration) hHalf() []float64 {
	if it.hhalf != nil {
		return it.hhalf
	}
	f := it.Factorization()
	k := f.J.RowsPerSample
	b := f.J.Samples()
	out := make([]float64, len(f.H))
	var eig mat.EigenSym
	var v mat.Dense
	for s := range b {
		blk := f.H[s*k*k : (s+1)*k*k]
		dst := out[s*k*k : (s+1)*k*k]
		if k == 1 {
			dst[0] = math.Sqrt(math.Max(blk[0], 0))
			continue
		}
		eig.Factorize(mat.NewSymDense(k, append([]float64(nil), blk...)), true)
		vals := eig.Values(nil)
		eig.VectorsTo(&v)
		for a := range k {
			for c := range k {
				acc := 0.0
				for e, lam := range vals {
					if lam > 0 {
						acc += v.At(a, e) * math.Sqrt(lam) * v.At(c, e)
					}
				}
				dst[a*k+c] = acc
			}
		}
	}
	it.hhalf = out
	return out
}

// U sets dst (length m) to U v = b^{−1/2} H^{1/2} J v, v of length N.
func (it *Iteration) U(dst, v []float64) {
	f := it.Factorization()
	jv := make([]float64, f.J.Rows)
	f.J.MulVec(jv, v)
	mulH(dst, it.hHalf(), jv, f.J.RowsPerSample)
	scale(dst[:f.J.Rows], math.Sqrt(f.Scale))
}

// UT sets dst (length N) to Uᵀ y = b^{−1/2} Jᵀ H^{1/2} y, y of length m.
func (it *Iteration) UT(dst, y []float64) {
	f := it.Factorization()
	hy := make([]float64, f.J.Rows)
	mulH(hy, it.hHalf(), y, f.J.RowsPerSample)
	f.J.TransMulVec(dst, hy)
	scale(dst[:f.J.Cols], math.Sqrt(f.Scale))
}

// FVec sets dst to F v = λv + (1/b) Jᵀ H J v without forming F.
func (it *Iteration) FVec(dst, v []float64) {
	f := it.Factorization()
	jv := make([]float64, f.J.Rows)
	hjv := make([]float64, f.J.Rows)
	f.J.MulVec(jv, v)
	mulH(hjv, f.H, jv, f.J.RowsPerSample)
	f.J.TransMulVec(dst, hjv)
	for i := range dst[:f.J.Cols] {
		dst[i] = f.Scale*dst[i] + f.Lambda*v[i]
	}
}

// DualGram returns G = U Uᵀ (m × m) without forming J: for a dense layer
// (J Jᵀ)_{r,r'} = (Signal_r·Signal_r')(Input_s·Input_s'), so each layer
// costs O(m²·Out + b²·In). Cached.
func (it *Iteration) DualGram() *mat.SymDense {
	if it.gram != nil {
		return it.gram
	}
	f := it.Factorization()
	m, k, b := f.J.Rows, f.J.RowsPerSample, f.J.Samples()
	jj := mat.NewDense(m, m, f.J.Gram())
	// G = (1/b) H^{1/2} JJᵀ H^{1/2}, block by block.
	hh := it.hHalf()
	g := mat.NewSymDense(m, nil)
	var t1, t2 mat.Dense
	for s := range b {
		hs := mat.NewDense(k, k, hh[s*k*k:(s+1)*k*k])
		for s2 := s; s2 < b; s2++ {
			h2 := mat.NewDense(k, k, hh[s2*k*k:(s2+1)*k*k])
			t1.Mul(hs, jj.Slice(s*k, (s+1)*k, s2*k, (s2+1)*k))
			t2.Mul(&t1, h2)
			for a := range k {
				for c := range k {
					if s == s2 && c < a {
						continue
					}
					g.SetSym(s*k+a, s2*k+c, f.Scale*t2.At(a, c))
				}
			}
		}
	}
	it.gram = g
	return g
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

func scale(v []float64, a float64) {
	for i := range v {
		v[i] *= a
	}
}
