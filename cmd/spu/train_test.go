package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/checkpoint"
)

// tiny are the flags of a fast run: 320 images, batches of 16, 500 test
// images.
var tiny = []string{"--train-size", "320", "--test-size", "500", "--batch", "16", "--quiet"}

func trainArgs(extra ...string) []string {
	return append(append([]string{"train"}, tiny...), extra...)
}

func TestTrainSmall(t *testing.T) {
	for _, opt := range []string{"adam", "ngd-woodbury", "tngd", "tngd-adam"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			metrics := filepath.Join(dir, "m.jsonl")
			plotPath := filepath.Join(dir, "p.png")
			args := trainArgs("--optimizer", opt, "--epochs", "1", "--eval-every", "10", "--metrics", metrics, "--plot", plotPath, "--json")
			if strings.HasPrefix(opt, "tngd") {
				args = append(args, "--board", "sim:tngd?cells=30000&seed=2")
			}
			code, out, errs := spu(t, args...)
			require.Equal(t, exitOK, code, errs)
			var s trainSummary
			require.NoError(t, json.Unmarshal([]byte(out), &s), out)
			assert.Equal(t, 20, s.Iterations)
			assert.InDelta(t, 1.0, s.Epochs, 1e-12)
			assert.Equal(t, opt, s.Optimizer)
			assert.Equal(t, 25450, s.Params)
			// 20 iterations on 320 images already beat chance (0.1) clearly:
			// with 500 test images the SE at chance is sqrt(.1·.9/500) ≈ 0.013.
			assert.Greater(t, s.TestAccuracy, 0.3)
			assert.Positive(t, s.WallS)
			data, err := os.ReadFile(metrics)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			require.Len(t, lines, 3, "evaluations at 0, 10 and 20")
			var last map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[2]), &last))
			for _, k := range []string{"iteration", "epoch", "train_loss", "test_loss", "test_accuracy", "wall_s", "digital_s", "board_time_s"} {
				assert.Contains(t, last, k)
			}
			assert.EqualValues(t, 20, last["iteration"])
			assert.Equal(t, s.TestAccuracy, last["test_accuracy"])
			fh, err := os.Open(plotPath)
			require.NoError(t, err)
			_, err = png.DecodeConfig(fh)
			fh.Close()
			require.NoError(t, err)
			assert.Contains(t, errs, "spu train: done: "+opt, "the final line")
			if strings.HasPrefix(opt, "tngd") {
				assert.Equal(t, "factored", s.Mapping)
				require.NotNil(t, s.Board)
				assert.Positive(t, s.BoardTimeS)
			} else {
				assert.Equal(t, "none", s.Mapping)
				assert.Nil(t, s.Board)
				assert.Zero(t, s.BoardTimeS)
			}
		})
	}
}

// TestTrainJSONKeys: the --json summary has the keys scripts rely on.
func TestTrainJSONKeys(t *testing.T) {
	code, out, errs := spu(t, trainArgs("--optimizer", "sgd", "--iterations", "3", "--json")...)
	require.Equal(t, exitOK, code, errs)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	for _, k := range []string{"test_accuracy", "iterations", "wall_s", "board_time_s", "optimizer", "mapping", "test_loss",
		"digital_s", "params", "config", "iterations_to_90", "epochs"} {
		assert.Contains(t, got, k)
	}
	assert.EqualValues(t, 3, got["iterations"])
	assert.Equal(t, "sgd", got["optimizer"])
	cfg := got["config"].(map[string]any)
	assert.EqualValues(t, 0.1, cfg["lr"], "sgd's default step size")
	assert.EqualValues(t, 320, cfg["train_size"])
}

