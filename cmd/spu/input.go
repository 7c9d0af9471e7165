package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/jsonfile"
	"github.com/spukit/spukit/solver"
)

// field is one entry of a table read from CSV or JSON, kept as text until
// the table's shape is known so that errors can name the entry.
type field struct {
	text      string // the number as written
	kind      string // "" for a number, else what JSON held instead ("string", "null", ...)
	line, col int    // position in a CSV file; 0 for JSON
}

// table is a list of rows as read from a file; rows may be ragged. Entries
// are parsed as they are read (a file is streamed, not held), so only the
// first entry that is not a finite number is kept as text, for the error
// that names it once the table's shape says what to call it.
type table struct {
	file   string
	format string    // how a CSV file was read ("comma-separated"), for errors; "" for JSON
	vals   []float64 // every entry, row after row (0 where bad)
	lens   []int     // entries per row
	lines  []int     // file line of each row; 0 for JSON
	bad    *badEntry
}

// badEntry is the first entry that is not a finite number.
type badEntry struct {
	row, col int
	f        field
}

// add appends one entry to the current row.
func (t *table) add(f field) {
	v, err := t.number(f, "")
	if err != nil && t.bad == nil {
		t.bad = &badEntry{row: len(t.lens) - 1, col: t.lens[len(t.lens)-1], f: f}
	}
	t.vals = append(t.vals, v)
	t.lens[len(t.lens)-1]++
}

// newRow starts a row read from line (0 for JSON).
func (t *table) newRow(line int) {
	t.lens = append(t.lens, 0)
	t.lines = append(t.lines, line)
}

// badError is the error for the bad entry, named by name(row, col).
func (t *table) badError(name func(i, j int) string) error {
	_, err := t.number(t.bad.f, name(t.bad.row, t.bad.col))
	return err
}

func isJSON(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".json") }

