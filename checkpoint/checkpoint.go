// Package checkpoint stores a training run's state in a versioned file,
// written atomically so that a crash or a full disk never leaves a
// half-written checkpoint in place of a good one.
//
// # File format (version 1)
//
//	offset  size  content
//	0       8     magic "SPUCKPT\n"
//	8       4     format version, uint32 little-endian (1)
//	12      4     header length H, uint32 little-endian (≤ 16 MiB)
//	16      H     header: JSON (Header), naming each array and its length
//	16+H    8·n   the arrays' float64 values, little-endian, in header order
//	end-4   4     CRC-32 (Castagnoli) of every byte before it
//
// The reader checks the magic, version, header length against the file
// size, the arrays' total length against the bytes present and the CRC
// before it allocates anything array-sized.
//
// # Directory layout and atomicity
//
// Save writes DIR/checkpoint.spuck.tmp-*, fsyncs it, renames the current
// DIR/checkpoint.spuck (if any) to DIR/checkpoint.prev.spuck, renames the new
// file into place and fsyncs the directory. A failure at any step leaves the
// previous checkpoint readable; Load falls back to checkpoint.prev.spuck when
// checkpoint.spuck is missing or damaged, and says so.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spukit/spukit/internal/atomicfile"
)

// Version is the file format version Save writes.
const Version = 1

// File names inside a checkpoint directory.
const (
	FileName = "checkpoint.spuck"
	PrevName = "checkpoint.prev.spuck"
)

const (
	magic        = "SPUCKPT\n"
	maxHeader    = 16 << 20
	maxFile      = 1 << 30
	fixedPrefix  = len(magic) + 4 + 4
	trailerBytes = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors wrapped by Load and Save.
var (
	// ErrCorrupt: the file is not a checkpoint, or is truncated or damaged.
	ErrCorrupt = errors.New("checkpoint corrupt")
	// ErrVersion: written by an incompatible format version.
	ErrVersion = errors.New("checkpoint format version not supported")
	// ErrNotFinite: Save refuses state holding NaN or ±Inf, so a diverged
	// run never replaces the last good checkpoint.
	ErrNotFinite = errors.New("non-finite value in checkpoint state")
)

// Model describes the network whose parameters θ the checkpoint holds.
type Model struct {
	Sizes      []int  `json:"sizes"`
	Activation string `json:"activation"`
	// Init names how the initial parameters were drawn ("he", "torch",
	// "glorot"). Checkpoints written before it existed lack the key and
	// read as ""; those runs all used "he" (see DefaultInit).
	Init string `json:"init,omitempty"`
}

// DefaultInit is the initialisation of checkpoints whose header has no
// "init" (all of them drew their parameters this way).
const DefaultInit = "he"

// InitName returns m.Init, or DefaultInit for a checkpoint written before
// the field existed.
func (m Model) InitName() string {
	if m.Init == "" {
		return DefaultInit
	}
	return m.Init
}

// Array names the float64 arrays a Checkpoint's binary part holds, in
// order, and their lengths.
type Array struct {
	Name string `json:"name"`
	Len  int    `json:"len"`
}

// Header is the JSON part of the file.
type Header struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Model   Model     `json:"model"`
	// Optimizer is the optimiser's name ("adam", "tngd", …).
	Optimizer string `json:"optimizer"`
	// OptimizerStateful says whether the optimiser's state is in the
	// "optimizer" array; false for stateless optimisers and for those
	// whose state is not saved (then a resume is not bit-identical).
	OptimizerStateful bool `json:"optimizer_stateful"`
	// Iteration is the number of completed steps; Epoch the number of
	// completed passes over the data. The data order is a function of
	// the seed and the epoch, so these reproduce it.
	Iteration int    `json:"iteration"`
	Epoch     int    `json:"epoch"`
	Seed      uint64 `json:"seed"`
	// Config is the run's configuration as the caller recorded it; a
	// resume compares it with the new one.
	Config json.RawMessage `json:"config,omitempty"`
	// Extra holds whatever else the caller carries across a resume
	// (running totals, evaluation history).
	Extra json.RawMessage `json:"extra,omitempty"`
	// Arrays lists the binary part.
	Arrays []Array `json:"arrays"`
}

// Checkpoint is a header and the arrays it names. Save fills Version,
// Created and Arrays from Theta and OptimizerState.
type Checkpoint struct {
	Header
	Theta          []float64
	OptimizerState []float64
}

// Marshal returns the file image of c.
func (c *Checkpoint) Marshal() ([]byte, error) {
	for name, a := range map[string][]float64{"theta": c.Theta, "optimizer": c.OptimizerState} {
		for i, v := range a {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("checkpoint: %s[%d] = %g: %w", name, i, v, ErrNotFinite)
			}
		}
	}
	h := c.Header
	h.Version = Version
	if h.Created.IsZero() {
		h.Created = time.Now().UTC()
	}
	h.Arrays = []Array{{"theta", len(c.Theta)}, {"optimizer", len(c.OptimizerState)}}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false) // keep '&' in board URIs readable
	if err := enc.Encode(h); err != nil {
		return nil, fmt.Errorf("checkpoint header: %w", err)
	}
	hj := bytes.TrimSuffix(hb.Bytes(), []byte("\n"))
	if len(hj) > maxHeader {
		return nil, fmt.Errorf("checkpoint header is %d bytes, more than %d", len(hj), maxHeader)
	}
	buf := bytes.NewBuffer(make([]byte, 0, fixedPrefix+len(hj)+8*(len(c.Theta)+len(c.OptimizerState))+trailerBytes))
	buf.WriteString(magic)
	binary.Write(buf, binary.LittleEndian, uint32(Version))
	binary.Write(buf, binary.LittleEndian, uint32(len(hj)))
	buf.Write(hj)
	var b [8]byte
	for _, a := range [][]float64{c.Theta, c.OptimizerState} {
		for _, v := range a {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			buf.Write(b[:])
		}
	}
	binary.Write(buf, binary.LittleEndian, crc32.Checksum(buf.Bytes(), castagnoli))
	return buf.Bytes(), nil
}

