package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/emu"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// spu runs the CLI in-process and returns its exit code and output.
func spu(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	require.NotPanics(t, func() {
		code = run(context.Background(), args, &out, &errb)
	}, "spu %s", strings.Join(args, " "))
	return code, out.String(), errb.String()
}

// serveEmu runs spu emu's firmware on the board uri behind a
// pseudo-terminal until the test ends and returns the serial:// URI.
func serveEmu(t *testing.T, uri string) string {
	t.Helper()
	ctx := context.Background()
	sb, err := hal.Open(ctx, uri)
	require.NoError(t, err)
	e, err := emu.Serve(ctx, sb, "", emu.Faults{}, 3)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return "serial://" + e.Path
}

// write puts content in a file named name under dir and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// identityCSV is a k × k identity matrix as CSV with entry (r, c) set to v.
func identityCSV(k, r, c int, v string) string {
	var b strings.Builder
	for i := range k {
		for j := range k {
			if j > 0 {
				b.WriteByte(',')
			}
			switch {
			case i == r && j == c:
				b.WriteString(v)
			case i == j:
				b.WriteString("1")
			default:
				b.WriteString("0")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestInfoJSON(t *testing.T) {
	code, out, errOut := spu(t, "info", "--json")
	require.Equal(t, exitOK, code, errOut)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.EqualValues(t, 8, got["cells"])
	assert.Equal(t, "sim:proto8", got["board"])
	for _, key := range []string{"model", "serial", "firmware", "topology", "coupling_min_per_tau", "coupling_max_per_tau",
		"coupling_step_per_tau", "bias_dac", "adc", "tau_s", "noise_v", "min_sample_period_s", "capabilities"} {
		assert.Contains(t, got, key)
	}
	assert.InDelta(t, 100e-6, got["tau_s"], 1e-12)
	adc := got["adc"].(map[string]any)
	assert.EqualValues(t, 16, adc["bits"])
	assert.InDelta(t, 10.0/65536, adc["lsb_v"], 1e-15)
}

func TestInfoHuman(t *testing.T) {
	code, out, errOut := spu(t, "info", "--board", "sim:ideal?seed=4")
	require.Equal(t, exitOK, code, errOut)
	for _, s := range []string{"sim/ideal", "SIM-IDEAL-4", "cells", "8", "continuous", "100µs", "noise|clock|simulated"} {
		assert.Contains(t, out, s)
	}
	assert.Empty(t, errOut)
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, _ := spu(t, args...)
		assert.Equal(t, exitOK, code)
		for _, c := range []string{"info", "sample", "solve"} {
			assert.Contains(t, out, c)
		}
	}
	for _, c := range []string{"info", "sample", "solve"} {
		code, out, _ := spu(t, "help", c)
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "--board")
		assert.Contains(t, out, "usage: spu "+c)
		code, out, _ = spu(t, c, "-h")
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "usage: spu "+c)
	}
	code, out, _ := spu(t, "--version")
	assert.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "spu "), out)
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"usage: spu <command>"}},
		{[]string{"bogus"}, []string{`spu: unknown command "bogus"`, "info, sample, solve", "usage: spu <command>"}},
		{[]string{"--board", "sim:ideal", "info"}, []string{"flags go after the command"}},
		{[]string{"help", "bogus"}, []string{`unknown command "bogus"`}},
		{[]string{"info", "--nope"}, []string{"spu info: ", "-nope"}},
		{[]string{"info", "extra"}, []string{"spu info: ", `unexpected argument "extra"`}},
		{[]string{"sample", "--n", "x"}, []string{"spu sample: ", "-n"}},
		{[]string{"sample", "--burn", "soon"}, []string{"spu sample: ", `"soon"`, "20tau"}},
		{[]string{"solve"}, []string{"spu solve: no problem", "--random"}},
		{[]string{"solve", "--b", "b.csv"}, []string{"--b needs --a"}},
		{[]string{"solve", "--random", "3", "--a", "a.csv"}, []string{"not both"}},
		{[]string{"solve", "--random", "0"}, []string{"--random 0"}},
		{[]string{"solve", "--random", "3", "--cond", "0.5"}, []string{"--cond 0.5", "≥ 1"}},
		{[]string{"solve", "--random", "3", "--cond", "NaN"}, []string{"--cond NaN"}},
		{[]string{"solve", "--random", "3", "--cond", "1e308"}, []string{"--cond 1e+308", "≤ 1e+12", "round-off"}},
		{[]string{"solve", "--a", "a.csv", "--seed", "3"}, []string{"--cond and --seed go with --random"}},
		{[]string{"solve", "--random", "3", "--batches", "1"}, []string{"--batches 1", "at least 2"}},
		{[]string{"solve", "--random", "3", "--tol", "-1"}, []string{"--tol -1"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := spu(t, tc.args...)
			assert.Equal(t, exitUsage, code, errOut)
			for _, s := range tc.want {
				assert.Contains(t, errOut, s)
			}
		})
	}
}

