package main

import (
	"path/filepath"
	"testing"
)

// TestFlagBounds has one case per row of the "Flag bounds" table of
// docs/errors.md, in the same order.
func TestFlagBounds(t *testing.T) {
	dir := t.TempDir()
	metrics := write(t, dir, "a.jsonl", `{"iteration":0,"epoch":0,"test_loss":2.3,"test_accuracy":0.1,"wall_s":0,"digital_s":0,"board_time_s":0}`+"\n")
	runDocTable(t, "## Flag bounds", []docCase{
		{"Board given to report", []string{"report", "--run", "a=" + metrics, "--out", filepath.Join(dir, "r.md"), "--img", dir, "--board", "sim:ideal"},
			exitUsage, []string{"spu report: --board sim:ideal: spu report reads metrics files and opens no board", "invalid argument"}},
		{"Report test-set size out of range", []string{"report", "--run", "a=" + metrics, "--out", filepath.Join(dir, "r.md"), "--img", dir, "--test-size", "0"},
			exitUsage, []string{"spu report: --test-size 0: want 1..10000 (the MNIST test set; give spu train's --test-size)", "invalid argument"}},
		{"Board given to version", []string{"version", "--board", "sim:ideal"},
			exitUsage, []string{"spu version: flag provided but not defined: -board"}},
	})
}
