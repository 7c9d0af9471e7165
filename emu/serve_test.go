package emu

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// A --link that cannot be made (its directory is missing, or a regular
// file is in the way) is an error returned at once: Serve used to close the
// emulator on that path and wait for a firmware loop it had not started.
func TestServeBadLinkFailsFast(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(regular, []byte("keep"), 0o644))
	for _, tc := range []struct{ name, link, want string }{
		{"missing directory", filepath.Join(dir, "nope", "x"), "no such file or directory"},
		{"regular file", regular, "exists and is not a symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hal.Open(context.Background(), "sim:proto8?seed=1")
			require.NoError(t, err)
			defer b.Close()
			type result struct {
				e   *Emulator
				err error
			}
			done := make(chan result, 1)
			go func() {
				e, err := Serve(context.Background(), b, tc.link, Faults{}, 1)
				done <- result{e, err}
			}()
			select {
			case r := <-done:
				require.Nil(t, r.e)
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tc.link)
				assert.Contains(t, r.err.Error(), tc.want)
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return within 5 s")
			}
		})
	}
	got, err := os.ReadFile(regular)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(got), "the regular file is left alone")
}
