package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
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

// spu emu --board URI emulates that board (it used to run sim:proto8?seed=1
// whatever --board said): the serial board it serves reports the serial of
// sim:ideal?seed=4.
func TestEmuBoard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"emu", "--board", "sim:ideal?seed=4", "--json"}, pw, io.Discard)
		pw.Close()
		done <- code
	}()
	var started struct {
		Board string `json:"board"`
		URI   string `json:"uri"`
	}
	require.NoError(t, json.NewDecoder(pr).Decode(&started))
	go io.Copy(io.Discard, pr)
	assert.Equal(t, "sim:ideal?seed=4", started.Board)
	b, err := hal.Open(ctx, started.URI)
	require.NoError(t, err)
	assert.Equal(t, "SIM-IDEAL-4", b.Info().Serial)
	assert.Equal(t, 8, b.Info().Cells)
	require.NoError(t, b.Close())
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code)
	case <-time.After(10 * time.Second):
		t.Fatal("spu emu did not stop on cancel")
	}
}
