package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selftestReport is what spu selftest --json prints.
type selftestReport struct {
	Board  string `json:"board"`
	Serial string `json:"serial"`
	Pass   bool   `json:"pass"`
	Checks []struct {
		Name, Component, Measured, Expected, Hint string
		Pass, Skipped                             bool
	} `json:"checks"`
	BoardTimeS float64 `json:"board_time_s"`
}

// selftestJSONOf runs spu selftest --json on uri and decodes its report.
func selftestJSONOf(t *testing.T, uri string) (int, selftestReport, string) {
	t.Helper()
	code, out, errOut := spuWithin(t, 60*time.Second, "selftest", "--board", uri, "--json")
	var rep selftestReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	return code, rep, errOut
}

// A good board passes on the virtual SPI rig (with its late-sample count),
// on the simulator and through spu emu's serial link, each in well under
// the 30 s of board time.
func TestSelftestPasses(t *testing.T) {
	for _, uri := range []string{"spi+sim:proto8?seed=3", "sim:proto8?seed=3", serveEmu(t, "sim:proto8?seed=3")} {
		t.Run(uri, func(t *testing.T) {
			code, rep, errOut := selftestJSONOf(t, uri)
			for _, c := range rep.Checks {
				assert.True(t, c.Pass, "%s %s: %s (expected %s): %s", c.Name, c.Component, c.Measured, c.Expected, c.Hint)
			}
			require.Equal(t, exitOK, code, errOut)
			assert.True(t, rep.Pass)
			assert.Equal(t, "SIM-PROTO8-3", rep.Serial)
			assert.Greater(t, len(rep.Checks), 100)
			assert.Less(t, rep.BoardTimeS, 5.0)
			names := map[string]bool{}
			for _, c := range rep.Checks {
				names[c.Name] = true
				// The driver's own checks are "driver: CHECK" where it has them (driver/spi).
				if before, _, ok := strings.Cut(c.Name, ":"); ok {
					names[before] = true
				}
			}
			for _, n := range []string{"driver", "noise", "tau", "force", "loopback", "crosstalk", "coupling", "sample timing"} {
				assert.True(t, names[n], "a %s row", n)
			}
			assert.Equal(t, uri == "spi+sim:proto8?seed=3", names["late samples"], "late samples are counted by driver/spi only")
		})
	}
}

// The table names every check and ends with the verdict; the passing rows
// of a check fold into one line unless --all; a malformed URI is an
// ordinary error.
func TestSelftestTable(t *testing.T) {
	code, out, errOut := spuWithin(t, 60*time.Second, "selftest", "--board", "sim:ideal?seed=2")
	require.Equal(t, exitOK, code, errOut)
	for _, s := range []string{"selftest of SIM-IDEAL-2", "check", "measured", "expected", "loopback", "8 of 8", "skipped", "PASS — board time"} {
		assert.Contains(t, out, s)
	}
	assert.Regexp(t, `coupling\s+64 of 64\s+ok`, out)
	assert.NotContains(t, out, "A[7][6]")
	assert.NotContains(t, out, "what to check")
	code, out, errOut = spuWithin(t, 60*time.Second, "selftest", "--board", "sim:ideal?seed=2", "--all")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "bias channel 7 → cell 7")
	assert.Contains(t, out, "A[7][6]")
	assert.NotContains(t, out, "64 of 64")
	code, _, errOut = spu(t, "selftest", "--board", "sim:nope")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut, "spu selftest: ")
}

// A board outside its parts' tolerances fails: exit 1, the failed rows in
// the table, their hints under it, and pass = false in the JSON. The
// profile is proto8's ideal twin with 50 mV ADC offsets (the tolerance is
// 3 mV) and ±40 % capacitors (τ's tolerance is 6 %).
func TestSelftestFails(t *testing.T) {
	p := write(t, t.TempDir(), "bad.json", `{"name": "bad", "version": "1", "cells": 8, "topology": "general",
 "tau_s": 0.0001, "capacitor_tolerance": 0.4, "noise_v": 0.01,
 "coupling": {"max": 2}, "bias_dac": {"min_v": -5, "max_v": 5},
 "adc": {"min_v": -5, "max_v": 5, "offset_v": 0.05, "min_period_s": 5e-06}, "thermal": {"ambient_c": 25}}`)
	code, out, errOut := spuWithin(t, 60*time.Second, "selftest", "--board", "sim:"+p+"?seed=1")
	require.Equal(t, exitError, code, out)
	assert.Contains(t, errOut, "checks failed")
	for _, s := range []string{"FAIL", "what to check:", "loopback, bias channel 0 → cell 0: offset", "capacitor", "FAIL ("} {
		assert.Contains(t, out, s)
	}
	code, rep, _ := selftestJSONOf(t, "sim:"+p+"?seed=1")
	assert.Equal(t, exitError, code)
	assert.False(t, rep.Pass)
}

