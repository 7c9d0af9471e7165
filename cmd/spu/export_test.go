package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/checkpoint"
)

// TestExportParams: export-params splits θ as optim.MLP lays it out — W_l
// is row r, columns 0..in-1 of layer l's out × (in+1) block and b_l its
// last column — checked against the checkpoint's θ read independently.
func TestExportParams(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck")
	code, _, errs := spu(t, trainArgs("--iterations", "3", "--hidden", "5", "--init", "glorot", "--checkpoint", ck)...)
	require.Equal(t, exitOK, code, errs)
	out := filepath.Join(dir, "p.npz")
	code, js, errs := spu(t, "export-params", "--checkpoint", ck, "--out", out, "--json")
	require.Equal(t, exitOK, code, errs)
	var s exportJSON
	require.NoError(t, json.Unmarshal([]byte(js), &s))
	assert.Equal(t, []int{784, 5, 10}, s.Sizes)
	assert.Equal(t, 3, s.Iteration)

	c, _, err := checkpoint.Load(ck)
	require.NoError(t, err)
	z, err := npz.Open(out)
	require.NoError(t, err)
	defer z.Close()
	var theta []float64
	require.NoError(t, z.Read("theta.npy", &theta))
	assert.Equal(t, c.Theta, theta)
	off := 0
	for l, io := range [][2]int{{784, 5}, {5, 10}} {
		in, o := io[0], io[1]
		var w mat.Dense
		var b []float64
		require.NoError(t, z.Read("W"+string(rune('0'+l))+".npy", &w))
		require.NoError(t, z.Read("b"+string(rune('0'+l))+".npy", &b))
		r, cols := w.Dims()
		require.Equal(t, [2]int{o, in}, [2]int{r, cols}, "layer %d", l)
		require.Len(t, b, o)
		for i := range o {
			row := c.Theta[off+i*(in+1) : off+(i+1)*(in+1)]
			assert.Equal(t, row[:in], mat.Row(nil, i, &w), "W%d row %d", l, i)
			assert.Equal(t, row[in], b[i], "b%d[%d]", l, i)
		}
		off += o * (in + 1)
	}
	var act string
	require.NoError(t, z.Read("activation.npy", &act))
	assert.Equal(t, c.Model.Activation, act)

	py := python3With(t, "numpy")
	got := runPython(t, py, `
import sys, numpy as np
z = np.load(sys.argv[1])
print(z["W0"].shape, z["b1"].shape, list(z["sizes"]), int(z["iteration"]), str(z["init"]))
`, out)
	assert.Equal(t, "(5, 784) (10,) [784, 5, 10] 3 glorot\n", got)
}

// TestBadInputNumPy has one case per row of docs/errors.md's NumPy table.
func TestBadInputNumPy(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	out := filepath.Join(dir, "x.npy")
	runDocTable(t, "## NumPy files (spu sample --out .npy/.npz, spu export-params)", []docCase{
		{"NumPy output too large", []string{"sample", "--board", "sim:tngd?cells=4096", "--n", "70000", "--out", out},
			exitUsage, []string{"--n 70000 samples of 4096 cells", "at most 268435456 values in a .npy", "write CSV", "invalid argument"}},
		{"Parameters without a checkpoint", []string{"export-params", "--out", "p.npz"},
			exitUsage, []string{"--checkpoint and --out are both required"}},
		{"Parameters to a non-.npz file", []string{"export-params", "--checkpoint", dir, "--out", "p.npy"},
			exitUsage, []string{"--out p.npy: want a name ending .npz"}},
		{"No checkpoint there", []string{"export-params", "--checkpoint", empty, "--out", filepath.Join(dir, "p.npz")},
			exitError, []string{"--checkpoint: no checkpoint in", "empty", "file does not exist"}},
	})
	_, err := os.Stat(out)
	assert.True(t, os.IsNotExist(err), "the refused sample left no file")
}
