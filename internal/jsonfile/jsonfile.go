// Package jsonfile decodes the JSON files users write by hand — profiles,
// wirings, problems — strictly, with errors that say where: line and
// column of a syntax error, the field of a type error, unknown fields, and
// data after the value. Malformed input is an *Error; a caller adds the
// sentinel of its own contract with Invalid (a profile that is not valid
// JSON is hal.ErrInvalid to hal.Open, say), so this generic helper does not
// speak for the board contract.
package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Error reports malformed input: a file over the size limit, invalid JSON,
// a value of the wrong type, an unknown field or data after the value.
type Error struct {
	// Line and Column locate the problem (1-based; columns count bytes),
	// or are 0 when it has no position in the text.
	Line, Column int
	// Msg says what is wrong (for a type error, naming the field).
	Msg string
	// Err is encoding/json's error behind it, if any.
	Err error
}

// Error returns "line L column C: Msg", or Msg without a position.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d column %d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// Unwrap returns encoding/json's error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Invalid returns err marked with the caller's sentinel as well when it is
// an *Error (errors.Is then finds both, and the message ends with the
// sentinel's text), and err unchanged otherwise (an I/O error of Read is
// not malformed input).
func Invalid(err, sentinel error) error {
	var e *Error
	if errors.As(err, &e) {
		return fmt.Errorf("%w: %w", err, sentinel)
	}
	return err
}

// MaxBytes bounds the hand-written JSON files read with Read: profiles
// and wirings are a few kB, so a larger file is a mistake (the wrong file,
// or generated data), and reading it whole would let a file exhaust memory.
const MaxBytes = 1 << 20

// Read reads all of r, which must hold at most limit bytes. A longer input
// is an *Error that names the limit: cutting it there silently would
// report "unexpected end of JSON" far from the cause.
func Read(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &Error{Msg: fmt.Sprintf("the file is larger than the limit of %s for this kind of file", byteSize(limit))}
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
// Every error is an *Error.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeError(data, err)
	}
	// The offset after the value, past white space, is where extra data starts.
	off := dec.InputOffset()
	for off < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n"), data[off]) >= 0 {
		off++
	}
	if off < int64(len(data)) {
		return at(data, off, &Error{Msg: "data after the JSON value"})
	}
	return nil
}

// decodeError turns an error of encoding/json's Decode into an *Error.
func decodeError(data []byte, err error) *Error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read including the bad one.
		return at(data, max(se.Offset-1, 0), &Error{Msg: se.Error(), Err: err})
	case errors.As(err, &te):
		return &Error{Msg: fmt.Sprintf("field %q: got JSON %s, want %s", te.Field, te.Value, te.Type), Err: err}
	case errors.Is(err, io.EOF):
		return &Error{Msg: "empty file", Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return at(data, int64(len(data)), &Error{Msg: "unexpected end of JSON", Err: err})
	}
	// Unknown fields come as plain errors naming the field.
	return &Error{Msg: err.Error(), Err: err}
}

// at sets e's position to byte offset off of data.
func at(data []byte, off int64, e *Error) *Error {
	e.Line, e.Column = Position(data, off)
	return e
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
