package spice

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ErrNotFound is returned by Find when no ngspice is on the PATH.
var ErrNotFound = errors.New("ngspice not found on PATH (Debian's ngspice package brings it: apt-get install ngspice)")

// Find returns the path of the ngspice binary.
func Find() (string, error) {
	p, err := exec.LookPath("ngspice")
	if err != nil {
		return "", ErrNotFound
	}
	return p, nil
}

// Trace is a run's output: the time grid and one column per vector.
type Trace struct {
	Names []string
	T     []float64
	V     [][]float64 // V[vector][row]
}

// Result is one finished run: its trace, and whether its noise is
// reproducible from the seed (see Run).
type Result struct {
	Trace
	Reproducible bool
}

var (
	pidOnce sync.Once
	pidWrap []string
)

// fixedPID returns a command prefix that runs ngspice as process
// seed+1 of a new user and PID namespace, or nil where namespaces are not
// allowed.
//
// Why: ngspice's Wallace generator (src/frontend/trannoise/wallace.c,
// initw) fills its pool of 4096 Gaussian variates at start-up from
// srand(getpid()) (main.c), before any `setseed`, `.options seed` or
// .spiceinit is read; `setseed` only reseeds the Tausworthe stream that
// picks one read offset per pass. So trnoise is not reproducible run to
// run unless the PID is fixed — and runs with one PID and different
// setseed values are not independent: two 1.5·10⁵-variate runs at PID 1
// with setseed 1 and 2 correlate at 0.90 (ngspice 39.3, 2026-12-06).
// The PID is therefore set from the seed: the namespace's first process
// (sh, PID 1) forks seed−1 short-lived processes (PIDs 2…seed) and then
// starts ngspice, which gets PID seed+1 (started with & and waited for, so
// that a shell that execs its last command cannot give it PID 1 instead).
// Different seeds give independent
// initial pools (runs at PIDs 1, 23 and 29 correlate at ≤ 0.018, the
// 1/√4096 expected of two independent pools).
func fixedPID(seed int) []string {
	pidOnce.Do(func() {
		w := []string{"unshare", "--user", "--pid", "--fork", "--map-root-user"}
		if exec.Command(w[0], append(w[1:], "true")...).Run() == nil {
			pidWrap = w
		}
	})
	if pidWrap == nil {
		return nil
	}
	return append(append([]string(nil), pidWrap...), "sh", "-c",
		`n=$1; shift; while [ "$n" -gt 0 ]; do /bin/true; n=$((n-1)); done; "$@" & wait $!`,
		"sh", strconv.Itoa(seed-1))
}

// MaxSeed bounds Transient.Seed: the seed becomes ngspice's process id in
// its namespace (fixedPID), one fork per unit.
const MaxSeed = 10000

// Run writes c's netlist into a temporary directory, runs ngspice in
// batch mode there and returns the node voltages (and filter outputs) on
// the grid of multiples of tr.Step. The run is reproducible from tr.Seed
// where the machine allows a fixed PID (Result.Reproducible), and runs
// with different seeds are independent; elsewhere the noise is a fresh
// draw each run with the same statistics.
func Run(ctx context.Context, c *Circuit, tr Transient) (*Result, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "spukit-spice-")
	if err != nil {
		return nil, fmt.Errorf("ngspice run: %w", err)
	}
	defer os.RemoveAll(dir)
	net, err := c.Netlist(tr, "out.txt")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "in.cir"), []byte(net), 0o600); err != nil {
		return nil, fmt.Errorf("ngspice run: %w", err)
	}
	wrap := fixedPID(tr.Seed)
	argv := append(wrap, bin, "-b", "in.cir")
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ngspice -b (%d nodes, %g s): %w\n%s", c.K(), tr.Stop, err, tail(log.String(), 2000))
	}
	f, err := os.Open(filepath.Join(dir, "out.txt"))
	if err != nil {
		return nil, fmt.Errorf("ngspice wrote no output: %w\n%s", err, tail(log.String(), 2000))
	}
	defer f.Close()
	t, err := ParseWrdata(f)
	if err != nil {
		return nil, err
	}
	if want := c.Vectors(); strings.Join(t.Names, " ") != strings.Join(want, " ") {
		return nil, fmt.Errorf("ngspice output has vectors %v, want %v", t.Names, want)
	}
	return &Result{Trace: *t, Reproducible: wrap != nil}, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// ParseWrdata reads ngspice's `wrdata` output written with wr_singlescale
// and wr_vecnames: a header "time v(a) v(b) …", then one row per time
// point of the scale followed by each vector's value.
func ParseWrdata(r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("wrdata: %w", err)
		}
		return nil, fmt.Errorf("wrdata: empty output")
	}
	head := strings.Fields(sc.Text())
	if len(head) < 2 || head[0] != "time" {
		return nil, fmt.Errorf("wrdata: header %q: want \"time\" and at least one vector", sc.Text())
	}
	t := &Trace{Names: head[1:], V: make([][]float64, len(head)-1)}
	line := 1
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != len(head) {
			return nil, fmt.Errorf("wrdata line %d: %d fields, want %d", line, len(f), len(head))
		}
		for c, s := range f {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("wrdata line %d, column %d: %w", line, c+1, err)
			}
			if c == 0 {
				t.T = append(t.T, v)
			} else {
				t.V[c-1] = append(t.V[c-1], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wrdata: %w", err)
	}
	return t, nil
}

// Require returns ngspice's path for a test that compares against it, or
// skips the test where ngspice is missing. Under CI=true a missing ngspice
// fails the test instead: CI always runs the circuit-simulator comparison.
func Require(tb testing.TB) string {
	tb.Helper()
	p, err := Find()
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true and %v: CI must run the circuit-simulator comparison", err)
	}
	tb.Skipf("circuit-simulator comparison skipped: %v", err)
	return ""
}
