package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
	"codeberg.org/sbinet/npyio/npz"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// readSampleCSV reads spu sample's CSV: the times and the n × k readings.
func readSampleCSV(t *testing.T, path string) (ts []float64, x *mat.Dense) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	k := len(strings.Split(lines[0], ",")) - 1
	x = mat.NewDense(len(lines)-1, k, nil)
	for r, line := range lines[1:] {
		f := strings.Split(line, ",")
		require.Len(t, f, k+1, "row %d", r)
		for c, s := range f {
			v, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err)
			if c == 0 {
				ts = append(ts, v)
			} else {
				x.Set(r, c-1, v)
			}
		}
	}
	return ts, x
}

// TestSampleNPY: the same seeded run written as CSV, .npy and .npz holds
// the same numbers, read back with npyio's reader (independent of the
// writer's use here) and, where Debian's numpy is installed, with numpy.
func TestSampleNPY(t *testing.T) {
	dir := t.TempDir()
	couplings := filepath.Join(dir, "a.csv")
	require.NoError(t, os.WriteFile(couplings, []byte(identityCSV(8, 0, 1, "-0.25")), 0o644))
	bias := "0.1,0,0,0,0,0,0,-0.2"
	out := func(name string) string {
		p := filepath.Join(dir, name)
		// 5000 samples: two Board.Sample calls of sampleChunk.
		code, _, errs := spu(t, "sample", "--board", "sim:proto8?seed=3", "--n", "5000", "--quiet",
			"--couplings", couplings, "--bias", bias, "--out", p)
		require.Equal(t, exitOK, code, errs)
		return p
	}
	csvPath, npyPath, npzPath := out("x.csv"), out("x.npy"), out("x.npz")
	ts, want := readSampleCSV(t, csvPath)
	require.Equal(t, 5000, len(ts))

	f, err := os.Open(npyPath)
	require.NoError(t, err)
	defer f.Close()
	r, err := npy.NewReader(f)
	require.NoError(t, err)
	assert.Equal(t, []int{5000, 8}, r.Header.Descr.Shape)
	assert.Equal(t, "'<f8'", r.Header.Descr.Type)
	var got mat.Dense
	require.NoError(t, r.Read(&got))
	assert.True(t, mat.Equal(want, &got), "the .npy equals the CSV")

	z, err := npz.Open(npzPath)
	require.NoError(t, err)
	defer z.Close()
	var zx mat.Dense
	var zt []float64
	var board string
	var samples int64
	require.NoError(t, z.Read("x.npy", &zx))
	require.NoError(t, z.Read("t_s.npy", &zt))
	require.NoError(t, z.Read("board.npy", &board))
	require.NoError(t, z.Read("samples.npy", &samples))
	assert.True(t, mat.Equal(want, &zx), "the .npz's x equals the CSV")
	assert.Equal(t, ts, zt)
	assert.Equal(t, "sim:proto8?seed=3", board)
	assert.EqualValues(t, 5000, samples)

	py := python3With(t, "numpy")
	res := runPython(t, py, `
import sys, json, numpy as np
csv = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
x = np.load(sys.argv[2])
assert x.dtype == np.float64 and x.shape == (5000, 8), (x.dtype, x.shape)
assert np.array_equal(x, csv[:, 1:]), "npy != csv"
z = np.load(sys.argv[3])  # allow_pickle=False: every entry is plain
assert np.array_equal(z["x"], csv[:, 1:]) and np.array_equal(z["t_s"], csv[:, 0])
assert str(z["board"]) == "sim:proto8?seed=3" and int(z["samples"]) == 5000
assert json.loads(str(z["info"]))["cells"] == 8
assert z["couplings"].shape == (8, 8) and z["couplings"][0, 1] == -0.25
assert z["bias"][0] == 0.1 and z["bias"][7] == -0.2
assert float(z["period_s"]) == 5e-6 and str(z["calibration"]) == ""
assert str(z["spu_version"]).startswith("spu ")
print("ok")
`, csvPath, npyPath, npzPath)
	assert.Equal(t, "ok\n", res)
}
