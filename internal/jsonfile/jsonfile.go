// Package jsonfile decodes the JSON files users write by hand — profiles,
// wirings, problems — strictly, with errors that say where: line and
// column of a syntax error, the field of a type error, unknown fields, and
// data after the value. Every error wraps hal.ErrInvalid.
package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spukit/spukit/hal"
)

// MaxBytes bounds the hand-written JSON files read with Read: profiles
// and wirings are a few kB, so a larger file is a mistake (the wrong file,
// or generated data), and reading it whole would let a file exhaust memory.
const MaxBytes = 1 << 20

// Read reads all of r, which must hold at most limit bytes. A longer input
// is an error (wrapping hal.ErrInvalid) that names the limit: cutting it
// there silently would report "unexpected end of JSON" far from the cause.
func Read(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("the file is larger than the limit of %s for this kind of file: %w", byteSize(limit), hal.ErrInvalid)
	}
	return data, nil
}

// byteSize writes n bytes as "1 MiB", "64 KiB" or "1000 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Decode decodes the single JSON value in data into v. Unknown object
// fields are errors (for struct targets); numbers decoded into interface
// values are json.Number, so nothing is rounded before it is checked.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			// Offset counts the bytes read including the bad one.
			line, col := Position(data, max(se.Offset-1, 0))
			return fmt.Errorf("line %d column %d: %v: %w", line, col, se, hal.ErrInvalid)
		case errors.As(err, &te):
			return fmt.Errorf("field %q: got JSON %s, want %s: %w", te.Field, te.Value, te.Type, hal.ErrInvalid)
		case errors.Is(err, io.EOF):
			return fmt.Errorf("empty file: %w", hal.ErrInvalid)
		case errors.Is(err, io.ErrUnexpectedEOF):
			line, col := Position(data, int64(len(data)))
			return fmt.Errorf("line %d column %d: unexpected end of JSON: %w", line, col, hal.ErrInvalid)
		}
		// Unknown fields come as plain errors naming the field.
		return fmt.Errorf("%v: %w", err, hal.ErrInvalid)
	}
	// The offset after the value, past white space, is where extra data starts.
	off := dec.InputOffset()
	for off < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n"), data[off]) >= 0 {
		off++
	}
	if off < int64(len(data)) {
		line, col := Position(data, off)
		return fmt.Errorf("line %d column %d: data after the JSON value: %w", line, col, hal.ErrInvalid)
	}
	return nil
}

// Position converts a byte offset in data into a 1-based line and column
// (columns count bytes).
func Position(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