// TestBadInput has one case per row of docs/errors.md, in the same order.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	f := func(name, content string) string { return write(t, dir, name, content) }
	b2 := f("b2.csv", "1,2\n")
	a2 := f("a2.csv", "2,1\n1,3\n")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"ragged A", []string{"solve", "--a", f("rag.csv", "1,2,3\n4,5\n6,7,8\n"), "--b", b2},
			exitError, []string{"spu solve: ", "rag.csv", "ragged", "row 1 (line 2) has 2 entries", "row 0 has 3", "dimension mismatch"}},
		{"non-square A", []string{"solve", "--a", f("rect.csv", "1,2,3\n4,5,6\n"), "--b", b2},
			exitError, []string{"rect.csv", "2×3", "square", "dimension mismatch"}},
		{"empty A", []string{"solve", "--a", f("empty.csv", "# nothing\n\n"), "--b", b2},
			exitError, []string{"empty.csv", "no numbers", "dimension mismatch"}},
		{"nan text in A", []string{"solve", "--a", f("nan.csv", "2,1\n1,nan\n"), "--b", b2},
			exitError, []string{"A[1][1]", "NaN", `"nan"`, "nan.csv line 2 column 3", "finite", "invalid argument"}},
		{"Inf overflow in A", []string{"solve", "--a", f("inf.csv", "2,1e999\n1,3\n"), "--b", b2},
			exitError, []string{"A[0][1]", "+Inf", `"1e999"`, "inf.csv line 1 column 3", "finite"}},
		{"inf in b", []string{"solve", "--a", a2, "--b", f("binf.csv", "1\n-Inf\n")},
			exitError, []string{"b[1]", "-Inf", "binf.csv line 2 column 1", "finite"}},
		{"NaN string in JSON", []string{"solve", "--a", f("pnan.json", `{"a": [[2, 1], [1, "NaN"]], "b": [1, 2]}`)},
			exitError, []string{"A[1][1]", `"NaN"`, "pnan.json", "JSON string", "want a number"}},
		{"null in JSON b", []string{"solve", "--a", f("pnull.json", `{"a": [[2, 1], [1, 3]], "b": [1, null]}`)},
			exitError, []string{"b[1]", "null", "pnull.json"}},
		{"text in A", []string{"solve", "--a", f("txt.csv", "2,x\n1,3\n"), "--b", b2},
			exitError, []string{"A[0][1]", `"x"`, "txt.csv line 1 column 3", "not a number"}},
		{"problem JSON syntax", []string{"solve", "--a", f("psyn.json", "{\"a\": [[2, 1], [1, 3]],\n \"b\": [1, 2}")},
			exitError, []string{"psyn.json line 2 column 12", "invalid character '}'", "invalid argument"}},
		{"problem JSON unknown field", []string{"solve", "--a", f("pfield.json", `{"a": [[2]], "b": [1], "c": 3}`)},
			exitError, []string{"pfield.json", `unknown field "c"`}},
		{"coupling out of range", []string{"sample", "--n", "1", "--couplings", f("big.csv", identityCSV(8, 2, 3, "5"))},
			exitError, []string{"big.csv", "A[2][3]", "= 5", "[-2, 2]", "1/τ", "as given", "do it automatically"}},
		{"bias out of range", []string{"sample", "--n", "1", "--bias", "0,0,0,0,0,0,0,7.5"},
			exitError, []string{"bias[7]", "7.5 V", "[-5, 5] V", "do it automatically"}},
		{"couplings wrong size", []string{"sample", "--couplings", a2},
			exitError, []string{"a2.csv", "2×2", "8 cells", "want 8×8", "dimension mismatch"}},
		{"bias wrong length", []string{"sample", "--bias", "1,2,3"},
			exitError, []string{"bias", "3 entries", "8 cells", "dimension mismatch"}},
		{"b wrong length", []string{"solve", "--a", a2, "--b", f("b3.csv", "1\n2\n3\n")},
			exitError, []string{"b3.csv", "3 entries", "a2.csv", "2×2", "want 2", "dimension mismatch"}},
		{"b not a vector", []string{"solve", "--a", a2, "--b", f("b22.csv", "1,2\n3,4\n")},
			exitError, []string{"b22.csv", "one row or one column", "dimension mismatch"}},
		{"A not stable", []string{"solve", "--a", f("unst.csv", "1,0\n0,-1\n"), "--b", b2},
			exitError, []string{"unst.csv", "refused before running", "eigenvalue -1", "non-positive real part", "unstable"}},
		{"too ill-conditioned for the couplings", []string{"solve", "--a", f("ill.csv", "1,0.999999\n0.999999,1\n"), "--b", b2},
			exitError, []string{"too ill-conditioned to program with 10-bit couplings (condition number 2e+06)", "precondition", "unstable coupling matrix"}},
		{"couplings not stable", []string{"sample", "--couplings", f("unst8.csv", identityCSV(8, 4, 4, "-0.5"))},
			exitError, []string{"unst8.csv", "eigenvalue -0.5", "non-positive real part", "unstable"}},
		{"asymmetric on symmetric board", []string{"sample", "--board", "sim:" + f("sym.json", symProfile),
			"--couplings", f("asym.csv", identityCSV(8, 0, 1, "0.5"))},
			exitError, []string{"asym.csv", "A[1][0] = 0 but A[0][1] = 0.5", "symmetric board", "unsupported"}},
		{"profile field of wrong type", []string{"info", "--board", "sim:" + f("badtype.json", `{"name": "x", "cells": "eight"}`)},
			exitError, []string{"badtype.json", `field "cells"`, "string", "want int", "invalid argument"}},
		{"profile syntax error", []string{"info", "--board", "sim:" + f("badsyn.json", "{\"name\": \"x\",\n  \"cells\": 8,,\n}")},
			exitError, []string{"badsyn.json", "line 2 column 1", "invalid character", "invalid argument"}},
		{"profile unknown field", []string{"info", "--board", "sim:" + f("badfield.json", `{"name": "x", "celz": 8}`)},
			exitError, []string{"badfield.json", `unknown field "celz"`}},
		{"profile value out of range", []string{"info", "--board", "sim:" + f("badval.json", `{"name": "x", "cells": 0}`)},
			exitError, []string{"cells = 0", "want 1..4096", "invalid argument"}},
		{"profile beyond physical bounds", []string{"sample", "--n", "3", "--board", "sim:" + f("huge_noise.json",
			strings.NewReplacer(`"noise_v": 0.01`, `"noise_v": 1e300`, `"max": 2`, `"max": 1e308`, `"tau_s": 1e-4`, `"tau_s": 1e300`).Replace(symProfile))},
			exitError, []string{"huge_noise.json", "tau_s = 1e+300, want 1e-09 … 3600 s", "noise_v = 1e+300, want 0 … 1000 V (op-amp",
				"coupling.max = 1e+308, want 1 … 1e+06 1/τ", "invalid argument"}},
		{"profile too large", []string{"info", "--board", "sim:" + f("huge.json", `{"name": "`+strings.Repeat("x", 1<<20)+`"}`)},
			exitError, []string{"huge.json", "larger than the limit of 1 MiB", "invalid argument"}},
		{"unknown URI scheme", []string{"info", "--board", "usb:foo"},
			exitError, []string{`unknown scheme "usb"`, "known: grpc, serial, sim", "unsupported"}},
		{"URI without scheme", []string{"info", "--board", "proto8"},
			exitError, []string{`"proto8" has no scheme`, "known: grpc, serial, sim"}},
		{"unknown built-in profile", []string{"info", "--board", "sim:proto9"},
			exitError, []string{`"proto9"`, "known: ideal, proto8"}},
		{"unknown sim option", []string{"info", "--board", "sim:proto8?speed=3"},
			exitError, []string{`unknown option "speed"`, "known: seed", "invalid argument"}},
		{"bad seed", []string{"info", "--board", "sim:proto8?seed=-1"},
			exitError, []string{`seed "-1"`, "non-negative integer"}},
		{"sample count zero", []string{"sample", "--n", "0"},
			exitUsage, []string{"spu sample: --n 0", "at least 1", "invalid argument"}},
		{"sample count negative", []string{"sample", "--n", "-5"},
			exitUsage, []string{"--n -5", "at least 1"}},
		{"solve asymmetric on symmetric board", []string{"solve", "--board", "sim:" + f("sym2.json", symProfile),
			"--a", f("asym2.csv", "2,1\n0,3\n"), "--b", b2},
			exitError, []string{"A[1][0] = 0 but A[0][1] = 1", "symmetric", "unsupported"}},
		{"solve period below minimum", []string{"solve", "--random", "3", "--period", "1us"},
			exitError, []string{"sample period = 1e-06 s", "[5e-06, +Inf] s"}},
		{"negative burn", []string{"sample", "--burn", "-1ms"},
			exitUsage, []string{"--burn -1ms", "≥ 0"}},
		{"negative period", []string{"sample", "--period", "-1us"},
			exitUsage, []string{"--period -1µs", "≥ 0"}},
		{"period below minimum", []string{"sample", "--period", "1us"},
			exitError, []string{"--period 1µs", "sample period = 1e-06 s", "[5e-06, +Inf] s", "--period 0"}},
		{"negative duration", []string{"solve", "--random", "3", "--duration", "-1s"},
			exitUsage, []string{"--duration -1s", "must be positive"}},
		{"zero duration", []string{"solve", "--random", "3", "--duration", "0"},
			exitUsage, []string{"--duration 0s", "must be positive"}},
		{"negative burn for solve", []string{"solve", "--random", "3", "--burn", "-2tau"},
			exitUsage, []string{"--burn -2tau", "≥ 0"}},
		{"missing A file", []string{"solve", "--a", filepath.Join(dir, "nope.csv"), "--b", b2},
			exitError, []string{"--a", "nope.csv", "no such file"}},
		{"missing b file", []string{"solve", "--a", a2, "--b", filepath.Join(dir, "nob.csv")},
			exitError, []string{"--b", "nob.csv", "no such file"}},
		{"missing couplings file", []string{"sample", "--couplings", filepath.Join(dir, "noc.csv")},
			exitError, []string{"--couplings", "noc.csv", "no such file"}},
		{"missing bias file", []string{"sample", "--bias", filepath.Join(dir, "nobias.csv")},
			exitError, []string{"--bias", "nobias.csv", "neither a file nor a comma-separated list", "no such file"}},
		{"missing profile file", []string{"info", "--board", "sim:" + filepath.Join(dir, "noprof.json")},
			exitError, []string{"noprof.json", "no such file"}},
		{"missing output directory", []string{"sample", "--n", "1", "--out", filepath.Join(dir, "nodir", "s.csv")},
			exitError, []string{"--out", "nodir", "no such file"}},
		{"block larger than the board", []string{"solve", "--random", "9", "--block", "9"},
			exitError, []string{"block size 9: want 1 … 8", "sim/proto8 has 8 cells", "dimension mismatch"}},
		{"diagonal block the board cannot solve", []string{"solve", "--a", f("zeroblock.csv", "1,0,1,0\n0,1,0,1\n-1,0,0,0\n0,-1,0,0\n"), "--b", f("b4.csv", "1,2,3,4\n"), "--block", "2"},
			exitError, []string{"block 1 (rows and columns 2–3 of A, 2×2) cannot be solved on the board", "eigenvalue 0+0i", "unstable"}},
		{"solution overflows", []string{"solve", "--a", f("tiny.csv", "1e-320,0\n0,1e-320\n"), "--b", b2},
			exitError, []string{"x overflows float64", "max|A_ij| = 1e-320", "max|b_i| = 2", "common factor", "out of range"}},
		{"board without dense couplings", []string{"solve", "--random", "8", "--board", "sim:tngd"},
			exitError, []string{"sim/tngd", "factored form", "dense 100000×100000", "unsupported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := spu(t, tc.args...)
			assert.Equal(t, tc.code, code, errOut)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			assert.Len(t, lines, 1, "errors are one line: %q", errOut)
			assert.True(t, strings.HasPrefix(errOut, "spu "+tc.args[0]+": "), errOut)
			for _, s := range tc.want {
				assert.Contains(t, errOut, s)
			}
		})
	}
}

