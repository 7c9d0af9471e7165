package emu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/spukit/spukit/driver/serial"
	"github.com/spukit/spukit/firmware/proto"
	"github.com/spukit/spukit/hal"
)

// Two simulated boards whose serials differ only after INFO's
// proto.MaxString bytes (a long profile name, seeds 1 and 2) report
// different serials through the emulator, each within the limit; they
// used to be cut to the same 32 bytes.
func TestInfoSerialsStayUnique(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.json")
	require.NoError(t, os.WriteFile(prof, []byte(`{"name": "a-profile-with-a-long-descriptive-name", "cells": 2,
	  "tau_s": 1e-4, "noise_v": 0.01, "coupling": {"max": 2},
	  "bias_dac": {"min_v": -5, "max_v": 5}, "adc": {"min_v": -5, "max_v": 5, "min_period_s": 5e-6}}`), 0o644))
	serials := map[string]bool{}
	for _, seed := range []string{"1", "2", "10", "11"} {
		b, err := hal.Open(context.Background(), "sim:"+prof+"?seed="+seed)
		require.NoError(t, err)
		full := b.Info().Serial
		require.Greater(t, len(full), proto.MaxString, "the test needs serials longer than INFO carries")
		e, err := Serve(context.Background(), b, "", Faults{}, 1)
		require.NoError(t, err)
		d, err := hal.Open(context.Background(), "serial://"+e.Path)
		require.NoError(t, err)
		s := d.Info().Serial
		require.NoError(t, d.Close())
		require.NoError(t, e.Close())
		require.NoError(t, b.Close())
		assert.LessOrEqual(t, len(s), proto.MaxString)
		assert.True(t, strings.HasPrefix(s, full[:proto.MaxString-9]), "%s keeps the start of %s", s, full)
		assert.False(t, serials[s], "serial %s reported twice", s)
		serials[s] = true
	}
	short, err := hal.Open(context.Background(), "sim:proto8?seed=1")
	require.NoError(t, err)
	require.Equal(t, "SIM-PROTO8-1", short.Info().Serial)
	assert.Equal(t, "SIM-PROTO8-1", Info(short).Serial, "a serial that fits is left alone")
}
