package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/training"
)

// The training bar shows the running train loss, the last test accuracy
// with the iteration it was measured at, and the rate in it/s.
func TestTrainProgressBar(t *testing.T) {
	var w bytes.Buffer
	p := newTrainProgress(&w, true, "tngd", 100, 2)
	p.eval(evalRecord{Iteration: 0, TestAccuracy: 0.1})
	for k := 1; k <= 30; k++ {
		p.step(training.Step{Iteration: k, Total: 100, Loss: 0.5})
		if k == 20 {
			p.eval(evalRecord{Iteration: 20, Epoch: 0.4, TestAccuracy: 0.85})
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // past the bar's 100 ms throttle: the next step renders
	p.step(training.Step{Iteration: 31, Total: 100, Loss: 0.25})
	out := w.String()
	// Steps 21..31 after the evaluation at 20: ten losses of 0.5, one of 0.25.
	assert.Contains(t, out, "tngd epoch 1/2, train loss 0.4773, test acc 85.0% (it 20)")
	assert.Contains(t, out, "it/s")
}

// On a pipe each evaluation is one line with the train loss and it/s.
func TestTrainProgressLines(t *testing.T) {
	var w bytes.Buffer
	p := newTrainProgress(&w, false, "sgd", 40, 1)
	p.eval(evalRecord{Iteration: 0, TestAccuracy: 0.1, WallS: 0})
	tl := 0.7
	p.eval(evalRecord{Iteration: 20, Epoch: 0.5, TrainLoss: &tl, TestLoss: 0.6, TestAccuracy: 0.8, WallS: 4})
	lines := strings.Split(strings.TrimSpace(w.String()), "\n")
	require.Len(t, lines, 2)
	assert.NotContains(t, lines[0], "it/s", "no rate before a second evaluation")
	assert.Contains(t, lines[1], "iteration 20/40 (epoch 0.50): train loss 0.7000, test loss 0.6000, test accuracy 0.8000, wall 4.0 s, 5 it/s")
}

// An interrupted run reports the numbers of its last evaluation with the
// iteration they were measured at, not as if of the last iteration.
func TestTrainSummaryEvaluatedAt(t *testing.T) {
	s := &trainSummary{Optimizer: "sgd", Stopped: "interrupted"}
	s.fill(&training.Result{Iterations: 64, Final: training.Eval{Iteration: 60, TestAccuracy: 0.9}}, 156)
	assert.Equal(t, 60, s.EvaluatedAt)
	line := s.finalLine()
	assert.Contains(t, line, "interrupted: sgd on the host after 64 iterations")
	assert.Contains(t, line, "test accuracy 0.9000, test loss 0 (measured at iteration 60, the last evaluation)")
	var w bytes.Buffer
	s.printHuman(&w)
	assert.Contains(t, w.String(), "accuracy 0.9000, loss 0 (measured at iteration 60, the last evaluation)")

	s.fill(&training.Result{Iterations: 60, Final: training.Eval{Iteration: 60, TestAccuracy: 0.9}}, 156)
	assert.NotContains(t, s.finalLine(), "measured at", "a finished run was evaluated at its last iteration")
}

// spu sample reports progress on stderr on long runs (here: every chunk),
// but not with --quiet, and never into a JSON summary on stderr.
func TestSampleProgress(t *testing.T) {
	old := progressEvery
	progressEvery = 0
	defer func() { progressEvery = old }()
	dir := t.TempDir()
	out := filepath.Join(dir, "s.csv")
	code, _, errOut := spu(t, "sample", "--n", "10000", "--burn", "0", "--out", out)
	require.Equal(t, exitOK, code, errOut)
	// 10000 samples come in chunks of sampleChunk = 4096.
	assert.Contains(t, errOut, "4096 of 10000 samples (41%)")
	assert.Contains(t, errOut, "8192 of 10000 samples (82%)")

	code, _, errOut = spu(t, "sample", "--n", "10000", "--burn", "0", "--out", out, "--quiet")
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, errOut, "of 10000 samples")

	code, stdout, errOut := spu(t, "sample", "--n", "10000", "--burn", "0", "--json")
	require.Equal(t, exitOK, code, errOut)
	assert.NotEmpty(t, stdout, "the CSV")
	var sum sampleJSON
	require.NoError(t, json.Unmarshal([]byte(errOut), &sum), "stderr holds only the JSON summary: %q", errOut)
}
