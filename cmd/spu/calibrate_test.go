package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
)

func TestCalibrateCLI(t *testing.T) {
	dir := t.TempDir()
	out, cache, png := filepath.Join(dir, "cal.json"), filepath.Join(dir, "cache"), filepath.Join(dir, "cal.png")
	code, stdout, stderr := spu(t, "calibrate", "--board", "sim:proto8?seed=1", "--events", "2000",
		"--out", out, "--cache", cache, "--plot", png, "--json")
	require.Equal(t, exitOK, code, stderr)
	var s calibrateJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &s))
	assert.Equal(t, "SIM-PROTO8-1", s.Serial)
	assert.Len(t, s.ADCGain, 8)
	assert.True(t, s.Clocked)
	assert.Greater(t, s.BoardTimeS, 0.5)
	// proto8's elements have 1 % tolerance and its capacitors 5 %: the
	// effective gains spread by a few percent.
	assert.Greater(t, s.CouplingGainRMS, 0.01)
	cal, err := calibration.Load(out)
	require.NoError(t, err)
	assert.Equal(t, s.Key, cal.Key)
	_, err = os.Stat(calibration.CachePath(cache, "SIM-PROTO8-1", s.Key))
	require.NoError(t, err, "cached copy")
	fi, err := os.Stat(png)
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(1000))

	// The calibration applies to its own board ...
	code, stdout, stderr = spu(t, "solve", "--board", "sim:proto8?seed=1", "--random", "4", "--seed", "2",
		"--duration", "20ms", "--calibration", out, "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "rel_error")
	// ... and is refused on another one.
	code, _, stderr = spu(t, "solve", "--board", "sim:proto8?seed=2", "--random", "4", "--calibration", out)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "cannot be applied to board SIM-PROTO8-2")

	// The check passes right after calibrating (the cache is found by serial).
	code, stdout, stderr = spu(t, "calibrate", "--board", "sim:proto8?seed=1", "--check", "--cache", cache, "--json")
	require.Equal(t, exitOK, code, stderr)
	var rep struct {
		Holds bool `json:"holds"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	assert.True(t, rep.Holds)

	// Usage errors.
	for _, args := range [][]string{
		{"calibrate", "--check", "--out", out},
		{"calibrate", "--check-events", "10"},
		{"calibrate", "--events", "-1"},
		{"train", "--optimizer", "sgd", "--calibration", out},
		{"train", "--check-every", "5"},
	} {
		code, _, stderr := spu(t, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
	}
}

// The drift check spu train runs every --check-every iterations: silent
// while the calibration holds; after three simulated hours on a drifting
// board it warns (without --recalibrate) or recalibrates, caches the new
// file and keeps training on it.
func TestDriftCheckDuringTraining(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ctx := context.Background()
	b, err := hal.Open(ctx, "sim:../../calibration/testdata/drifty.json?seed=7")
	require.NoError(t, err)
	defer b.Close()
	cal, err := calibration.Calibrate(ctx, b, &calibration.Options{Events: 30000})
	require.NoError(t, err)
	wb, err := calibration.Wrap(b, cal, nil)
	require.NoError(t, err)

	var msgs strings.Builder
	var m maintenance
	warnOnly, recal := driftCheck(wb, false, &msgs, &m), driftCheck(wb, true, &msgs, &m)
	require.NoError(t, recal(ctx, 10))
	assert.Empty(t, msgs.String(), "fresh calibration: nothing to say")

	require.NoError(t, b.Run(ctx, 3*time.Hour))
	require.NoError(t, warnOnly(ctx, 20))
	assert.Contains(t, msgs.String(), "iteration 20: the calibration no longer holds")
	assert.Same(t, cal, wb.Calibration(), "a warning changes nothing")

	msgs.Reset()
	require.NoError(t, recal(ctx, 30))
	assert.Contains(t, msgs.String(), "iteration 30: the calibration had drifted")
	assert.Contains(t, msgs.String(), "cached")
	require.NotSame(t, cal, wb.Calibration())
	rep, err := calibration.Check(ctx, b, wb.Calibration(), nil)
	require.NoError(t, err)
	assert.True(t, rep.Holds, "after recalibrating: %+v", rep)
	// Three checks (1.8 s of board time each) and one recalibration
	// (30 000 transients) are accounted.
	assert.Equal(t, maintenance{Checks: 3, Failed: 2, Recalibrations: 1, BoardTimeS: m.BoardTimeS}, m)
	assert.Greater(t, m.BoardTimeS, 3*1.8)
}

// TestBadInputCalibrationAndSPI has one case per row of the "Calibration
// and SPI boards" table of docs/errors.md, in the same order; the row
// names are read from the doc so the two cannot drift apart.
func TestBadInputCalibrationAndSPI(t *testing.T) {
	if _, err := os.Stat("/dev/spidev0.0"); err == nil {
		t.Skip("this machine has /dev/spidev0.0: the SPI rows would drive real pins")
	}
	dir := t.TempDir()
	cal1 := filepath.Join(dir, "cal1.json")
	code, _, stderr := spu(t, "calibrate", "--board", "sim:proto8?seed=1", "--events", "2000", "--out", cal1, "--no-cache", "--quiet")
	require.Equal(t, exitOK, code, stderr)
	wiring := filepath.Join(dir, "w.json")
	require.NoError(t, os.WriteFile(wiring, []byte(`{"model": "x", "cells": 9}`), 0o600))
	cases := []docCase{
		{"Calibration of another board", []string{"solve", "--board", "sim:proto8?seed=2", "--calibration", cal1, "--random", "4"}, exitError,
			[]string{"--calibration " + cal1, "board SIM-PROTO8-1 cannot be applied to board SIM-PROTO8-2", "calibration belongs to another board"}},
		{"Too few calibration events", []string{"calibrate", "--events", "5", "--no-cache"}, exitError,
			[]string{"events = 5, want ≥ 10 per probe", "invalid argument"}},
		{"Drift check without a calibration", []string{"train", "--check-every", "5"}, exitUsage,
			[]string{"--check-every 5: want N ≥ 1 together with --calibration"}},
		{"Recalibrate without a drift check", []string{"train", "--calibration", cal1, "--recalibrate"}, exitUsage,
			[]string{"--recalibrate goes with --check-every N"}},
		{"Twin of a calibration without a base profile", []string{"calibrate", "--calibration", cal1, "--twin", filepath.Join(dir, "twin.json")}, exitUsage,
			[]string{"--twin with --calibration needs --twin-base NAME|FILE.json"}},
		{"Twin base of another design", []string{"calibrate", "--calibration", cal1, "--twin", filepath.Join(dir, "twin.json"), "--twin-base", "ideal"}, exitError,
			[]string{`profile "ideal" has coupling maximum (1/τ) 4, the calibration of SIM-PROTO8-1 was measured with 2`, "invalid argument"}},
		{"No SPI on this machine", []string{"info", "--board", "spi:///dev/spidev0.0"}, exitError,
			[]string{"SPI device /dev/spidev0.0 does not exist", "enable SPI", "unsupported"}},
		{"Port not in the wiring", []string{"info", "--board", "spi:///dev/spidev0.5"}, exitError,
			[]string{"port /dev/spidev0.5 is not in wiring ref8", "invalid argument"}},
		{"Bad wiring file", []string{"info", "--board", "spi:///dev/spidev0.0?wiring=" + wiring}, exitError,
			[]string{"wiring " + wiring, "cells = 9, want 1..8", "invalid argument"}},
		{"Unknown virtual SPI option", []string{"info", "--board", "spi+sim:proto8?speed=3"}, exitError,
			[]string{`spi+sim: unknown option "speed" (known: seed, wiring, serial, fault, fault_at)`, "invalid argument"}},
		{"Unknown wiring fault", []string{"info", "--board", "spi+sim:proto8?fault=loose-wire"}, exitError,
			[]string{`unknown fault "loose-wire" (known: adc-mode, chain-slow, dac-swap, stuck-coupling, polarity-missing, adc-dead-channel)`, "invalid argument"}},
		{"Wiring fault part out of range", []string{"info", "--board", "spi+sim:proto8?fault=dac-swap&fault_at=7"}, exitError,
			[]string{"fault dac-swap at 7, want 0..6", "out of range"}},
	}
	runDocTable(t, "## Calibration and SPI boards", cases)
}

// docCase is one row of a docs/errors.md table: the command, its exit
// code and what its message must contain.
type docCase struct {
	name string
	args []string
	code int
	want []string
}

// runDocTable checks that cases has one case per row of the docs/errors.md
// table under heading (up to the next heading), in order — the row names
// are read from the doc so the two cannot drift apart — and runs them.
func runDocTable(t *testing.T, heading string, cases []docCase) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/errors.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(doc), "\n"+heading+"\n")
	require.True(t, ok, "docs/errors.md has no %q", heading)
	if i := strings.Index(table, "\n## "); i >= 0 {
		table = table[:i]
	}
	var rows []string
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Split(line, "|"); len(f) > 2 && !strings.HasPrefix(line, "|---") && strings.TrimSpace(f[1]) != "Case" {
			rows = append(rows, strings.TrimSpace(f[1]))
		}
	}
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	require.Equal(t, rows, names, "one case per docs/errors.md row, in order")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := spu(t, c.args...)
			assert.Equal(t, c.code, code, stderr)
			for _, w := range c.want {
				assert.Contains(t, stderr, w)
			}
		})
	}
}

// Ctrl-C during spu calibrate says in which stage it stopped and that
// nothing was kept (it said only "context canceled"), and writes nothing.
func TestCalibrateInterrupted(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cal.json")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	var stdout, stderr strings.Builder
	code := run(ctx, []string{"calibrate", "--out", out, "--cache", filepath.Join(dir, "cache")}, &stdout, &stderr)
	assert.NotEqual(t, exitOK, code)
	msg := stderr.String()
	// The cancel lands 1 s in; on this machine that is inside a probe's
	// transients, on a much faster one it may be the bias sweep. Either
	// way the message must name the stage it stopped in.
	assert.Regexp(t, `spu calibrate: interrupted during (probe \d+ of \d+: transients|`+calibration.StageBias+`)`, msg)
	assert.Contains(t, msg, "nothing was written (--out "+out+" and the cache are as they were)")
	assert.Contains(t, msg, "context canceled")
	_, err := os.Stat(out)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// spu calibrate --twin writes a profile that opens as the same board (its
// serial, so the board's calibration applies to it), and --calibration
// FILE --twin converts an existing calibration into the same profile.
func TestCalibrateTwinCLI(t *testing.T) {
	dir := t.TempDir()
	cal, tw, tw2 := filepath.Join(dir, "cal.json"), filepath.Join(dir, "twin.json"), filepath.Join(dir, "twin2.json")
	code, stdout, stderr := spu(t, "calibrate", "--board", "sim:proto8?seed=2", "--events", "2000", "--no-cache",
		"--out", cal, "--twin", tw, "--twin-base", "proto8", "--json")
	require.Equal(t, exitOK, code, stderr)
	var s calibrateJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &s))
	assert.Equal(t, tw, s.Twin)
	code, stdout, stderr = spu(t, "info", "--board", "sim:"+tw, "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"SIM-PROTO8-2"`)
	code, _, stderr = spu(t, "solve", "--board", "sim:"+tw, "--random", "4", "--duration", "20ms", "--calibration", cal)
	require.Equal(t, exitOK, code, stderr)

	code, _, stderr = spu(t, "calibrate", "--calibration", cal, "--twin", tw2, "--twin-base", "proto8")
	require.Equal(t, exitOK, code, stderr)
	a, err := os.ReadFile(tw)
	require.NoError(t, err)
	b, err := os.ReadFile(tw2)
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b))

	for _, args := range [][]string{
		{"calibrate", "--check", "--twin", tw},
		{"calibrate", "--twin-base", "proto8"},
		{"calibrate", "--calibration", cal, "--twin", tw2, "--twin-base", "proto8", "--events", "100"},
	} {
		code, _, stderr := spu(t, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
	}
}