// symProfile is a small symmetric-topology board.
const symProfile = `{
  "name": "sym8", "version": "1", "cells": 8, "topology": "symmetric",
  "tau_s": 1e-4, "noise_v": 0.01,
  "coupling": {"max": 2},
  "bias_dac": {"min_v": -5, "max_v": 5},
  "adc": {"min_v": -5, "max_v": 5, "min_period_s": 5e-6}
}`

func parseCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	require.NoError(t, err)
	return recs
}

func TestSampleCSV(t *testing.T) {
	code, out, errOut := spu(t, "sample", "--n", "7", "--period", "10us", "--burn", "0")
	require.Equal(t, exitOK, code, errOut)
	recs := parseCSV(t, out)
	require.Len(t, recs, 1+7)
	assert.Equal(t, []string{"t_s", "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"}, recs[0])
	// Board time: nothing before sampling, then one sample every 10 µs.
	assert.Equal(t, "1e-05", recs[1][0])
	assert.Equal(t, "7e-05", recs[7][0])
	assert.Contains(t, errOut, "7 samples of 8 cells")
	assert.Contains(t, errOut, "mean (V)")
}

func TestSampleOutJSON(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "s.csv")
	a := write(t, dir, "a.json", `{"couplings": `+jsonIdentity(8, 2)+`}`)
	bias := write(t, dir, "bias.csv", "1\n1\n1\n1\n-1\n-1\n-1\n-1\n")
	// A = 2 I, b = ±1 V: the node voltages settle at ±0.5 V.
	code, stdout, errOut := spu(t, "sample", "--board", "sim:ideal?seed=2", "--n", "5000", "--burn", "20tau",
		"--couplings", a, "--bias", bias, "--out", out, "--json")
	require.Equal(t, exitOK, code, errOut)
	var sum sampleJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &sum), stdout)
	assert.Equal(t, 5000, sum.Samples)
	assert.Equal(t, 0, sum.Saturated)
	require.NotNil(t, sum.BoardTimeS)
	assert.InDelta(t, 20*100e-6+5000*5e-6, *sum.BoardTimeS, 1e-3)
	for i, m := range sum.MeanV {
		want := 0.5
		if i >= 4 {
			want = -0.5
		}
		assert.InDelta(t, want, m, 0.01, "cell %d", i)
		// Stationary std of an uncoupled cell is σ/√a = 0.01/√2 V.
		assert.InDelta(t, 0.01/math.Sqrt2, sum.StdV[i], 0.002, "cell %d", i)
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Len(t, parseCSV(t, string(data)), 5001)
}