// Unmarshal parses a file image, validating it completely.
func Unmarshal(data []byte) (*Checkpoint, error) {
	if len(data) < fixedPrefix+trailerBytes || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("not a spukit checkpoint (no %q magic): %w", strings.TrimSpace(magic), ErrCorrupt)
	}
	v := binary.LittleEndian.Uint32(data[len(magic):])
	if v != Version {
		return nil, fmt.Errorf("format version %d, this build reads %d: %w", v, Version, ErrVersion)
	}
	body, trailer := data[:len(data)-trailerBytes], data[len(data)-trailerBytes:]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(trailer); got != want {
		return nil, fmt.Errorf("CRC mismatch (truncated or damaged file): %w", ErrCorrupt)
	}
	hl := int64(binary.LittleEndian.Uint32(data[len(magic)+4:]))
	if hl > maxHeader || int64(fixedPrefix)+hl > int64(len(body)) {
		return nil, fmt.Errorf("header length %d does not fit the %d-byte file: %w", hl, len(data), ErrCorrupt)
	}
	c := &Checkpoint{}
	dec := json.NewDecoder(bytes.NewReader(body[fixedPrefix : fixedPrefix+int(hl)]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.Header); err != nil {
		return nil, fmt.Errorf("header: %v: %w", err, ErrCorrupt)
	}
	if c.Version != Version {
		return nil, fmt.Errorf("header says version %d, file says %d: %w", c.Version, v, ErrCorrupt)
	}
	payload := body[fixedPrefix+int(hl):]
	var total int64
	for _, a := range c.Arrays {
		if a.Len < 0 || int64(a.Len) > int64(len(payload))/8 {
			return nil, fmt.Errorf("array %q of %d values does not fit the file: %w", a.Name, a.Len, ErrCorrupt)
		}
		total += int64(a.Len)
	}
	if total*8 != int64(len(payload)) {
		return nil, fmt.Errorf("arrays hold %d values but the file has %d bytes for them: %w", total, len(payload), ErrCorrupt)
	}
	if len(c.Arrays) != 2 || c.Arrays[0].Name != "theta" || c.Arrays[1].Name != "optimizer" {
		return nil, fmt.Errorf("arrays %v, want theta and optimizer: %w", c.Arrays, ErrCorrupt)
	}
	read := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(payload[8*i:]))
		}
		payload = payload[8*n:]
		return out
	}
	c.Theta = read(c.Arrays[0].Len)
	c.OptimizerState = read(c.Arrays[1].Len)
	return c, nil
}

// Test hooks for fault injection.
var (
	syncFile = (*os.File).Sync
	rename   = os.Rename
)

// Save writes c to dir (created if needed) atomically, keeping the
// checkpoint it replaces as checkpoint.prev.spuck. It returns the path
// written.
func Save(dir string, c *Checkpoint) (string, error) {
	data, err := c.Marshal()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// 0666 less the umask, like calibrations and plots (os.CreateTemp
	// would make it 0600 whatever the umask).
	tmp, err := atomicfile.CreateTemp(dir, FileName+".tmp-", "")
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return "", fmt.Errorf("checkpoint: write %s: %w", tmp.Name(), err)
	}
	if err := syncFile(tmp); err != nil {
		return "", fmt.Errorf("checkpoint: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("checkpoint: close %s: %w", tmp.Name(), err)
	}
	if _, err := os.Stat(path); err == nil {
		if err := rename(path, filepath.Join(dir, PrevName)); err != nil {
			return "", fmt.Errorf("checkpoint: keep the previous checkpoint: %w", err)
		}
	}
	if err := rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	done = true
	// Make the renames durable; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return path, nil
}

// Load reads the checkpoint in dir: checkpoint.spuck, or
// checkpoint.prev.spuck when that is missing or damaged (a crash between
// Save's renames, or a damaged disk). It returns the path it read.
func Load(dir string) (*Checkpoint, string, error) {
	path := filepath.Join(dir, FileName)
	c, err := ReadFile(path)
	if err == nil {
		return c, path, nil
	}
	prev := filepath.Join(dir, PrevName)
	pc, perr := ReadFile(prev)
	if perr == nil {
		return pc, prev, nil
	}
	if errors.Is(err, os.ErrNotExist) && errors.Is(perr, os.ErrNotExist) {
		return nil, "", fmt.Errorf("no checkpoint in %s (no %s or %s): %w", dir, FileName, PrevName, os.ErrNotExist)
	}
	if errors.Is(perr, os.ErrNotExist) {
		return nil, "", err
	}
	return nil, "", fmt.Errorf("%w; and the previous one: %w", err, perr)
}

// ReadFile reads and validates one checkpoint file.
func ReadFile(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	// The size comes from the file system, not from the file's contents.
	if fi.Size() > maxFile {
		return nil, fmt.Errorf("checkpoint %s: %d bytes, more than %d: %w", path, fi.Size(), maxFile, ErrCorrupt)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	c, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return c, nil
}
