//go:build unix

package calibration

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Calibration files are created 0666 less the umask, like any file a
// program writes: the umask decides who may read them (they used to be
// chmod-ed to 0644 whatever it was).
func TestSaveHonoursUmask(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	dir := t.TempDir()
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{{0o077, 0o600}, {0o022, 0o644}, {0o002, 0o664}} {
		old := syscall.Umask(tc.umask)
		path := filepath.Join(dir, fmt.Sprintf("cal-%o.json", tc.umask))
		err := c.Save(path)
		syscall.Umask(old)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, tc.want, fi.Mode().Perm(), "umask %#o", tc.umask)
	}
}