func jsonIdentity(k int, v float64) string {
	rows := make([][]float64, k)
	for i := range rows {
		rows[i] = make([]float64, k)
		rows[i][i] = v
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

func TestSampleSaturated(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "s.csv")
	// The ADC tops out at 5 V less one LSB: a node held at 4.99 V plus noise
	// reads full scale.
	code, _, errOut := spu(t, "sample", "--n", "20", "--bias", "0,0,0,0,0,0,0,4.999", "--out", out)
	assert.Equal(t, exitSaturated, code, errOut)
	assert.Contains(t, errOut, "spu sample: samples written, but")
	assert.Contains(t, errOut, "saturated (cell 7:")
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Len(t, parseCSV(t, string(data)), 21, "every sample is still written")
}

func TestParseVectorArg(t *testing.T) {
	v, err := parseVectorArg("1, -2.5,3e-1", "bias")
	require.NoError(t, err)
	assert.Equal(t, []float64{1, -2.5, 0.3}, v)
	v, err = parseVectorArg("0.25", "bias")
	require.NoError(t, err)
	assert.Equal(t, []float64{0.25}, v)
	_, err = parseVectorArg("1,,2", "bias")
	assert.ErrorContains(t, err, "bias[1] is empty")
	dir := t.TempDir()
	p := write(t, dir, "b.json", `[1, 2]`)
	v, err = parseVectorArg(p, "bias")
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2}, v)
}

