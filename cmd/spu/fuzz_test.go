package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spukit/spukit/hal"
)

// FuzzInput feeds arbitrary bytes through the matrix and vector readers as
// CSV and as JSON: they must return a value or an error wrapping a hal
// sentinel (or a file error), never panic.
func FuzzInput(f *testing.F) {
	for _, s := range []string{
		"1,2\n3,4\n", "1,2,3\n4,5\n", "nan,1\n", "1e999\n", "\"1\",2\n", "# c\n\n1\n", "1,,2\n", "a,b\n",
		`{"a": [[1, 2], [3, 4]], "b": [1, 2]}`, `[[1], 2]`, `[[]]`, `[]`, `{"a": 1}`, `[1, null, "x", true, {}]`,
		`{"a": [[1]], "b": [1], "c": 0}`, `[[1,2]] x`, `{"a": [[1e999]]}`, "\xff\xfe",
		"1 2\n3 4\n", "1\t2\n", "1;2\n", "1,5;2\n", "x0,x1\n1,2\n3,4\n", "\"a\";\"b\"\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"in.csv", "in.json"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			check := func(err error) {
				if err != nil && !errors.Is(err, hal.ErrInvalid) && !errors.Is(err, hal.ErrDimension) {
					t.Fatalf("%s: error without a hal sentinel: %v", name, err)
				}
			}
			if tb, err := readTable(p, "A"); err == nil {
				_, _, err = tb.square("A")
				check(err)
				_, err = tb.vector("b")
				check(err)
			} else {
				check(err)
			}
			if name == "in.json" {
				_, _, err := readProblemJSON(p)
				check(err)
			}
			_, err := loadProblem(p, p)
			check(err)
		}
	})
}