func TestTrainHuman(t *testing.T) {
	code, out, errs := spu(t, trainArgs("--optimizer", "adam", "--iterations", "2", "--hidden", "8,8", "--activation", "relu")...)
	require.Equal(t, exitOK, code, errs)
	for _, s := range []string{"adam on the host", "relu MLP 784-8-8-10", "6442 parameters, he init", "320 training images in batches of 16",
		"lr 0.001", "iterations  2", "test        accuracy"} {
		assert.Contains(t, out, s)
	}
	assert.Equal(t, 1, strings.Count(errs, "\n"), "only the final line with --quiet: %q", errs)
	// Without --quiet and with stderr not a terminal: a line per evaluation.
	code, _, errs = spu(t, "train", "--train-size", "64", "--test-size", "50", "--batch", "16", "--optimizer", "sgd", "--epochs", "2", "--eval-every", "2")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, errs, "iteration 0/8")
	assert.Contains(t, errs, "iteration 8/8 (epoch 2.00)")
}

// thetaBits reads θ from a checkpoint directory.
func thetaBits(t *testing.T, dir string) []uint64 {
	t.Helper()
	c, _, err := checkpoint.Load(dir)
	require.NoError(t, err)
	out := make([]uint64, len(c.Theta))
	for i, v := range c.Theta {
		out[i] = math.Float64bits(v)
	}
	return out
}

// TestTrainResumeBitIdentical: N iterations straight vs N/2, then --resume
// for the rest, with the same seed: identical θ bytes.
func TestTrainResumeBitIdentical(t *testing.T) {
	for _, opt := range []string{"adam", "ngd-woodbury"} {
		t.Run(opt, func(t *testing.T) {
			straight, split := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			common := []string{"--optimizer", opt, "--seed", "4", "--hidden", "8", "--eval-every", "5"}
			code, _, errs := spu(t, trainArgs(append(common, "--iterations", "26", "--checkpoint", straight)...)...)
			require.Equal(t, exitOK, code, errs)
			code, _, errs = spu(t, trainArgs(append(common, "--iterations", "13", "--checkpoint", split)...)...)
			require.Equal(t, exitOK, code, errs)
			metrics := filepath.Join(t.TempDir(), "m.jsonl")
			code, out, errs := spu(t, trainArgs(append(common, "--iterations", "26", "--checkpoint", split, "--resume", "--json", "--metrics", metrics)...)...)
			require.Equal(t, exitOK, code, errs)
			assert.Equal(t, thetaBits(t, straight), thetaBits(t, split))
			var s trainSummary
			require.NoError(t, json.Unmarshal([]byte(out), &s))
			assert.Equal(t, 13, s.ResumedFrom)
			assert.Equal(t, 26, s.Iterations)
			// The metrics file holds the whole run once: 0, 5, 10, 13
			// (the first part's end), 15, 20, 25, 26.
			data, err := os.ReadFile(metrics)
			require.NoError(t, err)
			var its []int
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var e evalRecord
				require.NoError(t, json.Unmarshal([]byte(line), &e))
				its = append(its, e.Iteration)
			}
			assert.Equal(t, []int{0, 5, 10, 13, 15, 20, 25, 26}, its)
		})
	}
}

// TestTrainInterruptResume: a cancelled context (Ctrl-C) saves a
// checkpoint and returns 1 with a hint (the process exits 130: see
// TestSignalExitCodes); --resume then finishes the run
// bit-identically.
func TestTrainInterruptResume(t *testing.T) {
	straight, split := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	common := []string{"--optimizer", "sgd", "--seed", "9", "--hidden", "8", "--iterations", "20"}
	code, _, errs := spu(t, trainArgs(append(common, "--checkpoint", straight)...)...)
	require.Equal(t, exitOK, code, errs)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // interrupted before the first step
	var out, errb bytes.Buffer
	code = run(ctx, trainArgs(append(common, "--checkpoint", split)...), &out, &errb)
	require.Equal(t, exitError, code)
	assert.Contains(t, errb.String(), "interrupted at iteration 0; saved "+filepath.Join(split, checkpoint.FileName))
	assert.Contains(t, errb.String(), "--resume")
	assert.Contains(t, errb.String(), "spu train: interrupted: sgd")
	c, _, err := checkpoint.Load(split)
	require.NoError(t, err)
	assert.Equal(t, 0, c.Iteration)

	code, _, errs = spu(t, trainArgs(append(common, "--checkpoint", split, "--resume")...)...)
	require.Equal(t, exitOK, code, errs)
	assert.Equal(t, thetaBits(t, straight), thetaBits(t, split))

	// Resuming with different settings is refused, naming them, before
	// any output file is touched.
	metrics := filepath.Join(t.TempDir(), "m.jsonl")
	require.NoError(t, os.WriteFile(metrics, []byte("keep"), 0o644))
	code, _, errs = spu(t, trainArgs("--optimizer", "sgd", "--seed", "9", "--hidden", "8", "--iterations", "30", "--lr", "0.2",
		"--checkpoint", split, "--resume", "--metrics", metrics)...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "lr 0.1 → 0.2")
	kept, err := os.ReadFile(metrics)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(kept))
	// An existing checkpoint is not overwritten without --resume.
	code, _, errs = spu(t, trainArgs(append(common, "--checkpoint", split)...)...)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "already holds a checkpoint (iteration 20 of sgd): pass --resume")
}

