package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spuWithin runs spu like spu() but fails the test if it has not returned
// within d (a hang would otherwise stall the whole suite).
func spuWithin(t *testing.T, d time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type res struct {
		code     int
		out, err string
	}
	ch := make(chan res, 1)
	go func() {
		c, o, e := spu(t, args...)
		ch <- res{c, o, e}
	}()
	select {
	case r := <-ch:
		return r.code, r.out, r.err
	case <-time.After(d):
		t.Fatalf("spu %v did not return within %v", args, d)
		return 0, "", ""
	}
}

// spu emu with a --link it cannot make says why and exits, instead of
// deadlocking silently.
func TestEmuBadLink(t *testing.T) {
	dir := t.TempDir()
	regular := write(t, dir, "regular", "x")
	missing := filepath.Join(dir, "nodir", "x")
	code, _, errOut := spuWithin(t, 10*time.Second, "emu", "--link", missing)
	require.Equal(t, exitError, code, errOut)
	assert.Contains(t, errOut, "spu emu: ")
	assert.Contains(t, errOut, missing)
	assert.Contains(t, errOut, "no such file or directory")
	code, _, errOut = spuWithin(t, 10*time.Second, "emu", "--link", regular)
	require.Equal(t, exitError, code, errOut)
	assert.Contains(t, errOut, "exists and is not a symlink")
}
