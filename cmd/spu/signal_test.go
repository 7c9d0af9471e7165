package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A signal stops the command through its context and the exit code is the
// shell's 128 + signal number, not the generic error code 1.
func TestSignalExitCodes(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			sigs := make(chan os.Signal, 1)
			stopped := false
			var out, errb bytes.Buffer
			// 10⁸ samples take minutes: only the signal ends this run.
			csv := filepath.Join(t.TempDir(), "s.csv")
			args := []string{"sample", "--n", "100000000", "--burn", "0", "--out", csv}
			codes := make(chan int)
			go func() { codes <- runSignalled(sigs, func() { stopped = true }, args, &out, &errb) }()
			time.Sleep(200 * time.Millisecond)
			sigs <- tc.sig
			select {
			case code := <-codes:
				assert.Equal(t, tc.code, code, errb.String())
			case <-time.After(20 * time.Second):
				t.Fatal("the command did not stop on the signal")
			}
			assert.True(t, stopped, "the handler is removed after the first signal")
			// What was kept is said, and it is whole rows: a header and
			// rows (as many as the 200 ms allowed) of t_s and the 8 cells
			// of sim:proto8.
			assert.Contains(t, errb.String(), "interrupted; the rows written to "+csv+" before it are kept, each one complete")
			data, err := os.ReadFile(csv)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			for _, l := range []string{lines[0], lines[len(lines)-1]} {
				assert.Len(t, strings.Split(l, ","), 9, "a whole row: %q", l)
			}
			assert.True(t, strings.HasSuffix(string(data), "\n"), "the last row is complete")
		})
	}
	// No signal: the command's own code.
	code := runSignalled(make(chan os.Signal), func() {}, []string{"sample", "--n", "0"}, &bytes.Buffer{}, &bytes.Buffer{})
	require.Equal(t, exitUsage, code)
}
