package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReport(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	// Two hand-written runs: a reaches 0.9 at iteration 20, b never does.
	require.NoError(t, os.WriteFile(a, []byte(`{"iteration":0,"epoch":0,"test_loss":2.3,"test_accuracy":0.1,"wall_s":0,"digital_s":0,"board_time_s":0}
{"iteration":10,"epoch":0.1,"train_loss":0.9,"test_loss":0.8,"test_accuracy":0.85,"wall_s":1,"digital_s":0.5,"board_time_s":0.1}
{"iteration":20,"epoch":0.2,"train_loss":0.4,"test_loss":0.35,"test_accuracy":0.91,"wall_s":2,"digital_s":1,"board_time_s":0.2}
`), 0o600))
	require.NoError(t, os.WriteFile(b, []byte(`{"iteration":0,"epoch":0,"test_loss":2.3,"test_accuracy":0.1,"wall_s":0,"digital_s":0,"board_time_s":0}
{"iteration":10,"epoch":0.1,"train_loss":1.9,"test_loss":1.8,"test_accuracy":0.55,"wall_s":1,"digital_s":0.5,"board_time_s":0}
`), 0o600))
	md := filepath.Join(dir, "docs", "results.md")
	require.NoError(t, os.MkdirAll(filepath.Dir(md), 0o755))
	code, _, errs := runArgs(t, "report", "--run", "fast="+a, "--run", "slow="+b, "--out", md, "--img", filepath.Join(dir, "docs", "img"))
	require.Equal(t, exitOK, code, errs)
	text, err := os.ReadFile(md)
	require.NoError(t, err)
	assert.Contains(t, string(text), "| fast | 20 (eval every 10) | 0.9100 |")
	assert.Contains(t, string(text), "| slow | not reached | 0.5500 |")
	assert.Contains(t, string(text), "](img/results-iterations.png)")
	for _, png := range []string{"results-iterations.png", "results-time.png"} {
		data, err := os.ReadFile(filepath.Join(dir, "docs", "img", png))
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(data), "\x89PNG"))
	}
	code, _, errs = runArgs(t, "report", "--run", "x="+filepath.Join(dir, "missing.jsonl"), "--out", md, "--img", dir)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "missing.jsonl")
}
