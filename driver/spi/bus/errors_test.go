package bus

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrors(t *testing.T) {
	errRange := NewError(Range, "chip: code out of range")
	other := NewError(Range, "chip: code out of range")
	err := fmt.Errorf("cell 2: %w", &RangeError{What: "chip code", Value: 1024, Min: 0, Max: 1023, Err: errRange})
	assert.EqualError(t, err, "cell 2: chip code = 1024 is outside the allowed range [0, 1023]")
	require.ErrorIs(t, err, errRange)
	assert.NotErrorIs(t, err, other, "sentinels compare by identity, not by message")
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, Range, ce.Kind, "the kind is readable through the chain")
	var re *RangeError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 1024, re.Value)
}