// TestTrainDiverges: a NaN stops the run with exit 1 and the last good
// checkpoint stays.
func TestTrainDiverges(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck")
	// sgd with an absurd step size on an unbounded activation overflows
	// at once: the first step's θ is finite, the second batch's loss not.
	code, out, errs := spu(t, trainArgs("--optimizer", "sgd", "--lr", "1e300", "--hidden", "8", "--activation", "relu",
		"--iterations", "50", "--eval-every", "10", "--checkpoint", ck, "--json")...)
	require.Equal(t, exitError, code, errs)
	for _, s := range []string{"spu train: iteration 1 (epoch 0): loss", "training diverged", "--lr",
		"last good checkpoint " + filepath.Join(ck, checkpoint.FileName) + " (iteration 0)"} {
		assert.Contains(t, errs, s)
	}
	var s trainSummary
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	assert.Equal(t, "diverged", s.Stopped)
	assert.Equal(t, 1, s.Iterations)
	c, _, err := checkpoint.Load(ck)
	require.NoError(t, err)
	assert.Equal(t, 0, c.Iteration)
	for _, v := range c.Theta {
		require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
	}
}

func TestTrainBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--optimizer", "lbfgs"}, `--optimizer "lbfgs": want one of sgd, adam, ngd, ngd-cg, ngd-woodbury, tngd, tngd-adam`},
		{[]string{"--batch", "0"}, "--batch 0"},
		{[]string{"--batch", "20000"}, "--batch 20000 is larger than the training set"},
		{[]string{"--lr", "-1"}, "--lr -1"},
		{[]string{"--lr", "NaN"}, "--lr NaN"},
		{[]string{"--mapping", "diagonal"}, "auto, primal, factored, dual, tiled"},
		{[]string{"--t", "0"}, "--t 0"},
		{[]string{"--delay", "-1"}, "--delay -1"},
		{[]string{"--window", "0"}, "--window 0"},
		{[]string{"--damping", "-0.1"}, "--damping -0.1"},
		{[]string{"--optimizer", "ngd-woodbury", "--damping", "0"}, "needs λ > 0"},
		{[]string{"--epochs", "0"}, "--epochs 0"},
		{[]string{"--iterations", "-3"}, "--iterations -3"},
		{[]string{"--train-size", "70000"}, "--train-size 70000"},
		{[]string{"--test-size", "-1"}, "--test-size -1"},
		{[]string{"--eval-every", "-1"}, "--eval-every -1"},
		{[]string{"--hidden", "32,x"}, "--hidden"},
		{[]string{"--activation", "sigmoid"}, "tanh or relu"},
		{[]string{"--init", "xavier"}, `--init "xavier": want one of he, torch, glorot`},
		{[]string{"--optimizer", "adam", "--mapping", "dual"}, "--mapping applies to tngd and tngd-adam"},
		{[]string{"--optimizer", "adam", "--t", "5"}, "--t applies to"},
		{[]string{"--tile-tol", "1e-2"}, "--tile-tol applies to --mapping tiled, not auto"},
		{[]string{"--eval-fine", "-1"}, "--eval-fine -1: want ≥ 1"},
		{[]string{"--eval-fine-until", "0.5"}, "--eval-fine-until goes with --eval-fine N"},
		{[]string{"--eval-fine", "5", "--eval-fine-until", "1.5"}, "--eval-fine-until 1.5: want a test accuracy 0 < acc ≤ 1"},
		{[]string{"--iterations", "1000000", "--eval-fine", "1"}, "--eval-fine 1 over 1000000 iterations is up to 1000000 evaluations"},
		{[]string{"--mapping", "tiled", "--tile-tol", "1"}, "--tile-tol 1: want 1e-15 ≤ tol < 1"},
		{[]string{"--mapping", "tiled", "--tile-iter", "-2"}, "--tile-iter -2: want ≥ 1"},
		{[]string{"--mapping", "tiled", "--delay", "1", "--board", "sim:proto8"}, "the tiled mapping has no delay"},
		{[]string{"--resume"}, "--resume needs --checkpoint DIR"},
		{[]string{"--optimizer", "ngd"}, "N = 25450 > 5000"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		code, _, errs := spu(t, append([]string{"train"}, c.args...)...)
		assert.Equal(t, exitUsage, code, c.args)
		assert.Contains(t, errs, c.want, c.args)
		assert.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
	}
	code, _, errs := spu(t, "train", "--data", "/nonexistent", "--quiet")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "--data /nonexistent")
	code, _, errs = spu(t, "train", "--board", "sim:ideal", "--quiet", "--train-size", "64", "--batch", "8")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "8 cells")
	code, _, errs = spu(t, trainArgs("--resume", "--checkpoint", t.TempDir())...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "no checkpoint in")
	code, _, errs = spu(t, trainArgs("--metrics", filepath.Join(t.TempDir(), "no", "dir", "m.jsonl"))...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "--metrics")
	code, _, errs = spu(t, trainArgs("--plot", filepath.Join(t.TempDir(), "no", "dir", "p.png"))...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "--plot")
}

