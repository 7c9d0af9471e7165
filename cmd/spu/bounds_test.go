package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFlagBounds has one case per row of the "Flag bounds" table of
// docs/errors.md, in the same order.
func TestFlagBounds(t *testing.T) {
	dir := t.TempDir()
	metrics := write(t, dir, "a.jsonl", `{"iteration":0,"epoch":0,"test_loss":2.3,"test_accuracy":0.1,"wall_s":0,"digital_s":0,"board_time_s":0}`+"\n")
	runDocTable(t, "## Flag bounds", []docCase{
		{"Board given to report", []string{"report", "--run", "a=" + metrics, "--out", filepath.Join(dir, "r.md"), "--img", dir, "--board", "sim:ideal"},
			exitUsage, []string{"spu report: flag provided but not defined: -board (see 'spu report -h')", "invalid argument"}},
		{"Report test-set size out of range", []string{"report", "--run", "a=" + metrics, "--out", filepath.Join(dir, "r.md"), "--img", dir, "--test-size", "0"},
			exitUsage, []string{"spu report: --test-size 0: want 1..10000 (the MNIST test set; give spu train's --test-size)", "invalid argument"}},
		{"Board given to version", []string{"version", "--board", "sim:ideal"},
			exitUsage, []string{"spu version: flag provided but not defined: -board"}},
		{"Too many batches", []string{"solve", "--random", "8", "--batches", "1000000000"},
			exitUsage, []string{"spu solve: --batches 1000000000: at most 10000", "1/√(2(B−1))", "invalid argument"}},
		{"Burn-in too long", []string{"sample", "--burn", "1000000h"},
			exitUsage, []string{"spu sample: --burn 1000000h0m0s is 3.6e+13 τ on this board (τ = 100µs): at most 10⁷ τ (16m40s here)", "relaxation times"}},
		{"Too many samples", []string{"sample", "--n", "100000001"},
			exitUsage, []string{"spu sample: --n 100000001: at most 100000000 samples per run (about 130 bytes of CSV each"}},
		{"Sampling too long", []string{"sample", "--n", "100000000", "--period", "1s"},
			exitUsage, []string{"spu sample: --n 100000000 samples one --period 1s apart is 1e+12 τ", "at most 10⁷ τ"}},
		{"Solve time too long", []string{"solve", "--random", "3", "--duration", "1000h"},
			exitUsage, []string{"spu solve: --duration 1000h0m0s is 3.6e+10 τ", "at most 10⁷ τ"}},
		{"Too many iterations", []string{"train", "--epochs", "1000000000"},
			exitUsage, []string{"spu train: --epochs 1000000000: at most 10000000 iterations in all"}},
		{"Too many evaluations", []string{"train", "--iterations", "1000000", "--eval-every", "1"},
			exitUsage, []string{"--eval-every 1 over 1000000 iterations is 1000000 evaluations: at most 100000"}},
		{"Model too large", []string{"train", "--hidden", "100000,100"},
			exitUsage, []string{"--hidden: the model has 88501110 parameters: at most 10000000"}},
		{"Analog time too long", []string{"train", "--t", "1e300"},
			exitUsage, []string{"--t 1e+300: at most 10⁶ τ per iteration"}},
		{"Window too large", []string{"train", "--window", "100000", "--train-size", "320", "--test-size", "500", "--batch", "16", "--quiet"},
			exitUsage, []string{"--window 100000 on 100000 cells: at most 1342 samples"}},
	})
}

// spu sample holds at most maxChunkBytes of samples at once, also on a
// board with many cells (it held 4096 samples: 3.3 GB on sim:tngd's
// 100,000 cells).
func TestSampleRows(t *testing.T) {
	assert.Equal(t, 10, sampleRows(10, 8))
	assert.Equal(t, sampleChunk, sampleRows(1_000_000, 8))
	rows := sampleRows(4096, 100_000)
	assert.LessOrEqual(t, rows*100_000*8, maxChunkBytes)
	assert.Equal(t, 1, sampleRows(5, 10_000_000), "one sample even when it alone is larger")
}