func TestDurFlag(t *testing.T) {
	var d durFlag
	require.NoError(t, d.Set("20tau"))
	got, err := d.resolve(100e3) // 100 µs
	require.NoError(t, err)
	assert.Equal(t, "2ms", got.String())
	require.NoError(t, d.Set("1.5ms"))
	got, err = d.resolve(100e3)
	require.NoError(t, err)
	assert.Equal(t, "1.5ms", got.String())
	assert.Error(t, d.Set("20"))
	assert.Error(t, d.Set("NaNtau"))
	require.NoError(t, d.Set("1e300tau"))
	_, err = d.resolve(100e3)
	assert.Error(t, err)
}

func TestRandomProblem(t *testing.T) {
	p, err := randomProblem(t.Context(), 6, 100, 7)
	require.NoError(t, err)
	q, err := randomProblem(t.Context(), 6, 100, 7)
	require.NoError(t, err)
	assert.Equal(t, p.a, q.a, "deterministic")
	assert.Equal(t, p.b, q.b)
	x, err := digitalSolve(matFrom(p), p.b)
	require.NoError(t, err)
	assert.Less(t, solver.RelResidual(matFrom(p), x, p.b), 1e-12)
	// Eigenvalues 1 … 100: the trace is their sum.
	tr := 0.0
	want := 0.0
	for i := range 6 {
		tr += p.a[i*6+i]
		want += math.Pow(100, float64(i)/5)
	}
	assert.InDelta(t, want, tr, 1e-9)
}

