package hal

import (
	"context"
	"fmt"
	"math"
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
// block are zero. Package ggn computes with it (J·v, Jᵀ·w, JJᵀ, …) without
// forming J. A dense J is the special case of one block with Out = 1,
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

// Validate checks dimensions and finiteness. Size products are checked
// for overflow (product), so that sizes whose product wraps around int —
// on 32-bit ARM at 2¹⁶ × 2¹⁶ — are refused rather than matched by short
// slices.
func (j *Jacobian) Validate() error {
	if j.Rows <= 0 || j.Cols <= 0 || j.RowsPerSample <= 0 || j.Rows%j.RowsPerSample != 0 {
		return fmt.Errorf("jacobian %d×%d with %d rows per sample: %w", j.Rows, j.Cols, j.RowsPerSample, ErrDimension)
	}
	s := j.Samples()
	for k, b := range j.Blocks {
		span, ok := product(b.Out, b.In)
		switch {
		case b.Out <= 0 || b.In <= 0 || b.Col < 0 || !ok || span > j.Cols-b.Col:
			return fmt.Errorf("jacobian block %d: %d×%d columns from %d, outside [0, %d): %w", k, b.Out, b.In, b.Col, j.Cols, ErrDimension)
		case !sized(len(b.Signal), j.Rows, b.Out):
			return fmt.Errorf("jacobian block %d: signal has %d entries, want %d×%d: %w", k, len(b.Signal), j.Rows, b.Out, ErrDimension)
		case !sized(len(b.Input), s, b.In):
			return fmt.Errorf("jacobian block %d: input has %d entries, want %d×%d: %w", k, len(b.Input), s, b.In, ErrDimension)
		}
		if i, ok := firstNonFinite(b.Signal); !ok {
			return fmt.Errorf("jacobian block %d: signal[%d] = %g: %w", k, i, b.Signal[i], ErrInvalid)
		}
		if i, ok := firstNonFinite(b.Input); !ok {
			return fmt.Errorf("jacobian block %d: input[%d] = %g: %w", k, i, b.Input[i], ErrInvalid)
		}
	}
	// The kernels (package ggn) treat blocks as disjoint column ranges:
	// the Gram matrix JJᵀ would silently drop an overlap's cross terms.
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
	if rr, ok := product(r, r); !ok || !sized(len(f.H), f.J.Samples(), rr) {
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

// product returns a·b for sizes a, b ≥ 0, and false when it overflows int.
func product(a, b int) (int, bool) {
	if a < 0 || b < 0 || a > 0 && b > math.MaxInt/a {
		return 0, false
	}
	return a * b, true
}

// sized reports whether a slice of length n holds exactly a × b entries.
func sized(n, a, b int) bool {
	p, ok := product(a, b)
	return ok && n == p
}

func firstNonFinite(v []float64) (int, bool) {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i, false
		}
	}
	return 0, true
}
