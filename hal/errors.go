package hal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors. Drivers wrap them with context; callers test with errors.Is.
var (
	// ErrOutOfRange: a value lies outside what the hardware can realise.
	ErrOutOfRange = errors.New("out of range")
	// ErrDimension: a slice or matrix has the wrong size for the board.
	ErrDimension = errors.New("dimension mismatch")
	// ErrInvalid: an argument is malformed (NaN, Inf, non-positive duration, bad URI, bad profile).
	ErrInvalid = errors.New("invalid argument")
	// ErrSaturated: a reading hit the end of the ADC range or a node hit its rail.
	ErrSaturated = errors.New("saturated")
	// ErrUnstable: the coupling matrix has an eigenvalue with non-positive real part.
	ErrUnstable = errors.New("unstable coupling matrix")
	// ErrDisconnected: the board stopped answering or was unplugged.
	ErrDisconnected = errors.New("board disconnected")
	// ErrTimeout: the board did not answer in time.
	ErrTimeout = errors.New("timeout")
	// ErrUnsupported: the board cannot do what was asked.
	ErrUnsupported = errors.New("unsupported")
	// ErrClosed: the board was closed.
	ErrClosed = errors.New("board closed")
	// ErrBusy: the board is held by another client (a board shared over
	// the network, package remote) and the caller asked not to wait.
	ErrBusy = errors.New("board busy")
)

// RangeError reports a value outside its allowed range. It matches
// ErrOutOfRange under errors.Is.
type RangeError struct {
	// What names the quantity: "coupling", "bias", "state", "sample period".
	What string
	// Row and Col locate the entry; Col < 0 for a vector, Row < 0 for a scalar.
	Row, Col int
	// Value is the offending value, Min and Max the allowed range.
	Value, Min, Max float64
	// Unit is the unit of Value, Min and Max ("V", "1/τ", "s"); empty for
	// a count or a code.
	Unit string
	// Hint suggests a fix; may be empty.
	Hint string
}

// Error names the entry, the value and the range.
func (e *RangeError) Error() string {
	var b strings.Builder
	b.WriteString(e.What)
	switch {
	case e.Row >= 0 && e.Col >= 0:
		fmt.Fprintf(&b, " A[%d][%d]", e.Row, e.Col)
	case e.Row >= 0:
		fmt.Fprintf(&b, "[%d]", e.Row)
	}
	unit := ""
	if e.Unit != "" {
		unit = " " + e.Unit
	}
	fmt.Fprintf(&b, " = %g%s is outside the allowed range [%g, %g]%s", e.Value, unit, e.Min, e.Max, unit)
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns ErrOutOfRange.
func (e *RangeError) Unwrap() error { return ErrOutOfRange }

// SaturationError reports readings that hit the end of the ADC range or a
// node rail. The samples were still delivered. It matches ErrSaturated.
type SaturationError struct {
	// Counts[i] is how many readings of cell i saturated.
	Counts []int
	// Samples is the number of samples the call delivered.
	Samples int
}

// maxListed bounds the cells an error message names, so that a board of
// 10⁵ cells does not produce a megabyte message.
const maxListed = 8

// Error summarises which cells saturated and how often: every cell up to
// eight of them, else the eight with the most saturated readings (ties to
// the lowest index) and how many more.
func (e *SaturationError) Error() string {
	total, cells := 0, 0
	for _, c := range e.Counts {
		if c > 0 {
			total += c
			cells++
		}
	}
	idx := make([]int, 0, cells)
	for i, c := range e.Counts {
		if c > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) > maxListed {
		// Stable by count, descending: the worst cells are named.
		slices.SortStableFunc(idx, func(a, b int) int { return e.Counts[b] - e.Counts[a] })
		idx = idx[:maxListed]
		slices.Sort(idx)
	}
	parts := make([]string, 0, len(idx)+1)
	for _, i := range idx {
		parts = append(parts, fmt.Sprintf("cell %d: %d", i, e.Counts[i]))
	}
	if more := cells - len(idx); more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more cells", more))
	}
	return fmt.Sprintf("%d of %d readings saturated (%s): reduce the bias or the solution's scale",
		total, e.Samples*len(e.Counts), strings.Join(parts, ", "))
}

// Unwrap returns ErrSaturated.
func (e *SaturationError) Unwrap() error { return ErrSaturated }
