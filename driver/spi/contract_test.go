package spi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/conntest"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/driver/spi/ad5676"
	"github.com/spukit/spukit/driver/spi/bus"
	"github.com/spukit/spukit/driver/spi/hc595"
	"github.com/spukit/spukit/hal"
)

// contract keeps the chip's error and adds the hal one of its kind.
func TestContract(t *testing.T) {
	_, err := hc595.New(nil, nil)
	err = contract(fmt.Errorf("polarity: %w", err))
	require.ErrorIs(t, err, hal.ErrInvalid)
	require.ErrorIs(t, err, hc595.ErrConfig)
	assert.EqualError(t, err, "polarity: hc595: bad options: need a connection and 1–64 registers: invalid argument")

	ch, err := ad5293.NewChain(&conntest.Playback{}, 3)
	require.NoError(t, err)
	err = contract(ch.Write([]int{1}))
	require.ErrorIs(t, err, hal.ErrDimension)
	require.ErrorIs(t, err, ad5293.ErrLength)

	err = contract(fmt.Errorf("cell 1 (channel 9): %w",
		&bus.RangeError{What: "ad5676 channel", Value: 9, Min: 0, Max: 7, Err: ad5676.ErrRange}))
	require.ErrorIs(t, err, hal.ErrOutOfRange)
	require.ErrorIs(t, err, ad5676.ErrRange)
	var re *hal.RangeError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, hal.RangeError{What: "ad5676 channel", Row: -1, Col: -1, Value: 9, Min: 0, Max: 7}, *re)
	assert.EqualError(t, err, "cell 1 (channel 9): ad5676 channel = 9 is outside the allowed range [0, 7]")

	plain := errors.New("spidev: broken")
	assert.Same(t, plain, contract(plain), "an error that is not a chip's passes unchanged")
	assert.NoError(t, contract(nil))
}
