package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	train, test, err := Load("")
	require.NoError(t, err)
	assert.Equal(t, 60000, train.N)
	assert.Equal(t, 10000, test.N)
	assert.Equal(t, 784, train.Pixels())
	assert.Len(t, train.Images, 60000*784)
	assert.Len(t, test.Labels, 10000)
	// The MNIST page lists the first training label as 5 and the first
	// test label as 7.
	assert.Equal(t, 5, train.Labels[0])
	assert.Equal(t, 7, test.Labels[0])
	for _, s := range []*Set{train, test} {
		var count [10]int
		for _, l := range s.Labels {
			require.True(t, l >= 0 && l <= 9, "label %d", l)
			count[l]++
		}
		for d, c := range count {
			assert.Greater(t, c, s.N/20, "digit %d is rare", d)
		}
		lo, hi := 1.0, 0.0
		for _, v := range s.Images {
			lo, hi = min(lo, v), max(hi, v)
		}
		assert.Equal(t, 0.0, lo)
		assert.Equal(t, 1.0, hi)
	}
	h := train.Head(10)
	assert.Equal(t, 10, h.N)
	assert.Len(t, h.Images, 7840)
	assert.Equal(t, train.Image(3), h.Image(3))
	assert.Same(t, train, train.Head(0))
}

func TestLoadN(t *testing.T) {
	all, _, err := Load("")
	require.NoError(t, err)
	train, test, err := LoadN("", 100, 7)
	require.NoError(t, err)
	assert.Equal(t, 100, train.N)
	assert.Len(t, train.Images, 100*784)
	assert.Equal(t, all.Images[:100*784], train.Images)
	assert.Equal(t, all.Labels[:100], train.Labels)
	assert.Equal(t, 7, test.N)
	_, _, err = LoadN("", 60001, 0)
	require.ErrorIs(t, err, ErrFormat)
	assert.Contains(t, err.Error(), "60001 examples asked for")
}

func TestDirOverrides(t *testing.T) {
	d, err := Dir("")
	require.NoError(t, err)
	t.Setenv(EnvDir, d)
	got, err := Dir("")
	require.NoError(t, err)
	assert.Equal(t, d, got)
	t.Setenv(EnvDir, "")
	got, err = Dir(d)
	require.NoError(t, err)
	assert.Equal(t, d, got)
}

func TestMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nowhere")
	t.Setenv(EnvDir, dir+"2")
	_, _, err := Load(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "--data "+dir, "an explicit directory is not silently replaced")
	assert.Contains(t, err.Error(), ModulePath)
	_, _, err = Load("")
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "$SPU_MNIST_DIR "+dir+"2")
}

