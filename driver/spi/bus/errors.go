package bus

import "fmt"

// Kind is what went wrong in terms every chip shares. A chip package's
// sentinels carry one, so driver/spi maps any chip's error onto the hal
// contract by its kind without knowing the chip.
type Kind uint8

// The kinds of chip error.
const (
	// Config: a constructor was given no connection or pin, or options
	// the chip cannot take.
	Config Kind = iota + 1
	// Length: a slice does not have the length the chip's frames need.
	Length
	// Range: a channel, code or output number outside what the chip has;
	// such errors are *RangeError.
	Range
	// Timeout: the chip did not signal completion in time.
	Timeout
)

// Error is a chip package's sentinel error (ad7606.ErrTimeout, …):
// callers compare with errors.Is; its message names the chip.
type Error struct {
	// Kind says which shared condition the sentinel is.
	Kind Kind
	// Msg is the message, "ad7606: conversion timed out".
	Msg string
}

// NewError returns a sentinel of kind k with message msg.
func NewError(k Kind, msg string) *Error { return &Error{Kind: k, Msg: msg} }

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// RangeError reports a chip argument outside what the chip accepts: a
// channel, a code or an output number. Err is the chip package's own
// sentinel of kind Range (ad5676.ErrRange, …), so callers branch with
// errors.Is on the chip's error and read the numbers with errors.As.
type RangeError struct {
	// What names the quantity with its chip: "ad5676 channel".
	What string
	// Value is the offending value, Min and Max the allowed range.
	Value, Min, Max int
	// Err is the chip package's sentinel that the error matches.
	Err error
}

// Error names the quantity, the value and the range.
func (e *RangeError) Error() string {
	return fmt.Sprintf("%s = %d is outside the allowed range [%d, %d]", e.What, e.Value, e.Min, e.Max)
}

// Unwrap returns the chip's sentinel.
func (e *RangeError) Unwrap() error { return e.Err }
