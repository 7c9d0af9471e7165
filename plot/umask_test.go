//go:build unix

package plot

import (
	"path/filepath"
	"testing"

	"github.com/spukit/spukit/internal/atomicfile/atomicfiletest"
)

// A plot is created 0666 less the umask, like calibration files and any
// file a program writes (it used to be chmod-ed to 0644 whatever the umask).
func TestWriteFileHonoursUmask(t *testing.T) {
	x, y := curve(5, func(i float64) float64 { return i })
	c := Chart{Series: []Series{{Name: "a", X: x, Y: y}}}
	atomicfiletest.CheckUmask(t, func(dir string) (string, error) {
		path := filepath.Join(dir, "p.png")
		return path, WriteFile(path, 200, 150, c)
	})
}
