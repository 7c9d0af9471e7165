package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTrainSmall(t *testing.T) {
	for _, opt := range []string{"adam", "ngd-woodbury", "tngd", "tngd-adam"} {
		t.Run(opt, func(t *testing.T) {
			metrics := filepath.Join(t.TempDir(), "m.jsonl")
			code, out, errs := runArgs(t, "train", "--optimizer", opt, "--board", "sim:tngd?cells=30000&seed=2",
				"--train-size", "320", "--test-size", "500", "--batch", "16", "--epochs", "1",
				"--eval-every", "10", "--metrics", metrics, "--json", "--quiet")
			require.Equal(t, exitOK, code, errs)
			var s trainSummary
			require.NoError(t, json.Unmarshal([]byte(out), &s))
			assert.Equal(t, 20, s.Iterations)
			assert.Equal(t, opt, s.Optimizer)
			assert.Equal(t, 25450, s.Params)
			// 20 iterations on 320 images already beat chance (0.1) clearly:
			// with 500 test images the SE at chance is sqrt(.1·.9/500) ≈ 0.013.
			assert.Greater(t, s.TestAccuracy, 0.3)
			data, err := os.ReadFile(metrics)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			assert.Len(t, lines, 3, "evaluations at 0, 10 and 20")
			if strings.HasPrefix(opt, "tngd") {
				assert.Equal(t, "factored", s.Mapping)
				assert.Greater(t, s.BoardTimeS, 0.0)
			}
		})
	}
}

func TestTrainBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--optimizer", "lbfgs"}, "sgd, adam, ngd, ngd-cg, ngd-woodbury, tngd, tngd-adam"},
		{[]string{"--batch", "0"}, "--batch 0"},
		{[]string{"--lr", "-1"}, "--lr -1"},
		{[]string{"--mapping", "diagonal"}, "auto, primal, factored, dual"},
		{[]string{"--t", "0"}, "--t 0"},
		{[]string{"--hidden", "32,x"}, "--hidden"},
		{[]string{"--activation", "sigmoid"}, "tanh or relu"},
	} {
		code, _, errs := runArgs(t, append([]string{"train"}, c.args...)...)
		assert.Equal(t, exitUsage, code, c.args)
		assert.Contains(t, errs, c.want, c.args)
	}
	code, _, errs := runArgs(t, "train", "--data", "/nonexistent", "--quiet")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "--data /nonexistent")
	code, _, errs = runArgs(t, "train", "--board", "sim:ideal", "--quiet", "--train-size", "64", "--batch", "8")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errs, "8 cells")
}
