package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/jsonfile"
)

// maxInputBytes bounds the size of a matrix or vector file.
const maxInputBytes = 64 << 20

// csvHelp says which delimiters and lines a CSV file may have (spu help
// solve, spu help sample).
const csvHelp = `A CSV file (any name not ending in .json) separates numbers by commas
(1,2), semicolons (1;2; decimal commas are then read too: 1,5;2), tabs, or
spaces (np.savetxt's default); the first line with data decides which. A
first line of only text (x0,x1,x2) is a header and skipped, as are blank
lines and lines starting with #.
`

// readFile reads a whole (JSON) input file, refusing one over
// maxInputBytes with the limit in the message.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := jsonfile.Read(f, maxInputBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, jsonfile.Invalid(err, hal.ErrInvalid))
	}
	return data, nil
}

// delimiter is how the fields of a CSV line are separated.
type delimiter struct {
	name string
	sep  byte // 0: runs of spaces and tabs
}

// sniff picks the delimiter from the first line with data: a semicolon
// wins (semicolon files may use decimal commas), then a comma, then a tab,
// else runs of whitespace.
func sniff(line []byte) delimiter {
	switch {
	case bytes.IndexByte(line, ';') >= 0:
		return delimiter{"semicolon-separated", ';'}
	case bytes.IndexByte(line, ',') >= 0:
		return delimiter{"comma-separated", ','}
	case bytes.IndexByte(line, '\t') >= 0:
		return delimiter{"tab-separated", '\t'}
	}
	return delimiter{"space-separated", 0}
}

// fields splits line into fields with their 1-based byte columns. Space-
// and tab-separated fields are trimmed; quotes around a field are dropped.
// The slices passed to emit point into line.
func (d delimiter) fields(line []byte, emit func(text []byte, col int)) {
	if d.sep == 0 {
		for i := 0; i < len(line); {
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' {
				j++
			}
			if j > i {
				emit(unquote(line[i:j]), i+1)
			}
			i = j
		}
		return
	}
	for start := 0; ; {
		end := bytes.IndexByte(line[start:], d.sep)
		if end < 0 {
			end = len(line)
		} else {
			end += start
		}
		f := line[start:end]
		col := start + 1 + len(f) - len(bytes.TrimLeft(f, " \t"))
		f = unquote(bytes.TrimSpace(f))
		if d.sep == ';' && bytes.Count(f, []byte(",")) == 1 && bytes.IndexByte(f, '.') < 0 {
			f[bytes.IndexByte(f, ',')] = '.' // a decimal comma
		}
		emit(f, col)
		if end == len(line) {
			return
		}
		start = end + 1
	}
}

func unquote(s []byte) []byte {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return bytes.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// isHeader reports whether every field of a line is text, not a number:
// a header row such as x0,x1 or "a";"b".
func isHeader(d delimiter, line []byte) bool {
	header, n := true, 0
	d.fields(bytes.Clone(line), func(text []byte, _ int) {
		n++
		if _, err := strconv.ParseFloat(string(text), 64); err == nil || errors.Is(err, strconv.ErrRange) || len(text) == 0 {
			header = false
		}
	})
	return header && n > 0
}

// addCSV appends one CSV entry. A finite number is parsed without keeping
// its text (string(b) of a short b that does not escape is not allocated);
// anything else goes through add, which keeps the first bad entry.
func (t *table) addCSV(b []byte, line, col int) {
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		t.add(field{text: string(b), line: line, col: col})
		return
	}
	t.vals = append(t.vals, v)
	t.lens[len(t.lens)-1]++
}

// readCSV streams rows of numbers from a file: the delimiter is taken from
// the first line with data, a first line of only text is a header and
// skipped, blank lines and lines starting with # are skipped. Memory is the
// numbers (8 bytes each) and one line, not the file.
func readCSV(path string) (table, error) {
	t := table{file: path}
	fh, err := os.Open(path)
	if err != nil {
		return t, err
	}
	defer fh.Close()
	size := int64(maxInputBytes)
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
		if fi.Size() > maxInputBytes {
			return t, fmt.Errorf("%s: larger than %d MiB: %w", path, maxInputBytes>>20, hal.ErrInvalid)
		}
		size = fi.Size()
	}
	sc := bufio.NewScanner(io.LimitReader(fh, maxInputBytes+1))
	sc.Buffer(make([]byte, 0, 64<<10), maxInputBytes+1)
	var d delimiter
	read, data := int64(0), false
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		read += int64(len(text)) + 1
		if s := bytes.TrimSpace(text); len(s) == 0 || s[0] == '#' {
			continue
		}
		if !data {
			d, data = sniff(text), true
			t.format = fmt.Sprintf("%s (from line %d)", d.name, line)
			if isHeader(d, text) {
				t.format += fmt.Sprintf(", header line %d skipped", line)
				continue
			}
		}
		t.newRow(line)
		d.fields(text, func(b []byte, col int) { t.addCSV(b, line, col) })
		if len(t.lens) == 1 {
			// A square matrix holds the first row's width squared numbers;
			// no file holds more than one per two bytes.
			t.vals = append(make([]float64, 0, min(t.lens[0]*t.lens[0], int(size/2)+1)), t.vals...)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = hal.ErrInvalid
		}
		return t, fmt.Errorf("%s: %w", path, err)
	}
	if read > maxInputBytes {
		return t, fmt.Errorf("%s: larger than %d MiB: %w", path, maxInputBytes>>20, hal.ErrInvalid)
	}
	if len(t.lens) == 0 {
		return t, fmt.Errorf("%s: no numbers in the file: %w", path, hal.ErrDimension)
	}
	return t, nil
}