func TestTrainHelp(t *testing.T) {
	code, out, _ := spu(t, "help", "train")
	assert.Equal(t, exitOK, code)
	for _, s := range []string{"usage: spu train", "--board", "sim:tngd", "--optimizer", "--checkpoint", "--resume", "--plot",
		"--metrics", "--quiet", "bit for bit", "$SPU_MNIST_DIR", "--init", "U(−1/√fan_in, 1/√fan_in)", "√(6/(fan_in+fan_out))"} {
		assert.Contains(t, out, s)
	}
}

// TestTrainResumeBoard: a board-backed run resumes (on a noisy board with
// a note that it cannot be bit-identical) and the checkpoint records the
// board.
func TestTrainResumeBoard(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	board := "sim:tngd?cells=30000&seed=3"
	code, _, errs := spu(t, trainArgs("--board", board, "--iterations", "2", "--checkpoint", dir)...)
	require.Equal(t, exitOK, code, errs)
	c, _, err := checkpoint.Load(dir)
	require.NoError(t, err)
	assert.Contains(t, string(c.Config), `"board":"`+board+`"`)
	code, _, errs = spu(t, trainArgs("--board", board, "--iterations", "4", "--checkpoint", dir, "--resume")...)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, errs, "not bit-identical")

	// On a noiseless board the warm start is all the state there is: the
	// resumed run is bit-identical.
	quiet := "sim:tngd?cells=30000&seed=3&noise=0"
	straight, split := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	code, _, errs = spu(t, trainArgs("--board", quiet, "--iterations", "4", "--checkpoint", straight)...)
	require.Equal(t, exitOK, code, errs)
	code, _, errs = spu(t, trainArgs("--board", quiet, "--iterations", "2", "--checkpoint", split)...)
	require.Equal(t, exitOK, code, errs)
	code, _, errs = spu(t, trainArgs("--board", quiet, "--iterations", "4", "--checkpoint", split, "--resume")...)
	require.Equal(t, exitOK, code, errs)
	assert.NotContains(t, errs, "not bit-identical")
	assert.Equal(t, thetaBits(t, straight), thetaBits(t, split))
	code, _, errs = spu(t, trainArgs("--board", "sim:tngd?cells=30000&seed=4", "--iterations", "6", "--checkpoint", dir, "--resume")...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "seed=3")
}

