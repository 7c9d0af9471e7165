package spi

import (
	"errors"

	"github.com/spukit/spukit/driver/spi/bus"
	"github.com/spukit/spukit/hal"
)

// The chip packages own their errors (ad7606.ErrTimeout, ad5676.ErrRange,
// …), each of a shared bus.Kind; the board is a hal.Board, and its callers
// branch on hal's sentinels. contract translates at the board's boundary,
// by kind, so it never names a chip.

// halSentinel is the hal condition of each kind of chip error; a Range
// error becomes a *hal.RangeError.
var halSentinel = map[bus.Kind]error{
	bus.Config:  hal.ErrInvalid,
	bus.Length:  hal.ErrDimension,
	bus.Range:   hal.ErrOutOfRange,
	bus.Timeout: hal.ErrTimeout,
}

// contract returns err, and when it holds a chip's error, an error that
// also matches the hal sentinel of the chip error's kind (and, for a
// value out of range, a *hal.RangeError with the same numbers). The
// message is err's, followed by the sentinel's text as hal's errors end.
func contract(err error) error {
	var ce *bus.Error
	if !errors.As(err, &ce) {
		return err
	}
	var re *bus.RangeError
	if errors.As(err, &re) {
		return &chipError{err: err, hal: &hal.RangeError{What: re.What, Row: -1, Col: -1,
			Value: float64(re.Value), Min: float64(re.Min), Max: float64(re.Max)}}
	}
	s, ok := halSentinel[ce.Kind]
	if !ok {
		return err
	}
	return &chipError{err: err, hal: s, suffix: true}
}

// chipError is a chip's error as the board reports it: the chip's chain
// and the hal contract's error both match.
type chipError struct {
	err, hal error
	// suffix: the message ends with the sentinel's text (a *hal.RangeError
	// already reads as one).
	suffix bool
}

// Error is the chip's message, then the sentinel's.
func (e *chipError) Error() string {
	if e.suffix {
		return e.err.Error() + ": " + e.hal.Error()
	}
	return e.err.Error()
}

// Unwrap returns the chip's error and the hal one.
func (e *chipError) Unwrap() []error { return []error{e.err, e.hal} }
