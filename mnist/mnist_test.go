package mnist

import (
	"os"
	"path/filepath"
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
	// The MNIST page lists the first training label as 5 and the first
	// test label as 7.
	assert.Equal(t, 5, train.Labels[0])
	assert.Equal(t, 7, test.Labels[0])
	lo, hi := 1.0, 0.0
	for _, v := range train.Images[:784*100] {
		lo, hi = min(lo, v), max(hi, v)
	}
	assert.Equal(t, 0.0, lo)
	assert.Equal(t, 1.0, hi)
	h := train.Head(10)
	assert.Equal(t, 10, h.N)
	assert.Len(t, h.Images, 7840)
}

func TestMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nowhere")
	t.Setenv(EnvDir, dir+"2")
	_, _, err := Load(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "--data "+dir, "an explicit directory is not silently replaced")
	_, _, err = Load("")
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "$SPU_MNIST_DIR "+dir+"2")
}
