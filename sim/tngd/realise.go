package tngd

import (
	"fmt"
	"math"
	"slices"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// realise builds the programmed U = sqrt(Scale)·H^{1/2}J and G = UUᵀ from
// f through the DACs.
func (b *Board) realise(f *hal.Factorization) (*program, error) {
	j := f.J
	k, ns := j.RowsPerSample, j.Samples()
	// Nominal H must be PSD for A = λI + UᵀU. The realised one is PSD too
	// when H is diagonally dominant (see realiseH); otherwise it is used
	// through its PSD part.
	h := b.realiseH(f.H, k)
	hh := make([]float64, len(h))
	hmax := floats.Norm(f.H, math.Inf(1))
	for s := range ns {
		if err := psdCheck(f.H[s*k*k:(s+1)*k*k], k, s, hmax); err != nil {
			return nil, err
		}
		if !ggn.SqrtH(hh[s*k*k:(s+1)*k*k], h[s*k*k:(s+1)*k*k], k, &b.sqrtWS) {
			return nil, fmt.Errorf("H block %d: eigendecomposition failed: %w", s, hal.ErrInvalid)
		}
	}
	// The realised factors, then U = sqrt(Scale)·H^{1/2}J from them.
	rj := hal.Jacobian{Rows: j.Rows, Cols: j.Cols, RowsPerSample: k, Blocks: make([]hal.JacobianBlock, len(j.Blocks))}
	for bi, blk := range j.Blocks {
		rj.Blocks[bi] = hal.JacobianBlock{Col: blk.Col, Out: blk.Out, In: blk.In,
			Signal: b.realiseArray(blk.Signal, 0, bi), Input: b.realiseArray(blk.Input, 1, bi)}
	}
	var u hal.Jacobian
	ggn.U(&u, &rj, hh, f.Scale)
	m := j.Rows
	// G's storage: the buffer of the programming before last, if it fits.
	var g []float64
	if b.spare != nil && cap(b.spare) >= m*m {
		g = b.spare[:m*m]
	} else {
		g = make([]float64, m*m)
	}
	b.spare = nil
	ggn.Gram(g, &u, &b.gramWS)
	pr := &program{u: u, n: j.Cols, m: m, lam: f.Lambda, g: g,
		ux: make([]float64, m), ur: make([]float64, m), uz: make([]float64, m), ug: make([]float64, m),
		out: make([]float64, m), coef: make([]float64, m),
		work: make([]float64, ggn.WorkLen(&u)), back: make([]float64, j.Cols)}
	return pr, nil
}

// dacStep is the factor DAC's step for an array whose largest |entry| is
// ref: a signed DAC with full scale ref, so ±ref are codes. 0 = continuous.
func (b *Board) dacStep(ref float64) float64 {
	if b.p.DACBits == 0 || ref == 0 {
		return 0
	}
	return ref / (math.Exp2(float64(b.p.DACBits-1)) - 1)
}

func quantise(v, step float64) float64 {
	if step == 0 {
		return v
	}
	return math.Round(v/step) * step
}

// realiseArray returns the realised copy of a Signal (kind 0) or Input
// (kind 1) array of block `block`: each entry through the factor DAC (full
// scale = the array's largest |entry|) times its element's gain.
func (b *Board) realiseArray(v []float64, kind, block int) []float64 {
	out := slices.Clone(v)
	step := b.dacStep(floats.Norm(v, math.Inf(1)))
	tol := b.p.Mismatch
	for i, x := range out {
		x = quantise(x, step)
		if tol > 0 {
			x *= 1 + tol*b.elementDraw(kind, block, i)
		}
		out[i] = x
	}
	return out
}

// realiseH returns the realised H. Each k × k block is built from
// two-terminal elements, as a resistor network realises a symmetric
// matrix: a pair element of value |H_ac| between nodes a and c for every
// a < c (contributing ±|H_ac| off the diagonal and +|H_ac| to both diagonal
// entries) and a ground element g_a = H_aa − Σ_{c≠a}|H_ac| at each node.
// Each element value goes through the factor DAC (full scale = the largest
// |entry| of H) and gets its own gain error. When H is diagonally dominant
// (g ≥ 0, as the softmax Hessian diag(p) − ppᵀ with g = 0) every element
// is positive semidefinite, so the realised H stays PSD and A stays
// symmetric positive definite.
func (b *Board) realiseH(h []float64, k int) []float64 {
	if b.p.DACBits == 0 && b.p.Mismatch == 0 {
		return slices.Clone(h)
	}
	out := make([]float64, len(h))
	step := b.dacStep(floats.Norm(h, math.Inf(1)))
	tol := b.p.Mismatch
	el := func(v float64, idx int) float64 {
		v = quantise(v, step)
		if tol > 0 {
			v *= 1 + tol*b.elementDraw(2, 0, idx)
		}
		return v
	}
	for s := 0; s*k*k < len(h); s++ {
		hb, ob := h[s*k*k:(s+1)*k*k], out[s*k*k:(s+1)*k*k]
		for a := range k {
			g := hb[a*k+a]
			for c := range k {
				if c != a {
					g -= math.Abs(hb[a*k+c])
				}
			}
			ob[a*k+a] += el(g, s*k*k+a*k+a)
			for c := a + 1; c < k; c++ {
				w := hb[a*k+c]
				v := el(math.Abs(w), s*k*k+a*k+c)
				ob[a*k+c] = math.Copysign(v, w)
				ob[c*k+a] = ob[a*k+c]
				ob[a*k+a] += v
				ob[c*k+c] += v
			}
		}
	}
	return out
}

// elementDraw is a per-element uniform draw in [−1, 1), a hash of the
// board seed and the element's identity, so no table is stored.
func (b *Board) elementDraw(kind, block, idx int) float64 {
	h := splitmix64(b.seed ^ streamMismatch)
	h = splitmix64(h ^ uint64(kind)<<56 ^ uint64(block)<<40 ^ uint64(idx))
	return float64(h>>11)*0x1p-52 - 1
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// psdCheck rejects an H block with a clearly negative eigenvalue: this
// board realises A = λI + UᵀU, which needs H ⪰ 0. hmax is the largest
// |entry| of the whole H: the blocks of a batch are formed in one set of
// units, so their round-off is relative to it, not to each block's own
// size — a saturated softmax block (p ≈ one-hot) has entries ~1e-8 formed
// as p − p² with an absolute error ~1e-16 from p ≈ 1, and an eigenvalue
// of −1.7e-17 from it once stopped a TNGD run (its PSD part, which SqrtH
// takes, is what the board realises anyway).
func psdCheck(h []float64, k, s int, hmax float64) error {
	if k == 1 {
		if h[0] < 0 {
			return fmt.Errorf("H block %d = %g < 0: the board realises only positive-semidefinite H: %w", s, h[0], hal.ErrUnstable)
		}
		return nil
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(k, slices.Clone(h)), false) {
		return fmt.Errorf("H block %d: eigendecomposition failed: %w", s, hal.ErrInvalid)
	}
	vals := eig.Values(nil)
	big := math.Max(math.Max(math.Abs(vals[0]), math.Abs(vals[k-1])), hmax)
	if vals[0] < -1e-9*big {
		return fmt.Errorf("H block %d has eigenvalue %g < 0: the board realises only positive-semidefinite H: %w", s, vals[0], hal.ErrUnstable)
	}
	return nil
}
