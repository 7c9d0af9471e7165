package solver

import (
	"fmt"
	"math"
	"reflect"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// FromRows builds an r×c matrix from r rows of equal length c > 0. Ragged or
// empty rows are an error wrapping hal.ErrDimension that names the first
// offending row.
func FromRows(rows [][]float64) (*mat.Dense, error) {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("matrix has no entries: %w", hal.ErrDimension)
	}
	c := len(rows[0])
	data := make([]float64, 0, len(rows)*c)
	for i, row := range rows {
		if len(row) != c {
			return nil, fmt.Errorf("matrix row %d has %d entries, row 0 has %d: %w", i, len(row), c, hal.ErrDimension)
		}
		data = append(data, row...)
	}
	return mat.NewDense(len(rows), c, data), nil
}

// square copies the square matrix a into a row-major slice, checking that
// it is non-nil, square, non-empty and finite.
func square(a mat.Matrix) ([]float64, int, error) {
	if a == nil {
		return nil, 0, fmt.Errorf("matrix A is nil: %w", hal.ErrInvalid)
	}
	if v := reflect.ValueOf(a); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, 0, fmt.Errorf("matrix A is a nil %T: %w", a, hal.ErrInvalid)
	}
	r, c := a.Dims()
	if r != c || r == 0 {
		return nil, 0, fmt.Errorf("matrix A is %d×%d, want square and non-empty: %w", r, c, hal.ErrDimension)
	}
	n := r
	out := make([]float64, n*n)
	for i := range n {
		for j := range n {
			v := a.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, fmt.Errorf("A[%d][%d] = %g: %w", i, j, v, hal.ErrInvalid)
			}
			out[i*n+j] = v
		}
	}
	return out, n, nil
}

// vector checks that v has length n and finite entries.
func vector(name string, v []float64, n int) error {
	if len(v) != n {
		return fmt.Errorf("%s has %d entries, want %d (the size of A): %w", name, len(v), n, hal.ErrDimension)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s[%d] = %g: %w", name, i, x, hal.ErrInvalid)
		}
	}
	return nil
}

// fits checks that an n-cell problem fits a board of info.Cells cells.
func fits(info hal.Info, n int) error {
	if n > info.Cells {
		return fmt.Errorf("A is %d×%d but board %s has %d cells; solve larger problems in blocks with Tiled (spu solve does it by itself): %w",
			n, n, info.Model, info.Cells, hal.ErrDimension)
	}
	return nil
}

// dense checks that the solver can program board b with a dense K × K
// coupling matrix (K = info.Cells), which it pads every problem to: a
// hal.Factored board stores its couplings only in factored form (such a
// board never needs an N × N matrix), and a board of more than
// MaxDenseCells cells would need too much memory.
func dense(b hal.Board, info hal.Info) error {
	if _, ok := b.(hal.Factored); ok {
		return fmt.Errorf("board %s takes couplings only in factored form A = λI + s·JᵀHJ (hal.Factored), but the solver programs a dense %d×%d matrix: "+
			"use a board with dense couplings (e.g. sim:proto8, or a sim profile with enough cells): %w",
			info.Model, info.Cells, info.Cells, hal.ErrUnsupported)
	}
	if info.Cells > MaxDenseCells {
		return fmt.Errorf("board %s has %d cells: its dense %d×%d coupling matrix would take %.3g GB per copy; the solver drives boards of at most %d cells: %w",
			info.Model, info.Cells, info.Cells, info.Cells, 8*float64(info.Cells)*float64(info.Cells)/1e9, MaxDenseCells, hal.ErrUnsupported)
	}
	return nil
}

// symmetrise checks that the n×n matrix a is symmetric to within
// symTol·max|a| and makes it exactly symmetric. It reports false if not.
func symmetrise(a []float64, n int) (ok bool, i0, j0 int) {
	tol := symTol * floats.Norm(a, math.Inf(1))
	for i := range n {
		for j := range i {
			if math.Abs(a[i*n+j]-a[j*n+i]) > tol {
				return false, i, j
			}
		}
	}
	for i := range n {
		for j := range i {
			m := 0.5 * (a[i*n+j] + a[j*n+i])
			a[i*n+j], a[j*n+i] = m, m
		}
	}
	return true, 0, 0
}