func matFrom(p problem) *mat.Dense { return mat.NewDense(p.n, p.n, append([]float64(nil), p.a...)) }

// On a machine without SPI (this one), opening the SPI board names the
// missing device and how to enable SPI; the virtual SPI board works.
func TestInfoSPI(t *testing.T) {
	if _, err := os.Stat("/dev/spidev0.0"); err == nil {
		t.Skip("this machine has /dev/spidev0.0: the test would drive real pins")
	}
	code, _, errOut := spu(t, "info", "--board", "spi:///dev/spidev0.0")
	require.NotEqual(t, exitOK, code)
	for _, s := range []string{"/dev/spidev0.0 does not exist", "enable SPI", "docs/boards.md"} {
		assert.Contains(t, errOut, s)
	}
	code, out, errOut := spu(t, "info", "--board", "spi+sim:proto8?seed=3")
	require.Equal(t, exitOK, code, errOut)
	for _, s := range []string{"spi/ref8", "SIM-PROTO8-3", "17µs", "noise|clock|simulated", "coupling update    107.4µs"} {
		assert.Contains(t, out, s)
	}
}

// Over serial the board's ranges and noise arrive as float32: spu info
// prints them as the numbers they are (0.01 V rms, not
// 0.009999999776482582 V rms), in the table and in the JSON.
func TestInfoOverSerial(t *testing.T) {
	uri := serveEmu(t, "sim:proto8?seed=3")
	code, out, errOut := spu(t, "info", "--board", uri)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "0.01 V rms")
	assert.NotContains(t, out, "0.0099999")
	code, out, errOut = spu(t, "info", "--board", uri, "--json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `"noise_v": 0.01,`)
	assert.NotContains(t, out, "0.0099999")

	assert.Equal(t, 0.01, carried(float64(float32(0.01))))
	assert.Equal(t, 0.1+0.2, carried(0.1+0.2), "a float64 that is not a float32 keeps its digits")
}
