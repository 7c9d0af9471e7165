package spi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/driver/spi/virtual"
	"github.com/spukit/spukit/hal"
)

// deadBusy is a host whose ADC BUSY line never falls.
type deadBusy struct {
	*virtual.Rig
	busy string
}

func (h deadBusy) Pin(name string) (gpio.PinIO, error) {
	if name == h.busy {
		return &gpiotest.Pin{N: name, EdgesChan: make(chan gpio.Level)}, nil
	}
	return h.Rig.Pin(name)
}

// A conversion that never finishes is the chip's ad7606.ErrTimeout, and
// at the board's boundary also hal.ErrTimeout, as hal.Board callers
// expect; the message keeps the chip's words and ends as hal's errors do.
func TestConversionTimeoutIsHalTimeout(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	r, _ := rig(t, w, proto8(t), 1)
	b, err := spi.New(ctx, deadBusy{Rig: r, busy: w.ADC.BusyPin}, w, nil)
	require.NoError(t, err)
	defer b.Close()
	n, err := b.Sample(ctx, 0, make([]float64, 2*w.Cells))
	assert.Zero(t, n)
	require.ErrorIs(t, err, hal.ErrTimeout)
	require.ErrorIs(t, err, ad7606.ErrTimeout, "the chip's own error is still in the chain")
	assert.EqualError(t, err, "sample 0 of 2: ad7606: conversion timed out: BUSY did not fall within 10.004ms: timeout")
}
