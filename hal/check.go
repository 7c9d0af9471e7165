package hal

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

const scaleHint = "scale the problem into the board's range (spu solve and solver.Solve do it automatically)"

// CheckCouplings validates a K × K coupling matrix against info before it is
// programmed: length K² (ErrDimension), finite entries (ErrInvalid), each
// entry in info.Coupling (*RangeError), symmetry on a Symmetric board
// (ErrUnsupported) and stability (ErrUnstable, see Stable).
func CheckCouplings(info Info, a []float64) error {
	k := info.Cells
	if len(a) != k*k {
		return fmt.Errorf("couplings: got %d entries, want %d×%d = %d: %w", len(a), k, k, k*k, ErrDimension)
	}
	for i := range k {
		for j := range k {
			v := a[i*k+j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("coupling A[%d][%d] = %g: %w", i, j, v, ErrInvalid)
			}
			if !info.Coupling.Contains(v) {
				return &RangeError{What: "coupling", Row: i, Col: j, Value: v,
					Min: info.Coupling.Min, Max: info.Coupling.Max, Unit: "1/τ", Hint: scaleHint}
			}
		}
	}
	if info.Topology == Symmetric {
		for i := range k {
			for j := range i {
				if a[i*k+j] != a[j*k+i] {
					return fmt.Errorf("coupling A[%d][%d] = %g but A[%d][%d] = %g on a symmetric board: %w",
						i, j, a[i*k+j], j, i, a[j*k+i], ErrUnsupported)
				}
			}
		}
	}
	return Stable(a, k)
}

// Stable returns nil when every eigenvalue of the k × k row-major matrix a
// has a positive real part, so that dx = -(a x - b) dt relaxes; otherwise an
// error wrapping ErrUnstable that names the offending eigenvalue.
func Stable(a []float64, k int) error {
	if len(a) != k*k || k == 0 {
		return fmt.Errorf("stability: %d entries for k = %d: %w", len(a), k, ErrDimension)
	}
	var eig mat.Eigen
	if !eig.Factorize(mat.NewDense(k, k, append([]float64(nil), a...)), mat.EigenNone) {
		return fmt.Errorf("stability: eigenvalue computation did not converge: %w", ErrUnstable)
	}
	worst := complex(math.Inf(1), 0)
	for _, v := range eig.Values(nil) {
		if real(v) < real(worst) {
			worst = v
		}
	}
	if !(real(worst) > 0) {
		return fmt.Errorf("coupling matrix has eigenvalue %.4g%+.4gi with non-positive real part; the process would diverge: %w",
			real(worst), imag(worst), ErrUnstable)
	}
	return nil
}

// CheckVector validates a length-k vector named what (e.g. "bias") against
// the range r in volts: ErrDimension, ErrInvalid for NaN/Inf, *RangeError.
func CheckVector(what string, v []float64, k int, r Range) error {
	if len(v) != k {
		return fmt.Errorf("%s: got %d entries, want %d: %w", what, len(v), k, ErrDimension)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s[%d] = %g: %w", what, i, x, ErrInvalid)
		}
		if !r.Contains(x) {
			return &RangeError{What: what, Row: i, Col: -1, Value: x, Min: r.Min, Max: r.Max, Unit: "V", Hint: scaleHint}
		}
	}
	return nil
}

// SamplePeriod resolves the period argument of Board.Sample: 0 means
// info.MinSamplePeriod; a negative period or one below the minimum is a
// *RangeError.
func SamplePeriod(info Info, period time.Duration) (time.Duration, error) {
	if period == 0 {
		return info.MinSamplePeriod, nil
	}
	if period < info.MinSamplePeriod {
		return 0, &RangeError{What: "sample period", Row: -1, Col: -1, Value: period.Seconds(),
			Min: info.MinSamplePeriod.Seconds(), Max: math.Inf(1), Unit: "s"}
	}
	return period, nil
}

// SampleRows returns the number of samples dst holds for a board of k
// cells, len(dst)/k, and ErrDimension unless len(dst) is a positive
// multiple of k (Board.Sample's contract).
func SampleRows(dst []float64, k int) (int, error) {
	if len(dst) == 0 || len(dst)%k != 0 {
		return 0, fmt.Errorf("dst has %d values, want a positive multiple of %d cells: %w", len(dst), k, ErrDimension)
	}
	return len(dst) / k, nil
}

// SampleArgs checks Board.Sample's arguments on a board described by info:
// it returns the period as SamplePeriod resolves it and the number of
// samples dst holds for info.Cells cells as SampleRows counts them, or the
// first of their errors.
func SampleArgs(info Info, period time.Duration, dst []float64) (time.Duration, int, error) {
	period, err := SamplePeriod(info, period)
	if err != nil {
		return 0, 0, err
	}
	rows, err := SampleRows(dst, info.Cells)
	if err != nil {
		return 0, 0, err
	}
	return period, rows, nil
}

// SampleStart is how every Board.Sample begins: CheckUsable for "sample"
// (closed says whether the board is closed), then SampleArgs with its
// error prefixed "sample: ". It returns the resolved period and the
// number of samples dst holds.
func SampleStart(ctx context.Context, info Info, closed bool, period time.Duration, dst []float64) (time.Duration, int, error) {
	if err := CheckUsable(ctx, "sample", closed); err != nil {
		return 0, 0, err
	}
	period, rows, err := SampleArgs(info, period, dst)
	if err != nil {
		return 0, 0, fmt.Errorf("sample: %w", err)
	}
	return period, rows, nil
}

// CheckDuration returns ErrInvalid unless d > 0.
func CheckDuration(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("run time %v: must be positive: %w", d, ErrInvalid)
	}
	return nil
}

// CheckUsable is the check every Board method makes before it touches the
// board: operation op on a closed board is ErrClosed, and with ctx done it
// is ctx.Err(), each prefixed by op; otherwise nil.
func CheckUsable(ctx context.Context, op string, closed bool) error {
	if closed {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
