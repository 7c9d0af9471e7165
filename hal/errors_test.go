package hal_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

func TestSentinelsAreDistinct(t *testing.T) {
	all := []error{hal.ErrOutOfRange, hal.ErrDimension, hal.ErrInvalid, hal.ErrSaturated, hal.ErrUnstable,
		hal.ErrDisconnected, hal.ErrTimeout, hal.ErrUnsupported, hal.ErrClosed, hal.ErrBusy}
	for i, a := range all {
		assert.NotEmpty(t, a.Error())
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "errors.Is(%v, %v)", a, b)
		}
	}
}

func TestRangeErrorMatrixEntry(t *testing.T) {
	e := &hal.RangeError{What: "coupling", Row: 2, Col: 5, Value: 3.375, Min: -2, Max: 2, Unit: "1/τ"}
	msg := e.Error()
	assert.Contains(t, msg, "coupling")
	assert.Contains(t, msg, "[2][5]", "names the entry")
	assert.Contains(t, msg, "3.375", "shows the value")
	assert.Contains(t, msg, "[-2, 2]", "shows the range")
	assert.Contains(t, msg, "1/τ", "shows the unit")
	assert.NotContains(t, msg, ";", "no hint, no separator")

	require.ErrorIs(t, e, hal.ErrOutOfRange)
	for _, other := range []error{hal.ErrInvalid, hal.ErrDimension, hal.ErrSaturated, hal.ErrUnstable} {
		assert.NotErrorIs(t, e, other)
	}

	// Wrapped by a driver, it is still found by errors.Is and errors.As.
	wrapped := fmt.Errorf("serial: program couplings: %w", e)
	assert.ErrorIs(t, wrapped, hal.ErrOutOfRange)
	var got *hal.RangeError
	require.ErrorAs(t, wrapped, &got)
	assert.Same(t, e, got)
}

func TestRangeErrorVectorEntry(t *testing.T) {
	e := &hal.RangeError{What: "bias", Row: 4, Col: -1, Value: -1.25, Min: -1, Max: 1, Unit: "V", Hint: "scale it"}
	msg := e.Error()
	assert.Contains(t, msg, "bias[4]")
	assert.NotContains(t, msg, "[4][", "a vector entry has one index")
	assert.Contains(t, msg, "-1.25")
	assert.Contains(t, msg, "[-1, 1]")
	assert.Contains(t, msg, " V")
	assert.Contains(t, msg, "scale it", "the hint is part of the message")
	assert.ErrorIs(t, e, hal.ErrOutOfRange)
}

func TestRangeErrorScalar(t *testing.T) {
	e := &hal.RangeError{What: "sample period", Row: -1, Col: -1, Value: 2e-6, Min: 5e-6, Max: math.Inf(1), Unit: "s"}
	msg := e.Error()
	assert.Contains(t, msg, "sample period")
	assert.NotContains(t, msg, "[-1]", "a scalar has no index")
	assert.Contains(t, msg, "2e-06")
	assert.Contains(t, msg, "5e-06")
	assert.Contains(t, msg, "+Inf")
	assert.ErrorIs(t, e, hal.ErrOutOfRange)
}

// The whole message, with and without a unit: one space between words, none
// at the end (a unitless error once read "channel = 9  is outside the
// allowed range [0, 7] ").
func TestRangeErrorText(t *testing.T) {
	e := &hal.RangeError{What: "ad5676 channel", Row: -1, Col: -1, Value: 9, Min: 0, Max: 7}
	assert.Equal(t, "ad5676 channel = 9 is outside the allowed range [0, 7]", e.Error())
	e = &hal.RangeError{What: "bias", Row: 2, Col: -1, Value: 6, Min: -5, Max: 5, Unit: "V"}
	assert.Equal(t, "bias[2] = 6 V is outside the allowed range [-5, 5] V", e.Error())
	e.Hint = "lower it"
	assert.Equal(t, "bias[2] = 6 V is outside the allowed range [-5, 5] V; lower it", e.Error())
	e = &hal.RangeError{What: "wiper code", Row: -1, Col: -1, Value: 1024, Min: 0, Max: 1023, Hint: "use 10 bits"}
	assert.Equal(t, "wiper code = 1024 is outside the allowed range [0, 1023]; use 10 bits", e.Error())
}

func TestSaturationError(t *testing.T) {
	e := &hal.SaturationError{Counts: []int{0, 3, 0, 2}, Samples: 10}
	msg := e.Error()
	// 3 + 2 = 5 saturated readings of 10 samples × 4 cells = 40
	assert.Contains(t, msg, "5 of 40")
	assert.Contains(t, msg, "cell 1: 3")
	assert.Contains(t, msg, "cell 3: 2")
	assert.NotContains(t, msg, "cell 0", "cells that did not saturate are not listed")
	assert.NotContains(t, msg, "cell 2")

	require.ErrorIs(t, e, hal.ErrSaturated)
	assert.NotErrorIs(t, e, hal.ErrOutOfRange)

	wrapped := fmt.Errorf("sample: %w", e)
	var got *hal.SaturationError
	require.ErrorAs(t, wrapped, &got)
	assert.Equal(t, []int{0, 3, 0, 2}, got.Counts)
	assert.Equal(t, 10, got.Samples)
}

// A huge board names only its eight worst cells.
func TestSaturationErrorSummarises(t *testing.T) {
	counts := make([]int, 100000)
	for i := range counts {
		counts[i] = 1 // every cell once
	}
	for _, i := range []int{5, 17, 99999, 42, 7, 1000, 31337, 2, 60000} {
		counts[i] = 10 // nine cells ten times: the lowest eight indices of them are named
	}
	msg := (&hal.SaturationError{Counts: counts, Samples: 10}).Error()
	assert.Less(t, len(msg), 400)
	// 99991 cells × 1 + 9 × 10 = 100081 of 10 × 100000 readings
	assert.Contains(t, msg, "100081 of 1000000")
	assert.Contains(t, msg, "cell 2: 10, cell 5: 10, cell 7: 10, cell 17: 10, cell 42: 10, cell 1000: 10, cell 31337: 10, cell 60000: 10, and 99992 more cells")
	assert.NotContains(t, msg, "cell 99999")
}
