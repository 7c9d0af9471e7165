// Package atomicfile creates the temporary files that programs write and
// then rename over their target, so that a reader never sees half a file.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// CreateTemp creates a new file named prefix + random digits + suffix in
// dir, opened for reading and writing, with mode 0666 less the umask like
// any file a program writes: calibrations and plots are shared lab data,
// but the user's umask decides how shared. (os.CreateTemp would make it
// 0600, and a chmod afterwards would override the umask.) The random name
// only avoids collisions between writers; it is not a result, so it needs
// no seed.
func CreateTemp(dir, prefix, suffix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, fmt.Sprintf("%s%d%s", prefix, rand.Uint32(), suffix))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("cannot create a temporary file in %s: %w", dir, fs.ErrExist)
}

// WriteFile writes path atomically: write fills a temporary file in the
// same directory (named prefix + random digits + ".tmp"), which is synced,
// closed and renamed over path; the directory is synced so the rename is
// durable. On any error the temporary file is removed and path is left as
// it was.
func WriteFile(path, prefix string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := CreateTemp(dir, prefix, ".tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := write(tmp); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	// The rename is durable once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
