//go:build unix

package atomicfile

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The file's mode is 0666 less the umask, and two calls never return the
// same file.
func TestCreateTempHonoursUmask(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{{0o077, 0o600}, {0o022, 0o644}, {0o002, 0o664}} {
		old := syscall.Umask(tc.umask)
		f, err := CreateTemp(dir, ".x-", ".tmp")
		syscall.Umask(old)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		fi, err := os.Stat(f.Name())
		require.NoError(t, err)
		assert.Equal(t, tc.want, fi.Mode().Perm(), "umask %#o", tc.umask)
	}
	a, err := CreateTemp(dir, ".y-", ".png")
	require.NoError(t, err)
	b, err := CreateTemp(dir, ".y-", ".png")
	require.NoError(t, err)
	assert.NotEqual(t, a.Name(), b.Name())
	assert.True(t, strings.HasSuffix(a.Name(), ".png"), a.Name())
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}
