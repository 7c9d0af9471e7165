package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadInputBoards has one case per row of the "Board URIs, the emulator
// and calibration files" table of docs/errors.md, in the same order.
func TestBadInputBoards(t *testing.T) {
	// Two profiles with the same name (so the same serials) but another τ.
	dir := t.TempDir()
	profile := func(name, tau string) string {
		return write(t, dir, name, `{"name": "lab", "cells": 4, "tau_s": `+tau+`, "noise_v": 0.01, "coupling": {"max": 2},
  "bias_dac": {"min_v": -5, "max_v": 5}, "adc": {"min_v": -5, "max_v": 5, "min_period_s": 5e-6}}`)
	}
	p1, p2 := profile("p1.json", "1e-4"), profile("p2.json", "2e-4")
	cal := filepath.Join(dir, "cal.json")
	code, _, stderr := spu(t, "calibrate", "--board", "sim:"+p1, "--events", "2000", "--out", cal, "--no-cache", "--quiet")
	require.Equal(t, exitOK, code, stderr)
	data, err := os.ReadFile(cal)
	require.NoError(t, err)
	extra := write(t, dir, "extra.json", strings.Replace(string(data), "{", `{"comment": "hand-edited",`, 1))
	runDocTable(t, "## Board URIs, the emulator and calibration files", []docCase{
		{"Emulator fault probability not in [0, 1]", []string{"emu", "--faults", "drop=NaN"}, exitUsage,
			[]string{`spu emu: faults drop="NaN": want a finite probability in [0, 1]`, "invalid argument"}},
		{"Emulator fault delay too long or a fault key repeated", []string{"emu", "--faults", "delay=100h"}, exitUsage,
			[]string{`spu emu: faults delay "100h": want a duration from 0 to 10s (longer only times every request out)`, "invalid argument"}},
		{"Malformed board URI options", []string{"info", "--board", "sim:proto8?seed=5;x=1"}, exitError,
			[]string{`sim: malformed options "seed=5;x=1": invalid semicolon separator`, "joined by &", "invalid argument"}},
		{"Board URI option given twice", []string{"info", "--board", "sim:proto8?seed=1&seed=2"}, exitError,
			[]string{`sim: option "seed" given 2 times (seed=1, seed=2): give each option once`, "invalid argument"}},
		{"Emulator given --board and --profile or --seed", []string{"emu", "--board", "sim:ideal", "--seed", "3"}, exitUsage,
			[]string{`--board "sim:ideal" and --profile/--seed both name the board to emulate`, "invalid argument"}},
		{"Board the emulator cannot carry", []string{"emu", "--board", "sim:tngd"}, exitError,
			[]string{"board SIM-TNGD-1 has 100000 cells; the serial protocol carries at most 255", "unsupported"}},
		{"Calibration of another board under the same serial", []string{"solve", "--board", "sim:" + p2, "--calibration", cal, "--random", "4"}, exitError,
			[]string{"calibration of board SIM-LAB-1 was measured with nominal τ (s) 0.0001, board SIM-LAB-1 (sim/lab) reports 0.0002", "calibration belongs to another board"}},
		{"Calibration file with an unknown field", []string{"solve", "--board", "sim:" + p1, "--calibration", extra, "--random", "4"}, exitError,
			[]string{"extra.json", `unknown field "comment"`, "invalid argument"}},
		{"Calibration output not writable", []string{"calibrate", "--out", filepath.Join(dir, "nodir", "cal.json"), "--no-cache"}, exitError,
			[]string{"spu calibrate: --out: ", "nodir", "no such file or directory"}},
		{"Calibration cache not writable", []string{"calibrate", "--cache", extra}, exitError,
			[]string{"spu calibrate: --cache: calibration cache: mkdir " + extra, "not a directory", "or pass --no-cache"}},
		{"Serial path that is not a serial port", []string{"info", "--board", "serial://" + os.DevNull}, exitError,
			[]string{"serial: /dev/null is not a serial port (not a terminal device", "invalid argument"}},
	})
}

// Every scheme reads its options through hal.CheckQuery: a malformed query
// or a repeated key is refused before anything is opened.
func TestURIOptionsEveryScheme(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"sim:proto8?seed=%zz", `sim: malformed options "seed=%zz": invalid URL escape`},
		{"sim:proto8?seed=5;x=1", `sim: malformed options`},
		{"sim:tngd?cells=8;seed=2", `sim:tngd: malformed options`},
		{"sim:tngd?cells=8&cells=16", `sim:tngd: option "cells" given 2 times (cells=8, cells=16)`},
		{"serial:///dev/null?baud=9600;timeout=1s", `serial: malformed options`},
		{"serial:///dev/null?baud=9600&baud=115200", `serial: option "baud" given 2 times`},
		{"spi:///dev/spidev0.0?serial=%zz", `spi: malformed options`},
		{"spi:///dev/spidev0.0?serial=a&serial=b", `spi: option "serial" given 2 times`},
		{"spi+sim:proto8?seed=1;x", `spi+sim: malformed options`},
		{"spi+sim:proto8?seed=1&seed=1", `spi+sim: option "seed" given 2 times`},
	} {
		code, _, errOut := spu(t, "info", "--board", tc.uri)
		assert.Equal(t, exitError, code, tc.uri)
		assert.Contains(t, errOut, tc.want, tc.uri)
		assert.Contains(t, errOut, "invalid argument", tc.uri)
	}
}
