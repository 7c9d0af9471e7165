package serial

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// A path that is not a terminal device is a wrong path, said as such; it
// used to be reported as "board disconnected".
func TestOpenNotASerialPort(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	require.NoError(t, os.WriteFile(regular, nil, 0o644))
	for _, path := range []string{regular, dir, os.DevNull} {
		_, err := hal.Open(context.Background(), "serial://"+path)
		require.ErrorIs(t, err, hal.ErrInvalid, path)
		assert.NotErrorIs(t, err, hal.ErrDisconnected, path)
		assert.Contains(t, err.Error(), "serial: "+path+" is not a serial port (not a terminal device", path)
	}
	// A missing device is what an unplugged USB board looks like.
	_, err := hal.Open(context.Background(), "serial://"+filepath.Join(dir, "ttyACM9"))
	require.ErrorIs(t, err, hal.ErrDisconnected)
	assert.Contains(t, err.Error(), "no such file or directory")
}
