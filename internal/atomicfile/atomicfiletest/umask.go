//go:build unix

// Package atomicfiletest checks, from another package's tests, that the
// files that package writes through atomicfile leave their mode to the
// umask (0666 less it), as every program's files should.
package atomicfiletest

import (
	"os"
	"syscall"
	"testing"
)

// umasks covers a private, the common and a group-writable setting.
var umasks = []int{0o077, 0o022, 0o002}

// CheckUmask calls write with a fresh empty directory under each of a few
// umasks and fails t unless the file it reports making there has mode
// 0666 &^ umask. The umask is process-wide, so t must not run in parallel
// with other tests.
func CheckUmask(t testing.TB, write func(dir string) (path string, err error)) {
	t.Helper()
	for _, mask := range umasks {
		dir := t.TempDir()
		old := syscall.Umask(mask)
		path, err := write(dir)
		syscall.Umask(old)
		if err != nil {
			t.Fatalf("umask %#o: %v", mask, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("umask %#o: %v", mask, err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o666&^mask); got != want {
			t.Errorf("umask %#o: %s has mode %v, want %v", mask, path, got, want)
		}
	}
}
