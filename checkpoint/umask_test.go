//go:build unix

package checkpoint

import (
	"path/filepath"
	"testing"

	"github.com/spukit/spukit/internal/atomicfile/atomicfiletest"
)

// A checkpoint is created 0666 less the umask, like calibrations and plots
// (os.CreateTemp made it 0600 whatever the umask).
func TestSaveHonoursUmask(t *testing.T) {
	atomicfiletest.CheckUmask(t, func(dir string) (string, error) {
		return Save(filepath.Join(dir, "ck"), sample(1))
	})
}