// TestTrainInit: --init torch --activation relu runs and is recorded in
// the JSON and the checkpoint; a resume must name the same --init; a
// checkpoint from before --init (no "init" in its model or configuration)
// resumes a default run.
func TestTrainInit(t *testing.T) {
	common := []string{"--optimizer", "adam", "--hidden", "8", "--activation", "relu", "--eval-every", "2"}
	dir := filepath.Join(t.TempDir(), "torch")
	code, out, errs := spu(t, trainArgs(append(common, "--init", "Torch", "--iterations", "2", "--checkpoint", dir, "--json")...)...)
	require.Equal(t, exitOK, code, errs)
	var s trainSummary
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	assert.Equal(t, "torch", s.Config.Init, "the canonical name")
	c, _, err := checkpoint.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, "torch", c.Model.Init)
	assert.Contains(t, string(c.Config), `"init":"torch"`)

	code, _, errs = spu(t, trainArgs(append(common, "--iterations", "4", "--checkpoint", dir, "--resume")...)...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, `init "torch" → (unset)`)
	code, _, errs = spu(t, trainArgs(append(common, "--init", "torch", "--iterations", "4", "--checkpoint", dir, "--resume")...)...)
	require.Equal(t, exitOK, code, errs)

	// The default run's checkpoint, rewritten as one from before --init.
	dir = filepath.Join(t.TempDir(), "he")
	code, out, errs = spu(t, trainArgs(append(common, "--iterations", "2", "--checkpoint", dir, "--json")...)...)
	require.Equal(t, exitOK, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	assert.Equal(t, "he", s.Config.Init)
	c, _, err = checkpoint.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, "he", c.Model.Init)
	assert.NotContains(t, string(c.Config), "init")
	// As written before --init: neither the model nor the configuration
	// has "init".
	c.Model.Init = ""
	var conf map[string]any
	require.NoError(t, json.Unmarshal(c.Config, &conf))
	delete(conf, "init")
	c.Config, err = json.Marshal(conf)
	require.NoError(t, err)
	_, err = checkpoint.Save(dir, c)
	require.NoError(t, err)
	code, _, errs = spu(t, trainArgs(append(common, "--iterations", "4", "--checkpoint", dir, "--resume")...)...)
	require.Equal(t, exitOK, code, errs)
	code, _, errs = spu(t, trainArgs(append(common, "--init", "glorot", "--iterations", "6", "--checkpoint", dir, "--resume")...)...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, `init (unset) → "glorot"`)
}

// TestTrainTiledDrivers: the tiled mapping through serial:// against spu
// emu's firmware (on the same seeded simulator) gives bit-identical
// parameters to sim: — the losses are functions of them — and runs
// through spi+sim: (issue 13 point 5). Batches of 4 (m = 40: 5 blocks of
// 8) and 2 outer iterations keep it short.
func TestTrainTiledDrivers(t *testing.T) {
	const board = "sim:proto8?seed=3"
	run := func(uri string) trainSummary {
		t.Helper()
		code, out, errs := spu(t, trainArgs("--board", uri, "--mapping", "tiled", "--batch", "4", "--iterations", "3",
			"--eval-every", "3", "--tile-iter", "2", "--json")...)
		require.Equal(t, exitOK, code, errs)
		var s trainSummary
		require.NoError(t, json.Unmarshal([]byte(out), &s), out)
		assert.Equal(t, "tiled", s.Mapping)
		assert.Equal(t, 3, s.Iterations)
		assert.Positive(t, s.BoardTimeS)
		return s
	}
	sim := run(board)
	ser := run(serveEmu(t, board))
	require.NotNil(t, sim.TrainLoss)
	require.NotNil(t, ser.TrainLoss)
	assert.Equal(t, *sim.TrainLoss, *ser.TrainLoss, "serial:// and sim: differ")
	assert.Equal(t, sim.TestLoss, ser.TestLoss, "serial:// and sim: differ")
	spi := run("spi+" + board)
	assert.False(t, math.IsNaN(spi.TestLoss))
}