// TestMissingEverywhere hides the module: no module cache, no go command.
func TestMissingEverywhere(t *testing.T) {
	t.Setenv(EnvDir, "")
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := Dir("")
	require.ErrorIs(t, err, os.ErrNotExist)
	for _, s := range []string{"--data (not given)", "$SPU_MNIST_DIR (not set)", "go list -m " + ModulePath, "--data DIR"} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestEscapePath(t *testing.T) {
	assert.Equal(t, "github.com/petar/!go!m!n!i!s!t", escapePath(ModulePath))
}

// idx builds an IDX stream: magic, dims, payload.
func idx(magic uint32, dims []uint32, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	binary.Write(&b, binary.BigEndian, dims)
	b.Write(payload)
	return b.Bytes()
}

func TestParseIDX(t *testing.T) {
	data, dims, err := parseIDX(bytes.NewReader(idx(0x803, []uint32{2, 1, 3}, []byte{1, 2, 3, 4, 5, 6})), "x", 0x803)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 1, 3}, dims)
	assert.Equal(t, []byte{1, 2, 3, 4, 5, 6}, data)

	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "reading the header"},
		{"short header", idx(0x803, []uint32{2}, nil), "reading the header"},
		{"wrong magic", idx(0x801, []uint32{2, 1, 3}, nil), "magic number 0x801, want 0x803"},
		{"zero dim", idx(0x803, []uint32{0, 1, 3}, nil), "dimension 0 is 0"},
		{"huge dims", idx(0x803, []uint32{1 << 24, 1 << 24, 1 << 24}, nil), "more than"},
		{"truncated", idx(0x803, []uint32{2, 1, 3}, []byte{1, 2, 3}), "truncated: the header promises 6 bytes of data, the file has 3"},
		{"trailing", idx(0x803, []uint32{1, 1, 3}, []byte{1, 2, 3, 4}), "data after the 3 bytes"},
		// A header claiming a gigabyte with a few bytes behind it fails
		// without allocating the gigabyte.
		{"lying header", idx(0x803, []uint32{1 << 12, 1 << 9, 1 << 9}, []byte{1, 2}), "promises 1073741824 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseIDX(bytes.NewReader(tc.in), "x", 0x803)
			require.ErrorIs(t, err, ErrFormat)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func gz(t *testing.T, path string, content []byte) {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write(content)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	img := idx(0x803, []uint32{2, 2, 2}, []byte{0, 255, 0, 255, 51, 0, 0, 0})
	gz(t, filepath.Join(dir, TrainImages), img)
	gz(t, filepath.Join(dir, TrainLabels), idx(0x801, []uint32{2}, []byte{3, 9}))
	gz(t, filepath.Join(dir, TestImages), img)
	gz(t, filepath.Join(dir, TestLabels), idx(0x801, []uint32{2}, []byte{1, 2}))
	train, test, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 1, 0, 1, 0.2, 0, 0, 0}, train.Images)
	assert.Equal(t, []int{3, 9}, train.Labels)
	assert.Equal(t, []int{1, 2}, test.Labels)

	gz(t, filepath.Join(dir, TestLabels), idx(0x801, []uint32{2}, []byte{1, 10}))
	_, _, err = Load(dir)
	require.ErrorIs(t, err, ErrFormat)
	assert.Contains(t, err.Error(), "label 1 = 10")

	gz(t, filepath.Join(dir, TestLabels), idx(0x801, []uint32{3}, []byte{1, 2, 3}))
	_, _, err = Load(dir)
	require.ErrorIs(t, err, ErrFormat)
	assert.Contains(t, err.Error(), "2 images but")

	require.NoError(t, os.WriteFile(filepath.Join(dir, TestLabels), []byte("not gzip"), 0o644))
	_, _, err = Load(dir)
	require.ErrorIs(t, err, ErrFormat)

	// A corrupted gzip checksum is caught.
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(idx(0x801, []uint32{2}, []byte{1, 2}))
	w.Close()
	raw := b.Bytes()
	raw[len(raw)-6] ^= 0xff
	require.NoError(t, os.WriteFile(filepath.Join(dir, TestLabels), raw, 0o644))
	_, _, err = Load(dir)
	require.ErrorIs(t, err, ErrFormat)
}

// TestModuleCacheDir: a built binary finds the module copy from its build
// information, with no go command on PATH.
func TestModuleCacheDir(t *testing.T) {
	want, err := Dir("")
	require.NoError(t, err)
	cache := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(want)))) // …/pkg/mod
	version := filepath.Base(filepath.Dir(want))
	version = version[len("!go!m!n!i!s!t@"):]
	t.Setenv("GOMODCACHE", cache)
	got, ok := moduleCacheDirFrom([]*debug.Module{{Path: "example.com/x", Version: "v1.0.0"}, {Path: ModulePath, Version: version}})
	require.True(t, ok)
	assert.Equal(t, want, got)

	got, ok = moduleCacheDirFrom([]*debug.Module{{Path: ModulePath, Version: version, Replace: &debug.Module{Path: "/src/mnist"}}})
	require.True(t, ok)
	assert.Equal(t, filepath.Join("/src/mnist", "data"), got)

	_, ok = moduleCacheDirFrom(nil)
	assert.False(t, ok)
}
