//go:build unix

package plot

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A plot is created 0666 less the umask, like calibration files and any
// file a program writes (it used to be chmod-ed to 0644 whatever the umask).
func TestWriteFileHonoursUmask(t *testing.T) {
	x, y := curve(5, func(i float64) float64 { return i })
	c := Chart{Series: []Series{{Name: "a", X: x, Y: y}}}
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{{0o027, 0o640}, {0o002, 0o664}} {
		path := filepath.Join(t.TempDir(), "p.png")
		old := syscall.Umask(tc.umask)
		err := WriteFile(path, 200, 150, c)
		syscall.Umask(old)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, tc.want, fi.Mode().Perm(), "umask %#o", tc.umask)
	}
}