// jsonValue decodes one JSON document with numbers kept as json.Number.
func jsonValue(path string, data []byte) (any, error) {
	var v any
	if err := jsonfile.Decode(data, &v); err != nil {
		err = jsonfile.Invalid(err, hal.ErrInvalid)
		if je := (*jsonfile.Error)(nil); errors.As(err, &je) && je.Line > 0 {
			return nil, fmt.Errorf("%s %w", path, err) // "FILE line 2 column 3: ..."
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonField(v any) field {
	if n, ok := v.(json.Number); ok {
		return field{text: string(n)}
	}
	if s, ok := v.(string); ok {
		return field{text: strconv.Quote(s), kind: "string"}
	}
	return field{kind: jsonKind(v)}
}

// jsonTable turns a JSON array of arrays (a matrix) or of numbers (one row)
// into a table; what names the value in errors.
func jsonTable(path, what string, v any) (table, error) {
	t := table{file: path}
	arr, ok := v.([]any)
	if !ok {
		return t, fmt.Errorf("%s: %s is a JSON %s, want an array: %w", path, what, jsonKind(v), hal.ErrInvalid)
	}
	if len(arr) == 0 {
		return t, fmt.Errorf("%s: %s is empty: %w", path, what, hal.ErrDimension)
	}
	nested := false
	for _, e := range arr {
		if _, ok := e.([]any); ok {
			nested = true
			break
		}
	}
	if !nested {
		t.newRow(0)
		for _, e := range arr {
			t.add(jsonField(e))
		}
		return t, nil
	}
	for i, e := range arr {
		r, ok := e.([]any)
		if !ok {
			return t, fmt.Errorf("%s: %s row %d is a JSON %s, want an array of numbers: %w", path, what, i, jsonKind(e), hal.ErrInvalid)
		}
		t.newRow(0)
		for _, x := range r {
			t.add(jsonField(x))
		}
	}
	return t, nil
}

// readTable reads a CSV file, or a JSON file holding an array (of arrays).
func readTable(path, what string) (table, error) {
	if !isJSON(path) {
		return readCSV(path)
	}
	data, err := readFile(path)
	if err != nil {
		return table{}, err
	}
	v, err := jsonValue(path, data)
	if err != nil {
		return table{}, err
	}
	if m, ok := v.(map[string]any); ok {
		// {"a": ..., "b": ...}: pick the one asked for.
		key := strings.ToLower(what)
		if len(m) == 1 {
			for k := range m {
				key = k
			}
		}
		inner, ok := m[key]
		if !ok {
			return table{}, fmt.Errorf("%s: no %q in the JSON object: %w", path, key, hal.ErrInvalid)
		}
		v = inner
	}
	return jsonTable(path, what, v)
}

// readProblemJSON reads {"a": [[...]], "b": [...]} (b optional).
func readProblemJSON(path string) (a, b *table, err error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	v, err := jsonValue(path, data)
	if err != nil {
		return nil, nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		t, err := jsonTable(path, "A", v)
		return &t, nil, err
	}
	for k := range m {
		if k != "a" && k != "b" {
			return nil, nil, fmt.Errorf("%s: unknown field %q (known: \"a\", \"b\"): %w", path, k, hal.ErrInvalid)
		}
	}
	av, ok := m["a"]
	if !ok {
		return nil, nil, fmt.Errorf("%s: no field \"a\" (want {\"a\": [[...]], \"b\": [...]}): %w", path, hal.ErrInvalid)
	}
	at, err := jsonTable(path, "A", av)
	if err != nil {
		return nil, nil, err
	}
	a = &at
	if bv, ok := m["b"]; ok {
		bt, err := jsonTable(path, "b", bv)
		if err != nil {
			return nil, nil, err
		}
		b = &bt
	}
	return a, b, nil
}

// where says where a field came from, for error messages.
func (t table) where(f field) string {
	if f.line > 0 {
		return fmt.Sprintf("%s line %d column %d, read as %s", t.file, f.line, f.col, t.format)
	}
	return t.file
}

// name is the file and, for CSV, how it was read.
func (t table) name() string {
	if t.format != "" {
		return t.file + ", " + t.format
	}
	return t.file
}

// number converts one field, naming entry in errors.
func (t table) number(f field, entry string) (float64, error) {
	if f.kind != "" {
		return 0, fmt.Errorf("%s = %s (%s): a JSON %s, want a number: %w", entry, orKind(f), t.file, f.kind, hal.ErrInvalid)
	}
	if f.text == "" {
		return 0, fmt.Errorf("%s is empty (%s): want a number: %w", entry, t.where(f), hal.ErrInvalid)
	}
	v, err := strconv.ParseFloat(f.text, 64)
	if err != nil && !math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s = %q (%s): not a number: %w", entry, f.text, t.where(f), hal.ErrInvalid)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s = %s (%s, written %q): every entry must be a finite number: %w",
			entry, strconv.FormatFloat(v, 'g', -1, 64), t.where(f), f.text, hal.ErrInvalid)
	}
	return v, nil
}

func orKind(f field) string {
	if f.text != "" {
		return f.text
	}
	return f.kind
}

// square converts the table to a row-major n × n matrix named name.
func (t table) square(name string) ([]float64, int, error) {
	n := len(t.lens)
	if n == 0 {
		return nil, 0, fmt.Errorf("%s (%s) is empty: %w", name, t.file, hal.ErrDimension)
	}
	for i, c := range t.lens {
		if c != t.lens[0] {
			at := ""
			if t.lines[i] > 0 {
				at = fmt.Sprintf(" (line %d)", t.lines[i])
			}
			return nil, 0, fmt.Errorf("%s (%s) is ragged: row %d%s has %d entries but row 0 has %d: %w",
				name, t.name(), i, at, c, t.lens[0], hal.ErrDimension)
		}
	}
	if c := t.lens[0]; c != n {
		return nil, 0, fmt.Errorf("%s (%s) is %d×%d: want a square matrix: %w", name, t.name(), n, c, hal.ErrDimension)
	}
	if t.bad != nil {
		return nil, 0, t.badError(func(i, j int) string { return fmt.Sprintf("%s[%d][%d]", name, i, j) })
	}
	return t.vals, n, nil
}

// vector converts a table holding one row or one column to a vector.
func (t table) vector(name string) ([]float64, error) {
	if len(t.lens) > 1 {
		for i, c := range t.lens {
			if c != 1 {
				return nil, fmt.Errorf("%s (%s) must be one row or one column, but row %d has %d entries: %w",
					name, t.name(), i, c, hal.ErrDimension)
			}
		}
	}
	if len(t.vals) == 0 {
		return nil, fmt.Errorf("%s (%s) is empty: %w", name, t.file, hal.ErrDimension)
	}
	if t.bad != nil {
		return nil, t.badError(func(i, j int) string { return fmt.Sprintf("%s[%d]", name, i+j) })
	}
	return append([]float64(nil), t.vals...), nil
}

// parseVectorArg reads a vector given on the command line either as a
// comma-separated list ("0.1,0,-0.2") or as the name of a CSV/JSON file.
// An existing file wins; otherwise text with a comma or a single number is
// a list.
func parseVectorArg(arg, name string) ([]float64, error) {
	if _, err := os.Stat(arg); err == nil {
		t, err := readTable(arg, name)
		if err != nil {
			return nil, err
		}
		return t.vector(name)
	}
	_, perr := strconv.ParseFloat(strings.TrimSpace(arg), 64)
	if !strings.Contains(arg, ",") && perr != nil && !errors.Is(perr, strconv.ErrRange) {
		// Neither a list nor a number: it was meant as a file.
		_, err := os.Stat(arg)
		return nil, fmt.Errorf("--%s %q is neither a file nor a comma-separated list of numbers: %w", name, arg, err)
	}
	t := table{file: "--" + name}
	t.newRow(0)
	for _, p := range strings.Split(arg, ",") {
		t.add(field{text: strings.TrimSpace(p)})
	}
	return t.vector(name)
}

// problem is a linear system A x = b.
type problem struct {
	n      int
	a      []float64 // n × n row-major
	b      []float64
	source string // where it came from, for the report
	aName  string // where A came from, for errors
}

// loadProblem reads A and b from files: --a FILE [--b FILE]. A JSON --a
// may hold both ({"a": ..., "b": ...}).
func loadProblem(aPath, bPath string) (problem, error) {
	var at, bt *table
	if isJSON(aPath) {
		var err error
		at, bt, err = readProblemJSON(aPath)
		if err != nil {
			return problem{}, fmt.Errorf("--a: %w", err)
		}
		if bt != nil && bPath != "" {
			return problem{}, usagef("%s holds b and --b %s gives it again: give b once", aPath, bPath)
		}
	} else {
		t, err := readTable(aPath, "A")
		if err != nil {
			return problem{}, fmt.Errorf("--a: %w", err)
		}
		at = &t
	}
	if bt == nil {
		if bPath == "" {
			return problem{}, usagef("--a %s holds no b: give --b FILE, or put \"b\" in a JSON --a file", aPath)
		}
		t, err := readTable(bPath, "b")
		if err != nil {
			return problem{}, fmt.Errorf("--b: %w", err)
		}
		bt = &t
	}
	a, n, err := at.square("A")
	if err != nil {
		return problem{}, err
	}
	b, err := bt.vector("b")
	if err != nil {
		return problem{}, err
	}
	if len(b) != n {
		return problem{}, fmt.Errorf("b (%s) has %d entries but A (%s) is %d×%d: want %d: %w",
			bt.file, len(b), at.file, n, n, n, hal.ErrDimension)
	}
	src := aPath
	if bPath != "" {
		src += " " + bPath
	}
	return problem{n: n, a: a, b: b, source: src, aName: aPath}, nil
}

// randomProblem is solver.RandomSPDContext as a problem; ctx cancels its
// O(n³) generation.
func randomProblem(ctx context.Context, n int, cond float64, seed uint64) (problem, error) {
	a, b, err := solver.RandomSPDContext(ctx, n, cond, seed)
	if err != nil {
		return problem{}, err
	}
	src := fmt.Sprintf("random n=%d cond=%g seed=%d", n, cond, seed)
	return problem{n: n, a: a.RawMatrix().Data, b: b, source: src, aName: src}, nil
}
