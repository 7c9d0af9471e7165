package main

import (
	"io"
	"os"
)

// checkWritable fails early when path cannot be created.
func checkWritable(path string) error {
	if _, err := os.Stat(path); err == nil {
		fh, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return fh.Close()
	}
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	fh.Close()
	return os.Remove(path)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	fh, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := fh.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
