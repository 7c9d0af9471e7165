package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/mnist"
	"github.com/spukit/spukit/optim"
	"github.com/spukit/spukit/training"
)

// TestTrainTrace: with sgd (θ ← θ − lr·g) each --trace line holds the
// batch the loop drew (training.Order), θ₀ = the seeded model's initial
// parameters on the first line only, and a direction equal to the
// gradient that optim computes on that batch at that θ.
func TestTrainTrace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.jsonl")
	code, _, errs := spu(t, trainArgs("--optimizer", "sgd", "--lr", "0.1", "--iterations", "3", "--eval-every", "3", "--trace", path)...)
	require.Equal(t, exitOK, code, errs)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 3)

	model, err := optim.NewMLP(optim.DefaultSizes(), optim.Tanh, 1)
	require.NoError(t, err)
	train, _, err := mnist.LoadN("", 320, 1)
	require.NoError(t, err)
	order := training.Order(1, 0, 320)
	for k, ln := range lines {
		var l traceLine
		require.NoError(t, json.Unmarshal([]byte(ln), &l))
		assert.Equal(t, k, l.Iteration)
		require.Equal(t, order[k*16:(k+1)*16], l.Indices)
		if k == 0 {
			require.Equal(t, model.Params(), l.Theta, "θ before the first step")
		} else {
			assert.Nil(t, l.Theta)
		}
		bt := optim.Batch{X: make([]float64, 0, 16*784), Y: make([]int, 0, 16)}
		for _, i := range l.Indices {
			bt.X = append(bt.X, train.Images[i*784:(i+1)*784]...)
			bt.Y = append(bt.Y, train.Labels[i])
		}
		it, err := optim.NewIteration(k, model, bt, 0)
		require.NoError(t, err)
		assert.Equal(t, it.Loss, l.Loss)
		// (θ − (θ − 0.1·g))/0.1 rounds θ: |θ| ≲ 1 and lr = 0.1 leave an
		// error of a few ulps of 1 over 0.1, ~1e-15 absolute.
		require.Len(t, l.Direction, len(it.Grad))
		for i, g := range it.Grad {
			require.InDelta(t, g, l.Direction[i], 1e-14, "direction[%d] at iteration %d", i, k)
		}
		theta := model.Params()
		for i, g := range it.Grad {
			theta[i] -= 0.1 * g
		}
	}
}

// readTrace reads a --trace file's lines.
func readTrace(t *testing.T, path string) []traceLine {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []traceLine
	for _, ln := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var l traceLine
		require.NoError(t, json.Unmarshal([]byte(ln), &l))
		out = append(out, l)
	}
	return out
}

// TestTrainTraceResume: a resumed run's trace starts from the checkpoint's
// θ (not the seeded initial θ the model had before training.Run restored
// it), and its directions are the straight run's for the same iterations.
func TestTrainTraceResume(t *testing.T) {
	straight, split := filepath.Join(t.TempDir(), "s.jsonl"), t.TempDir()
	common := []string{"--optimizer", "sgd", "--lr", "0.1", "--eval-every", "2"}
	code, _, errs := spu(t, trainArgs(append(common, "--iterations", "4", "--trace", straight)...)...)
	require.Equal(t, exitOK, code, errs)
	code, _, errs = spu(t, trainArgs(append(common, "--iterations", "2", "--checkpoint", split)...)...)
	require.Equal(t, exitOK, code, errs)
	ck, _, err := checkpoint.Load(split)
	require.NoError(t, err)
	resumed := filepath.Join(t.TempDir(), "r.jsonl")
	code, _, errs = spu(t, trainArgs(append(common, "--iterations", "4", "--checkpoint", split, "--resume", "--trace", resumed)...)...)
	require.Equal(t, exitOK, code, errs)

	want, got := readTrace(t, straight), readTrace(t, resumed)
	require.Len(t, want, 4)
	require.Len(t, got, 2)
	require.Equal(t, ck.Theta, got[0].Theta, "θ before the first resumed step is the checkpoint's")
	for i, l := range got {
		w := want[i+2]
		assert.Equal(t, w.Iteration, l.Iteration)
		assert.Equal(t, w.Indices, l.Indices)
		// Resuming is bit-identical (TestTrainResumeBitIdentical), so the
		// directions are too.
		assert.Equal(t, w.Direction, l.Direction, "direction at iteration %d", l.Iteration)
	}
}
