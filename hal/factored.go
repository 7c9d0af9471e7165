package hal

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Factored is an optional capability: a board whose couplings are stored in
// factored form, as the TNGD paper's circuit stores J, H and Jᵀ in resistor
// arrays, so that an N-cell board never needs an N × N matrix:
//
//	A = Lambda·I + Scale·Jᵀ H J        (N × N, N = J.Cols ≤ Info().Cells)
//
// Cells beyond J.Cols are decoupled: A = Lambda·I there.
type Factored interface {
	// SetFactoredCouplings programs A from f. Errors as SetCouplings:
	// ErrDimension, ErrInvalid (NaN/Inf, malformed f), *RangeError for an
	// entry the board cannot realise, ErrUnstable when Lambda ≤ 0 or H is
	// not positive semidefinite enough to keep A stable.
	SetFactoredCouplings(ctx context.Context, f *Factorization) error
}

// Factorization is A = Lambda·I + Scale·Jᵀ H J with a structured Jacobian J
// (Rows × Cols) and a block-diagonal H of Rows/J.RowsPerSample blocks, each
// RowsPerSample × RowsPerSample: for TNGD, J is the logits' Jacobian, one
// block of H per batch sample (the softmax cross-entropy Hessian
// diag(p) − ppᵀ), Scale = 1/batch and Lambda the damping.
type Factorization struct {
	J      Jacobian
	H      []float64 // Samples() blocks, each RowsPerSample², row-major, concatenated
	Scale  float64
	Lambda float64 // units of 1/τ, > 0
}

// Jacobian is a Rows × Cols matrix made of column blocks, one per layer of
// a network of dense layers. Row r of block B, at columns
// B.Col + p·B.In + q for p < B.Out, q < B.In, is the outer product
//
//	B.Signal[r][p] · B.Input[r / RowsPerSample][q]
//
// — the backpropagated signal of output row r times the layer's input for
// that row's sample — which is exactly the Jacobian of a dense layer's
// output with respect to its row-major weights. Columns not covered by any
// block are zero. A dense J is the special case of one block with Out = 1,
// In = Cols, RowsPerSample = 1, Signal all ones and Input = J.
type Jacobian struct {
	Rows, Cols    int
	RowsPerSample int
	Blocks        []JacobianBlock
}

// JacobianBlock is one layer's columns of a Jacobian.
type JacobianBlock struct {
	Col     int       // first column
	Out, In int       // the block spans Out·In columns
	Signal  []float64 // Rows × Out, row-major
	Input   []float64 // Samples() × In, row-major
}

// Samples returns Rows / RowsPerSample.
func (j *Jacobian) Samples() int { return j.Rows / j.RowsPerSample }

// Validate checks dimensions and finiteness.
func (j *Jacobian) Validate() error {
	if j.Rows <= 0 || j.Cols <= 0 || j.RowsPerSample <= 0 || j.Rows%j.RowsPerSample != 0 {
		return fmt.Errorf("jacobian %d×%d with %d rows per sample: %w", j.Rows, j.Cols, j.RowsPerSample, ErrDimension)
	}
	s := j.Samples()
	for k, b := range j.Blocks {
		switch {
		case b.Out <= 0 || b.In <= 0 || b.Col < 0 || b.Col+b.Out*b.In > j.Cols:
			return fmt.Errorf("jacobian block %d: columns [%d, %d) outside [0, %d): %w", k, b.Col, b.Col+b.Out*b.In, j.Cols, ErrDimension)
		case len(b.Signal) != j.Rows*b.Out:
			return fmt.Errorf("jacobian block %d: signal has %d entries, want %d×%d: %w", k, len(b.Signal), j.Rows, b.Out, ErrDimension)
		case len(b.Input) != s*b.In:
			return fmt.Errorf("jacobian block %d: input has %d entries, want %d×%d: %w", k, len(b.Input), s, b.In, ErrDimension)
		}
		if i, ok := firstNonFinite(b.Signal); !ok {
			return fmt.Errorf("jacobian block %d: signal[%d] = %g: %w", k, i, b.Signal[i], ErrInvalid)
		}
		if i, ok := firstNonFinite(b.Input); !ok {
			return fmt.Errorf("jacobian block %d: input[%d] = %g: %w", k, i, b.Input[i], ErrInvalid)
		}
	}
	// Gram and the products treat blocks as disjoint column ranges; an
	// overlap would silently drop its cross terms.
	for k, b := range j.Blocks {
		for l := range k {
			c := j.Blocks[l]
			if b.Col < c.Col+c.Out*c.In && c.Col < b.Col+b.Out*b.In {
				return fmt.Errorf("jacobian block %d: columns [%d, %d) overlap block %d's [%d, %d): %w",
					k, b.Col, b.Col+b.Out*b.In, l, c.Col, c.Col+c.Out*c.In, ErrInvalid)
			}
		}
	}
	return nil
}

// Validate checks f for a board with the given number of cells.
func (f *Factorization) Validate(cells int) error {
	if err := f.J.Validate(); err != nil {
		return err
	}
	if f.J.Cols > cells {
		return fmt.Errorf("factorization has %d columns, board has %d cells: %w", f.J.Cols, cells, ErrDimension)
	}
	r := f.J.RowsPerSample
	if len(f.H) != f.J.Samples()*r*r {
		return fmt.Errorf("H has %d entries, want %d blocks of %d×%d: %w", len(f.H), f.J.Samples(), r, r, ErrDimension)
	}
	if i, ok := firstNonFinite(f.H); !ok {
		return fmt.Errorf("H[%d] = %g: %w", i, f.H[i], ErrInvalid)
	}
	if math.IsNaN(f.Scale) || math.IsInf(f.Scale, 0) || f.Scale < 0 {
		return fmt.Errorf("scale = %g, want finite ≥ 0: %w", f.Scale, ErrInvalid)
	}
	if !(f.Lambda > 0) || math.IsInf(f.Lambda, 0) {
		return fmt.Errorf("lambda = %g, want finite > 0 (A = λI + ... must be stable): %w", f.Lambda, ErrUnstable)
	}
	return nil
}

// MulVec sets dst (length Rows) to J v (v of length Cols).
func (j *Jacobian) MulVec(dst, v []float64) {
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

// TransMulVec sets dst (length Cols) to Jᵀ w (w of length Rows).
func (j *Jacobian) TransMulVec(dst, w []float64) {
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

func firstNonFinite(v []float64) (int, bool) {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i, false
		}
	}
	return 0, true
}

// Gram returns J Jᵀ (Rows × Rows, row-major) without forming J: for a
// layer block, (J Jᵀ)_{r,r'} = (Signal_r·Signal_r')(Input_s·Input_s') with
// s, s' the rows' samples, so a block costs O(Rows²·Out + Samples²·In)
// instead of O(Rows²·Cols).
func (j *Jacobian) Gram() []float64 {
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
