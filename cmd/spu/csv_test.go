package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// numpyRef reads the reference values of testdata/numpy (one %.17g number
// per line, which round-trips a float64 exactly): A row by row, then b.
func numpyRef(t *testing.T) (a, b []float64) {
	t.Helper()
	fh, err := os.Open("testdata/numpy/ref.txt")
	require.NoError(t, err)
	defer fh.Close()
	var v []float64
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		x, err := strconv.ParseFloat(sc.Text(), 64)
		require.NoError(t, err)
		v = append(v, x)
	}
	require.Len(t, v, 12)
	return v[:9], v[9:]
}

// Files written by np.savetxt with its default (spaces, %.18e), tabs,
// semicolons, a bare header row, a # header, %.17g with ", ", and b as a
// column or a row, all read to the exact float64 numpy wrote.
func TestNumpyFiles(t *testing.T) {
	refA, refB := numpyRef(t)
	dir := "testdata/numpy"
	for _, tc := range []struct{ a, b, format string }{
		{"a_default.txt", "b_default.txt", "space-separated"},
		{"a_tab.tsv", "b_default.txt", "tab-separated"},
		{"a_semicolon.csv", "b_default.txt", "semicolon-separated"},
		{"a_header.csv", "b_row.csv", "comma-separated (from line 1), header line 1 skipped"},
		{"a_comment_header.txt", "b_row.csv", "space-separated (from line 2)"},
		{"a_fmt_g.csv", "b_row.csv", "comma-separated"},
	} {
		t.Run(tc.a, func(t *testing.T) {
			p, err := loadProblem(filepath.Join(dir, tc.a), filepath.Join(dir, tc.b))
			require.NoError(t, err)
			assert.Equal(t, 3, p.n)
			assert.Equal(t, refA, p.a)
			assert.Equal(t, refB, p.b)
			tb, err := readCSV(filepath.Join(dir, tc.a))
			require.NoError(t, err)
			assert.Contains(t, tb.format, tc.format)
		})
	}
	// The whole command, on np.savetxt's default format.
	code, out, errOut := spu(t, "solve", "--board", "sim:ideal", "--a", filepath.Join(dir, "a_default.txt"),
		"--b", filepath.Join(dir, "b_default.txt"), "--json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `"n": 3`)

	p, err := loadProblem(filepath.Join(dir, "a_decimal_comma.csv"), filepath.Join(dir, "b_row.csv"))
	require.NoError(t, err)
	assert.Equal(t, []float64{4, 1.5, 0, 1.5, 3, 1, 0, 1, 2}, p.a)
}

// A line that does not follow the delimiter found on the first data line
// is named, with the delimiter and where it was found.
func TestCSVDelimiterErrors(t *testing.T) {
	dir := t.TempDir()
	b3 := write(t, dir, "b3.csv", "1\n2\n3\n")
	for _, tc := range []struct{ name, content string }{
		{"mixed.csv", "1,2,3\n4 5 6\n7,8,9\n"},
		{"mixed2.csv", "1 2 3\n4,5,6\n7 8 9\n"},
	} {
		code, _, errOut := spu(t, "solve", "--a", write(t, dir, tc.name, tc.content), "--b", b3)
		assert.Equal(t, exitError, code)
		assert.Contains(t, errOut, "line 2")
		assert.Contains(t, errOut, "-separated (from line 1)")
	}
	code, _, errOut := spu(t, "solve", "--a", write(t, dir, "m.csv", "1,2,3\n4 5 6\n7,8,9\n"), "--b", b3)
	require.Equal(t, exitError, code)
	assert.Contains(t, errOut, `A (`+filepath.Join(dir, "m.csv")+`, comma-separated (from line 1)) is ragged: row 1 (line 2) has 1 entries`)
	code, help, errOut := spu(t, "help", "solve")
	require.Equal(t, exitOK, code, errOut)
	for _, d := range []string{"commas", "semicolons", "tabs", "spaces", "np.savetxt", "header"} {
		assert.Contains(t, help, d)
	}
}

// Reading A streams the file: the bytes allocated are the float64 payload
// (8 n² bytes, the capacity reserved from the first row's width), not the
// text. Bound: payload + the scanner's buffer (64 KiB growing to ≤ 2 lines
// of 25 n bytes) + the slice and row bookkeeping (16 bytes per row) + 1 MiB
// for the runtime's own; the old reader (whole file, then a string and a
// 48-byte field per entry) allocated 28–60× the file.
func TestReadCSVMemory(t *testing.T) {
	const n = 400
	dir := t.TempDir()
	path := filepath.Join(dir, "big.txt")
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for range n {
		for j := range n {
			if j > 0 {
				sb.WriteByte(' ')
			}
			fmt.Fprintf(&sb, "%.18e", rng.NormFloat64()) // np.savetxt's default format
		}
		sb.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, []byte(sb.String()), 0o644))
	fileSize := sb.Len()
	sb.Reset()

	payload := 8 * n * n
	bound := payload + 2*26*n + 16*n + 1<<20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb, err := readCSV(path)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	a, m, err := tb.square("A")
	require.NoError(t, err)
	require.Equal(t, n, m)
	require.Len(t, a, n*n)
	alloc := int(after.TotalAlloc - before.TotalAlloc)
	t.Logf("file %d bytes, payload %d bytes, allocated %d bytes (%.2f× payload, %.2f× file)",
		fileSize, payload, alloc, float64(alloc)/float64(payload), float64(alloc)/float64(fileSize))
	assert.LessOrEqual(t, alloc, bound)
}
