package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// python3With returns a python3 that imports every module, or skips the
// test with one line naming what is missing. SPU_PYTHON names one to use;
// otherwise Debian's /usr/bin/python3 is tried before the one on PATH (a
// pyenv python on PATH does not see Debian's python3-numpy).
func python3With(t *testing.T, modules ...string) string {
	t.Helper()
	candidates := []string{os.Getenv("SPU_PYTHON"), "/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	imp := "import " + strings.Join(modules, ", ")
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if err := exec.Command(p, "-c", imp).Run(); err == nil {
			return p
		}
	}
	t.Skipf("no python3 imports %s (Debian: apt-get install python3-%s): skipping the Python read-back",
		strings.Join(modules, ", "), strings.Join(modules, " python3-"))
	return ""
}

// runPython runs script with python, args after it, and fails the test with
// its output unless it exits 0; it returns stdout and stderr together.
func runPython(t *testing.T, python, script string, args ...string) string {
	t.Helper()
	out, err := exec.Command(python, append([]string{"-c", script}, args...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// TestTrainMetricsPandas: spu train --metrics is JSON lines that pandas
// reads as it is (read_json(lines=True)): one row per evaluation, numeric
// columns, the values the Go reader sees.
func TestTrainMetricsPandas(t *testing.T) {
	metrics := filepath.Join(t.TempDir(), "m.jsonl")
	code, _, errs := spu(t, trainArgs("--optimizer", "adam", "--iterations", "10", "--eval-every", "5", "--metrics", metrics)...)
	require.Equal(t, exitOK, code, errs)
	data, err := os.ReadFile(metrics)
	require.NoError(t, err)
	var last map[string]any
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 3, "evaluations at 0, 5 and 10")
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &last))

	py := python3With(t, "pandas")
	got := runPython(t, py, `
import sys, pandas as pd
df = pd.read_json(sys.argv[1], lines=True)
for c in ["iteration", "epoch", "train_loss", "test_loss", "test_accuracy", "wall_s"]:
    assert pd.api.types.is_numeric_dtype(df[c]), (c, df[c].dtype)
print(len(df), list(df["iteration"]), repr(float(df["test_accuracy"].iloc[-1])))
`, metrics)
	assert.Equal(t, fmt.Sprintf("3 [0, 5, 10] %s\n", strconv.FormatFloat(last["test_accuracy"].(float64), 'g', -1, 64)), got)
}