// A board that does not open is the selftest's one failed row, with the
// driver's reason; a malformed URI stays an ordinary error.
func TestSelftestUnopened(t *testing.T) {
	if _, err := os.Stat("/dev/spidev0.0"); err == nil {
		t.Skip("this machine has /dev/spidev0.0: the test would drive real pins")
	}
	code, rep, errOut := selftestJSONOf(t, "spi:///dev/spidev0.0")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut, "1 of 1 checks failed")
	require.Len(t, rep.Checks, 1)
	assert.Equal(t, "open", rep.Checks[0].Name)
	assert.Contains(t, rep.Checks[0].Measured, "enable SPI")
	code, out, errOut := spu(t, "selftest", "--board", "sim:proto8?seed=x")
	assert.Equal(t, exitError, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "seed")
}

// Every wiring fault of the virtual rig (docs/boards.md §8) fails the
// selftest, and a failed row names the fault's part: fault → check →
// component (ref8 defaults: dac-swap at channel 2, stuck-coupling at
// element 9 = A[1][1], adc-dead-channel at channel 5; chain-slow and
// polarity-missing=1 stop the board at open, where the driver's reason is
// the row: for chain-slow it names the chip behind the slow link, fault_at,
// 32 by default, and ref8's row-major elements put chip 32 at A[4][0]).
func TestSelftestFaults(t *testing.T) {
	for _, tc := range []struct {
		fault, check, component, words string
	}{
		{"adc-mode", "loopback", "bias channel 0 → cell 0", "clock edge"},
		{"dac-swap", "crosstalk", "bias channel 2 → cell 3", "crosswise"},
		{"stuck-coupling", "coupling", "A[1][1]", "ignores writes"},
		{"stuck-coupling", "driver: RDAC write/read-back", "AD5293 #9 (A[1][1])", "0x200"},
		{"polarity-missing", "coupling", "A[0][1]", "74HC595"},
		{"polarity-missing", "polarity", "sign bits", "0 of 56 elements switch sign"},
		{"polarity-missing&fault_at=1", "open", "board", "74HC595"},
		{"adc-dead-channel", "noise", "cell 5", "constant"},
		{"chain-slow", "open", "board", "from AD5293 #32 (A[4][0]) on — the SDO→SDI link into chip 32"},
		{"chain-slow&fault_at=5", "open", "board", "from AD5293 #5 (A[0][5]) on — the SDO→SDI link into chip 5"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			code, rep, _ := selftestJSONOf(t, "spi+sim:proto8?seed=3&fault="+tc.fault)
			assert.Equal(t, exitError, code)
			assert.False(t, rep.Pass)
			found := false
			for _, c := range rep.Checks {
				// With the driver's diagnostics an element row also names its part: "A[1][1] (AD5293 #9)".
				if !c.Pass && c.Name == tc.check && strings.HasPrefix(c.Component, tc.component) {
					found = true
					assert.Contains(t, c.Hint+" "+c.Measured, tc.words)
				}
			}
			assert.True(t, found, "a failed %s row for %s", tc.check, tc.component)
		})
	}
}

// --json prints board URIs as written: '&' separates their options and an
// HTML-escaped \u0026 (encoding/json's default) is not the URI a reader
// pastes back into --board.
func TestJSONKeepsURIs(t *testing.T) {
	uri := "spi+sim:proto8?seed=3&fault=chain-slow" // refused at open: no board time
	code, out, _ := spu(t, "selftest", "--board", uri, "--json")
	assert.Equal(t, exitError, code)
	assert.Contains(t, out, `"board": "`+uri+`"`)
	assert.NotContains(t, out, `\u0026`)
}

// docs/boards.md's "First power-up" samples are what spu selftest prints
// now on spi+sim:proto8?seed=3: the folded table line for line (up to the
// wall time, which depends on the machine), and every row of the --all
// excerpt. A change to the checks, the rig or the driver's diagnostics
// that moves a number shows here, so the sample is refreshed with it.
func TestSelftestDocSample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/boards.md")
	require.NoError(t, err)
	block := func(after string) []string {
		_, rest, ok := strings.Cut(string(doc), after)
		require.True(t, ok, "docs/boards.md has no %q", after)
		parts := strings.SplitN(rest, "```", 3)
		require.Len(t, parts, 3)
		return normLines(parts[1])
	}
	uri := "spi+sim:proto8?seed=3"
	code, out, errOut := spuWithin(t, 60*time.Second, "selftest", "--board", uri)
	require.Equal(t, exitOK, code, errOut)
	got := normLines(out)
	require.Greater(t, len(got), 1)
	assert.Equal(t, "selftest of SIM-PROTO8-3 ("+uri+")", got[0])
	want := block("complete output after the title line):")
	got = got[1:]
	require.Len(t, got, len(want), "rows of the folded sample")
	last := len(want) - 1
	want[last], _, _ = strings.Cut(want[last], " wall ")
	got[last], _, _ = strings.Cut(got[last], " wall ")
	assert.Equal(t, want, got)

	code, out, errOut = spuWithin(t, 60*time.Second, "selftest", "--board", uri, "--all")
	require.Equal(t, exitOK, code, errOut)
	all := map[string]bool{}
	for _, l := range normLines(out) {
		all[l] = true
	}
	for _, row := range block("and some of its rows with `--all` (rows cut):") {
		assert.True(t, all[row], "docs/boards.md's --all row is not in the output: %q", row)
	}
}

// normLines is s's non-empty lines with runs of spaces folded to one.
func normLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}
