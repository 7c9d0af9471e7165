package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func solveJSONOut(t *testing.T, args ...string) solveReport {
	t.Helper()
	return solveJSONAs[solveReport](t, args...)
}

// solveJSONAs runs spu solve --json with args, requires exit 0 and decodes
// the report into a T.
func solveJSONAs[T any](t *testing.T, args ...string) T {
	t.Helper()
	code, out, errOut := spu(t, append([]string{"solve", "--json"}, args...)...)
	require.Equal(t, exitOK, code, errOut)
	var r T
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return r
}

// solveReport mirrors solveJSON with plain floats (null decodes as 0).
type solveReport struct {
	Board      string    `json:"board"`
	N          int       `json:"n"`
	X          []float64 `json:"x"`
	StdErr     []float64 `json:"std_err"`
	XDigital   []float64 `json:"x_digital"`
	Residual   *float64  `json:"residual"`
	RelError   *float64  `json:"rel_error"`
	BoardTimeS float64   `json:"board_time_s"`
	WallS      float64   `json:"wall_s"`
	Scale      struct {
		Alpha, Beta float64
	} `json:"scale"`
	Samples int     `json:"samples"`
	Retries int     `json:"retries"`
	BurnS   float64 `json:"burn_s"`
}

func TestSolveRandomIdeal(t *testing.T) {
	r := solveJSONOut(t, "--board", "sim:ideal", "--random", "8", "--cond", "10", "--seed", "1")
	assert.Equal(t, "sim:ideal", r.Board)
	assert.Equal(t, 8, r.N)
	require.Len(t, r.X, 8)
	require.Len(t, r.StdErr, 8)
	require.NotNil(t, r.RelError)
	require.NotNil(t, r.Residual)
	assert.LessOrEqual(t, *r.RelError, 0.01)
	assert.False(t, math.IsNaN(*r.Residual) || math.IsInf(*r.Residual, 0))
	assert.Less(t, *r.Residual, 0.05)
	assert.Greater(t, r.Samples, 0)
	assert.Greater(t, r.BoardTimeS, 0.0)
	assert.Greater(t, r.Scale.Alpha, 0.0)
	assert.Greater(t, r.Scale.Beta, 0.0)
	// Deterministic for the board seed and problem seed.
	again := solveJSONOut(t, "--board", "sim:ideal", "--random", "8", "--cond", "10", "--seed", "1")
	assert.Equal(t, r.X, again.X)
}

func TestSolveRandomProto8(t *testing.T) {
	r := solveJSONOut(t, "--random", "8", "--cond", "10", "--seed", "1")
	require.NotNil(t, r.RelError)
	// An uncalibrated prototype: part tolerances bias the answer by about 1 %.
	assert.Less(t, *r.RelError, 0.05)
}

func TestSolveFiles(t *testing.T) {
	dir := t.TempDir()
	// A = [[4,1],[1,3]], b = [1,2]: x = [1/11, 7/11].
	want := []float64{1.0 / 11, 7.0 / 11}
	a := write(t, dir, "a.csv", "# A\n4, 1\n1, 3\n")
	for name, args := range map[string][]string{
		"csv row":    {"--a", a, "--b", write(t, dir, "brow.csv", "1,2\n")},
		"csv column": {"--a", a, "--b", write(t, dir, "bcol.csv", "1\n2\n")},
		"json both":  {"--a", write(t, dir, "p.json", `{"a": [[4, 1], [1, 3]], "b": [1, 2]}`)},
		"json split": {"--a", write(t, dir, "a.json", `[[4, 1], [1, 3]]`), "--b", write(t, dir, "b.json", `{"b": [1, 2]}`)},
	} {
		t.Run(name, func(t *testing.T) {
			r := solveJSONOut(t, append([]string{"--board", "sim:ideal?seed=3", "--duration", "500tau", "--burn", "0"}, args...)...)
			require.Len(t, r.X, 2)
			assert.InDeltaSlice(t, want, r.XDigital, 1e-12)
			assert.InDeltaSlice(t, want, r.X, 0.01)
			assert.Zero(t, r.BurnS)
		})
	}
}

func TestSolveHuman(t *testing.T) {
	code, out, errOut := spu(t, "solve", "--board", "sim:ideal", "--random", "3", "--seed", "2", "--duration", "200tau", "--batches", "4")
	require.Equal(t, exitOK, code, errOut)
	for _, s := range []string{"random n=3 cond=10 seed=2 on sim:ideal", "x digital", "residual", "relative error", "alpha", "samples", "in 4 batches", "board time"} {
		assert.Contains(t, out, s)
	}
	assert.Len(t, regexp.MustCompile(`(?m)^ +[0-9]+ +-?[0-9.]+ `).FindAllString(out, -1), 3, "one table row per unknown:\n%s", out)
	assert.Empty(t, errOut)
}

func TestSolveDoubleB(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "p.json", `{"a": [[2]], "b": [1]}`)
	code, _, errOut := spu(t, "solve", "--a", p, "--b", write(t, dir, "b.csv", "1\n"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, filepath.Base(p))
	assert.Contains(t, errOut, "give b once")
}
