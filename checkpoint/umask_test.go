//go:build unix

package checkpoint

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A checkpoint is created 0666 less the umask, like calibrations and plots
// (os.CreateTemp made it 0600 whatever the umask).
func TestSaveHonoursUmask(t *testing.T) {
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o077, 0o600}} {
		dir := filepath.Join(t.TempDir(), "ck")
		old := syscall.Umask(tc.umask)
		path, err := Save(dir, sample(1))
		syscall.Umask(old)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, tc.want, fi.Mode().Perm(), "umask %#o", tc.umask)
	}
}
