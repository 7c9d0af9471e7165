package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"codeberg.org/sbinet/npyio/npy"
	"codeberg.org/sbinet/npyio/npz"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
)

// NumPy files are written with codeberg.org/sbinet/npyio (format 1.0,
// little-endian, C order), so any numpy reads them with np.load and no
// pickle. A .npz is a zip of .npy entries; string entries are 0-d unicode
// arrays (str(z["board"]) in Python).

// maxNPYValues bounds the values a .npy/.npz holds: they are kept in memory
// until the run ends (the header needs the final shape), 8 bytes each.
const maxNPYValues = 1 << 28

// npyFormat is what --out's extension asks for: "npy", "npz", or "" (CSV).
func npyFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return "npy"
	case ".npz":
		return "npz"
	}
	return ""
}

// npyRecorder keeps the samples of k cells, row by row, for a NumPy file.
type npyRecorder struct {
	k    int
	t, x []float64
}

func newNPYRecorder(n, k int) *npyRecorder {
	return &npyRecorder{k: k, t: make([]float64, 0, n), x: make([]float64, 0, n*k)}
}

func (r *npyRecorder) row(ts float64, x []float64) error {
	r.t = append(r.t, ts)
	r.x = append(r.x, x...)
	return nil
}

// rows is the number of samples recorded.
func (r *npyRecorder) rows() int { return len(r.t) }

// matrix is the samples as a rows × k matrix (rows ≥ 1: gonum refuses an
// empty one).
func (r *npyRecorder) matrix() *mat.Dense { return mat.NewDense(r.rows(), r.k, r.x) }

// npzEntry is one array of a .npz: a name (without ".npy") and a value
// npyio writes (a scalar, a string, a slice or a *mat.Dense).
type npzEntry struct {
	name  string
	value any
}

// writeNPY writes v as one .npy to w, buffered (npyio writes a matrix one
// element at a time).
func writeNPY(w io.Writer, v any) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := npy.Write(bw, v); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return bw.Flush()
}

// writeNPZ writes the entries, in order, as an uncompressed .npz to w.
func writeNPZ(w io.Writer, entries []npzEntry) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	zw := npz.NewWriter(bw)
	for _, e := range entries {
		if err := zw.Write(e.name+".npy", e.value); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// jsonString is v as compact JSON, for a .npz entry read with
// json.loads(str(z[name])).
func jsonString(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		// Only the package's own plain structs are passed.
		return fmt.Sprintf("%q", err.Error())
	}
	return string(data)
}

// createOut creates --out for writing, saying which flag it was.
func createOut(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	return f, nil
}

// sampleMeta is what a .npz records beside the samples.
type sampleMeta struct {
	b            hal.Board
	a, bias      []float64
	period, burn time.Duration
}

// sampleNPY is spu sample's sampling for a .npy or .npz --out: samples in
// memory, then the file. After an interrupt or a board error the samples
// read before it are written.
func (sf *sampleFlags) sampleNPY(ctx context.Context, m sampleMeta, file *os.File, stderr io.Writer) (*sampleStats, error) {
	rec := newNPYRecorder(sf.n, m.b.Info().Cells)
	prog := sf.progress(stderr)
	st, err := sampleTo(ctx, m.b, sf.n, m.period, rec.row, prog.set)
	prog.done()
	if rec.rows() == 0 {
		os.Remove(sf.out) // nothing to write: leave no empty file behind
		return nil, err
	}
	if werr := sf.writeSamples(file, rec, m, st); werr != nil {
		return nil, errors.Join(err, werr)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("interrupted; the %d samples read before it are in %s: %w", rec.rows(), sf.out, err)
	case err != nil:
		return nil, fmt.Errorf("%w; the %d samples read before it are in %s", err, rec.rows(), sf.out)
	}
	return st, nil
}

// writeSamples writes the recorded samples to file (--out) and closes it.
func (sf *sampleFlags) writeSamples(file *os.File, rec *npyRecorder, m sampleMeta, st *sampleStats) error {
	var err error
	if npyFormat(sf.out) == "npy" {
		err = writeNPY(file, rec.matrix())
	} else {
		err = writeNPZ(file, sf.npzEntries(rec, m, st))
	}
	if err == nil {
		err = file.Close()
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", sf.out, err)
	}
	return nil
}

// npzEntries are the arrays of spu sample's .npz (listed in sampleHelp).
func (sf *sampleFlags) npzEntries(rec *npyRecorder, m sampleMeta, st *sampleStats) []npzEntry {
	k := rec.k
	sat := make([]int64, k)
	for i, c := range st.sat {
		sat[i] = int64(c)
	}
	var calKey, calAt string
	if cb, ok := m.b.(calibration.Board); ok {
		c := cb.Calibration()
		calKey, calAt = c.Key, c.MeasuredAt.UTC().Format(time.RFC3339)
	}
	e := []npzEntry{
		{"x", rec.matrix()}, {"t_s", rec.t},
		{"board", sf.board}, {"info", jsonString(toInfoJSON(sf.board, m.b.Info(), capabilities(m.b)))},
		{"calibration", calKey}, {"calibration_measured_at", calAt},
		{"spu_version", currentVersion().String()},
		{"period_s", m.period.Seconds()}, {"burn_s", m.burn.Seconds()},
		{"samples", int64(rec.rows())}, {"saturated_per_cell", sat},
	}
	if m.a != nil {
		e = append(e, npzEntry{"couplings", mat.NewDense(k, k, m.a)})
	}
	if m.bias != nil {
		e = append(e, npzEntry{"bias", m.bias})
	}
	return e
}
