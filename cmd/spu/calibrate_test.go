package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/calibration"
)

func TestCalibrateCLI(t *testing.T) {
	dir := t.TempDir()
	out, cache, png := filepath.Join(dir, "cal.json"), filepath.Join(dir, "cache"), filepath.Join(dir, "cal.png")
	code, stdout, stderr := spu(t, "calibrate", "--board", "sim:proto8?seed=1", "--events", "2000",
		"--out", out, "--cache", cache, "--plot", png, "--json")
	require.Equal(t, exitOK, code, stderr)
	var s calibrateJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &s))
	assert.Equal(t, "SIM-PROTO8-1", s.Serial)
	assert.Len(t, s.ADCGain, 8)
	assert.True(t, s.Clocked)
	assert.Greater(t, s.BoardTimeS, 0.5)
	// proto8's elements have 1 % tolerance and its capacitors 5 %: the
	// effective gains spread by a few percent.
	assert.Greater(t, s.CouplingGainRMS, 0.01)
	cal, err := calibration.Load(out)
	require.NoError(t, err)
	assert.Equal(t, s.Key, cal.Key)
	_, err = os.Stat(calibration.CachePath(cache, "SIM-PROTO8-1", s.Key))
	require.NoError(t, err, "cached copy")
	fi, err := os.Stat(png)
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(1000))

	// The calibration applies to its own board ...
	code, stdout, stderr = spu(t, "solve", "--board", "sim:proto8?seed=1", "--random", "4", "--seed", "2",
		"--duration", "20ms", "--calibration", out, "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "rel_error")
	// ... and is refused on another one.
	code, _, stderr = spu(t, "solve", "--board", "sim:proto8?seed=2", "--random", "4", "--calibration", out)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "cannot be applied to board SIM-PROTO8-2")

	// The check passes right after calibrating (the cache is found by serial).
	code, stdout, stderr = spu(t, "calibrate", "--board", "sim:proto8?seed=1", "--check", "--cache", cache, "--json")
	require.Equal(t, exitOK, code, stderr)
	var rep struct {
		Holds bool `json:"holds"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	assert.True(t, rep.Holds)

	// Usage errors.
	for _, args := range [][]string{
		{"calibrate", "--check", "--out", out},
		{"calibrate", "--check-events", "10"},
		{"calibrate", "--events", "-1"},
		{"train", "--optimizer", "sgd", "--calibration", out},
		{"train", "--check-every", "5"},
	} {
		code, _, stderr := spu(t, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
	}
}
