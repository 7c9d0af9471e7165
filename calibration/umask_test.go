//go:build unix

package calibration

import (
	"path/filepath"
	"testing"

	"github.com/spukit/spukit/internal/atomicfile/atomicfiletest"
)

// Calibration files are created 0666 less the umask, like any file a
// program writes: the umask decides who may read them (they used to be
// chmod-ed to 0644 whatever it was).
func TestSaveHonoursUmask(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	atomicfiletest.CheckUmask(t, func(dir string) (string, error) {
		path := filepath.Join(dir, "cal.json")
		return path, c.Save(path)
	})
}