// rangeScale returns the largest s > 0 such that s·u_i lies in
// [margin·r.Min, margin·r.Max] for every i, for entries |u_i| ≤ 1. It fails
// when u has an entry of a sign the range cannot represent.
func rangeScale(u []float64, r hal.Range, margin float64, what string) (float64, error) {
	var pos, neg float64
	for _, x := range u {
		if x > 0 {
			pos = math.Max(pos, x)
		} else {
			neg = math.Max(neg, -x)
		}
	}
	s := math.Inf(1)
	if pos > 0 {
		if !(r.Max > 0) {
			return 0, fmt.Errorf("%s has positive entries but the board's range is [%g, %g]: %w", what, r.Min, r.Max, hal.ErrOutOfRange)
		}
		s = math.Min(s, margin*r.Max/pos)
	}
	if neg > 0 {
		if !(r.Min < 0) {
			return 0, fmt.Errorf("%s has negative entries but the board's range is [%g, %g]: %w", what, r.Min, r.Max, hal.ErrOutOfRange)
		}
		s = math.Min(s, margin*-r.Min/neg)
	}
	return s, nil
}

// relaxation estimates the slowest relaxation rate, in 1/τ, of the n×n
// row-major stable matrix a. It returns μ, the smallest eigenvalue of the
// symmetric part (a proven decay rate of ‖e^{-a t}‖₂ when positive), and
// r, the rate to use: μ if μ > 0, else the spectral abscissa min Re λ(a).
func relaxation(a []float64, n int) (mu, r float64, proven bool) {
	var es mat.EigenSym
	if es.Factorize(symPart(a, n), false) {
		mu = es.Values(nil)[0]
	} else {
		mu = math.Inf(-1)
	}
	if mu > 0 {
		return mu, mu, true
	}
	var eg mat.Eigen
	r = math.Inf(1)
	if eg.Factorize(mat.NewDense(n, n, append([]float64(nil), a...)), mat.EigenNone) {
		for _, v := range eg.Values(nil) {
			r = math.Min(r, real(v))
		}
	}
	if !(r > 0) || math.IsInf(r, 0) {
		// hal.Stable accepted a, so this is round-off; be conservative.
		r = 1e-6
	}
	return mu, r, false
}

// symPart returns the symmetric part (A + Aᵀ)/2 of the n×n row-major a.
func symPart(a []float64, n int) *mat.SymDense {
	sym := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			sym.SetSym(i, j, 0.5*(a[i*n+j]+a[j*n+i]))
		}
	}
	return sym
}

// taus converts t multiples of tau into a Duration, saturating instead of
// overflowing.
func taus(tau time.Duration, t float64) time.Duration {
	d := t * float64(tau)
	if !(d < float64(math.MaxInt64/2)) {
		return math.MaxInt64 / 2
	}
	return time.Duration(math.Ceil(d))
}

// adc describes the ADC range by side.
type adc struct {
	r hal.Range
}

// frac returns v as a fraction of the full scale on its side of zero
// (+Inf when that side does not exist).
func (a adc) frac(v float64) float64 {
	switch {
	case v > 0:
		if a.r.Max > 0 {
			return v / a.r.Max
		}
		return math.Inf(1)
	case v < 0:
		if a.r.Min < 0 {
			return v / a.r.Min
		}
		return math.Inf(1)
	}
	return 0
}

// span is the smaller full scale of the two sides (or the only side).
func (a adc) span() float64 {
	switch {
	case a.r.Max > 0 && a.r.Min < 0:
		return math.Min(a.r.Max, -a.r.Min)
	case a.r.Max > 0:
		return a.r.Max
	}
	return -a.r.Min
}

// clip clamps v into the ADC range, reporting whether it changed anything.
func (a adc) clip(v []float64) bool {
	changed := false
	for i, x := range v {
		c := math.Min(math.Max(x, a.r.Min), a.r.Max)
		if c != x {
			changed = true
		}
		v[i] = c
	}
	return changed
}
