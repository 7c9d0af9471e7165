package calibration

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	_ "github.com/spukit/spukit/sim"
)

// quick are options for tests: fewer transients and a shorter bias sweep
// than the defaults, so a calibration takes well under a second of wall
// time; the standard errors grow accordingly and the tests use them.
var quick = Options{Events: 16000, BiasTaus: 1000}

func calibrate(t *testing.T, uri string, o Options) *Calibration {
	t.Helper()
	c, err := Calibrate(context.Background(), haltest.Open(t, uri), &o)
	require.NoError(t, err)
	return c
}

// within asserts |got − want| ≤ 5·se: the fits are unbiased with
// approximately Gaussian errors of standard error se, so a correct
// procedure fails one such check with probability 6e-7.
func within(t *testing.T, what string, got, want, se float64) {
	t.Helper()
	assert.LessOrEqual(t, math.Abs(got-want), 5*se, "%s = %.8g, want %.8g ± 5·%.3g", what, got, want, se)
}

// On sim:ideal every part is nominal (docs/profiles.md): unit gains, zero
// offsets, τ = 100 µs, σ = 10 mV, no ADC noise. The fits must find that.
func TestIdealBoardIsNominal(t *testing.T) {
	c := calibrate(t, "sim:ideal", quick)
	k := c.Board.Cells
	require.Equal(t, 8, k)
	for i := range k {
		within(t, "adc gain", c.ADC.Gain[i], 1, c.ADC.GainSE[i])
		within(t, "adc offset", c.ADC.Offset[i], 0, c.ADC.OffsetSE[i])
		within(t, "bias gain", c.Bias.Gain[i], 1, c.Bias.GainSE[i])
		within(t, "bias offset", c.Bias.Offset[i], 0, c.Bias.OffsetSE[i])
		within(t, "noise", c.Cells.NoiseV[i], 0.01, c.Cells.NoiseSE[i])
		// τ_i = τ/mean_j(gain_ij): its standard error is τ·√(Σ_j se_j²)/K.
		var v float64
		for j := range k {
			v += c.Couplings.GainSE[i*k+j] * c.Couplings.GainSE[i*k+j]
		}
		within(t, "tau", c.Cells.TauS[i], 100e-6, 100e-6*math.Sqrt(v)/float64(k))
		assert.True(t, c.Success[i], "channel %d", i)
		assert.Zero(t, c.BoundaryHits[i])
	}
	for e := range k * k {
		within(t, "coupling gain", c.Couplings.Gain[e], 1, c.Couplings.GainSE[e])
	}
	assert.Nil(t, c.Bias.INL, "an ideal DAC needs no INL table")
}

// ADC gain errors of up to 2 % must not leak into the coupling gains: the
// regression in reading space identifies G Φ G⁻¹, which differs from Φ by
// up to 4 % off the diagonal unless the ADC line is taken out.
func TestADCErrorsDoNotLeakIntoCouplings(t *testing.T) {
	c := calibrate(t, "sim:testdata/adc-only.json?seed=5", quick)
	k := c.Board.Cells
	var spread float64
	for i := range k {
		// The profile bounds the ADC gain error by 2 % and the offset by 50 mV.
		assert.LessOrEqual(t, math.Abs(c.ADC.Gain[i]-1), 0.02+5*c.ADC.GainSE[i])
		assert.LessOrEqual(t, math.Abs(c.ADC.Offset[i]), 0.05+5*c.ADC.OffsetSE[i])
		spread = math.Max(spread, math.Abs(c.ADC.Gain[i]-1))
		within(t, "bias gain", c.Bias.Gain[i], 1, c.Bias.GainSE[i])
		within(t, "bias offset", c.Bias.Offset[i], 0, c.Bias.OffsetSE[i])
	}
	assert.Greater(t, spread, 0.005, "the profile draws gains in ±2 %%: some channel must be off by more than 0.5 %%")
	for e := range k * k {
		within(t, "coupling gain", c.Couplings.Gain[e], 1, c.Couplings.GainSE[e])
	}
}

// Two calibrations of the same board with different procedure seeds agree
// within their standard errors: z = (g₁ − g₂)/√(se₁² + se₂²) has E[z²] = 1,
// so the mean of z² over the 64 elements has standard error √(2/64) ≈ 0.18
// and stays below 1 + 5·0.18 when the standard errors are honest.
func TestUncertaintiesAreHonest(t *testing.T) {
	o2 := quick
	o2.Seed = 99
	a := calibrate(t, "sim:proto8?seed=2", quick)
	b := calibrate(t, "sim:proto8?seed=2", o2)
	n := len(a.Couplings.Gain)
	var z2 float64
	for e := range n {
		d := a.Couplings.Gain[e] - b.Couplings.Gain[e]
		z2 += d * d / (a.Couplings.GainSE[e]*a.Couplings.GainSE[e] + b.Couplings.GainSE[e]*b.Couplings.GainSE[e])
	}
	z2 /= float64(n)
	assert.Less(t, z2, 1+5*math.Sqrt(2/float64(n)), "mean z² of the coupling gains")
	// And the board is not ideal: 1 % element tolerance and 5 % capacitors
	// spread the effective gains far beyond their standard errors.
	var sd float64
	for _, g := range a.Couplings.Gain {
		sd += (g - 1) * (g - 1)
	}
	assert.Greater(t, math.Sqrt(sd/float64(n)), 0.01)
}

// The calibration is cheap enough: the issue asks for ≤ 60 s of board time
// for a full (default) calibration; the quick one must be well inside.
func TestBoardTimeAccounted(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=1", quick)
	assert.True(t, c.Cost.Clocked)
	// 16000 transients of 50 µs forcing + 50 samples of 5 µs, plus 9 bias
	// levels of 1000 τ: 16000·300 µs + 9·0.1 s ≈ 5.7 s.
	assert.InDelta(t, 5.7, c.Cost.BoardTimeS, 0.5)
	assert.Equal(t, 16000, c.Cost.Events)
}

func TestFileRoundTripAndRefusals(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	dir := t.TempDir()
	path := CachePath(dir, c.Board.Serial, c.Key)
	require.NoError(t, c.Save(path))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "readable by the lab, not only its writer")
	back, err := Load(path)
	require.NoError(t, err)
	var x, y bytes.Buffer
	require.NoError(t, c.Encode(&x))
	require.NoError(t, back.Encode(&y))
	assert.Equal(t, x.String(), y.String())

	found, p, err := FindCached(dir, haltest.Open(t, "sim:proto8?seed=1").Info(), nil)
	require.NoError(t, err)
	assert.Equal(t, path, p)
	assert.Equal(t, c.Key, found.Key)
	_, _, err = FindCached(dir, haltest.Open(t, "sim:proto8?seed=2").Info(), nil)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Another board's serial is refused with a clear error.
	_, err = Wrap(haltest.Open(t, "sim:proto8?seed=2"), c, nil)
	require.ErrorIs(t, err, ErrWrongBoard)
	assert.Contains(t, err.Error(), "SIM-PROTO8-1")
	assert.Contains(t, err.Error(), "SIM-PROTO8-2")

	// Keys depend on the serial and the options.
	in := haltest.Open(t, "sim:proto8?seed=1").Info()
	assert.Equal(t, c.Key, ContentKey(in, c.Options))
	assert.NotEqual(t, c.Key, ContentKey(in, Options{}))
	in2 := in
	in2.Serial = "other"
	assert.NotEqual(t, c.Key, ContentKey(in2, c.Options))

	// Staleness: age and temperature.
	now := c.MeasuredAt.Add(time.Hour)
	assert.Empty(t, c.Staleness(now, in, c.TemperatureC, Limits{}))
	assert.Len(t, c.Staleness(c.MeasuredAt.Add(25*time.Hour), in, nil, Limits{}), 1)
	require.NotNil(t, c.TemperatureC, "sim boards report a temperature")
	hot := *c.TemperatureC + 3
	w := c.Staleness(now, in, &hot, Limits{})
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "°C")

	// Bad files.
	bad := *c
	bad.Version = FormatVersion + 1
	assert.ErrorIs(t, bad.Validate(), hal.ErrUnsupported)
	bad = *c
	bad.Format = "x"
	assert.ErrorIs(t, bad.Validate(), hal.ErrInvalid)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{"), 0o644))
	_, err = Load(filepath.Join(dir, "junk.json"))
	assert.ErrorIs(t, err, hal.ErrInvalid)
}

// The calibrated board keeps hal.Board's contract, with and without
// dithering.
func TestWrappedConformance(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=3", Options{Events: 2000, BiasTaus: 200})
	for _, o := range []*WrapOptions{nil, {Dither: true, DitherRows: 64}} {
		haltest.Run(t, func(t *testing.T) hal.Board {
			w, err := Wrap(haltest.Open(t, "sim:proto8?seed=3"), c, o)
			require.NoError(t, err)
			return w
		})
	}
}

// A freshly calibrated board passes the check.
func TestCheckHoldsAfterCalibration(t *testing.T) {
	b := haltest.Open(t, "sim:proto8?seed=4")
	c, err := Calibrate(context.Background(), b, &quick)
	require.NoError(t, err)
	rep, err := Check(context.Background(), b, c, &CheckOptions{Events: 3000})
	require.NoError(t, err)
	assert.True(t, rep.Holds, "%+v", rep)
	assert.Empty(t, rep.Warnings)
	// With the full covariance, χ²/dof of a fresh calibration is a
	// χ²_80/80 draw: mean 1, standard deviation √(2/80) = 0.16. Without
	// the bias reset the check's transients railed (0 transitions).
	assert.InDelta(t, 1, rep.Chi2PerDof, 5*math.Sqrt(2.0/80), "%+v", rep)
	assert.Equal(t, 80, rep.Dof)
}

// A short or hand-edited file is refused when loaded, naming the field,
// instead of making Check or Wrap index out of range later.
func TestDamagedFileRefused(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	var buf bytes.Buffer
	require.NoError(t, c.Encode(&buf))
	for _, tc := range []struct {
		edit func(m map[string]any)
		want string
		err  error
	}{
		{func(m map[string]any) { delete(m["couplings"].(map[string]any), "gain_se") }, "couplings.gain_se has 0 entries, want 64", hal.ErrDimension},
		{func(m map[string]any) { m["adc"].(map[string]any)["gain_se"] = []any{} }, "adc.gain_se has 0 entries, want 8", hal.ErrDimension},
		{func(m map[string]any) { m["couplings"].(map[string]any)["offset"].([]any)[3] = 1e308 }, "couplings.offset[3] = 1e+308", hal.ErrInvalid},
		{func(m map[string]any) { m["cells"].(map[string]any)["tau_s"].([]any)[1] = -1 }, "cells.tau_s[1] = -1, want a positive value", hal.ErrInvalid},
		{func(m map[string]any) { m["success"] = []any{true} }, "success has 1 entries", hal.ErrDimension},
		// Unknown fields are refused, as in profile and problem files.
		{func(m map[string]any) { m["adc"].(map[string]any)["gian"] = []any{1} }, `unknown field "gian"`, hal.ErrInvalid},
		{func(m map[string]any) { m["comment"] = "x" }, `unknown field "comment"`, hal.ErrInvalid},
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
		tc.edit(m)
		data, err := json.Marshal(m)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		_, err = Load(path)
		require.ErrorIs(t, err, tc.err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// Info never changes: a recalibration keeps the ranges fixed at Wrap (with
// their margin), one that cannot reach them is refused, and a calibrated
// board cannot be calibrated twice over.
func TestWrapInfoFixed(t *testing.T) {
	b := haltest.Open(t, "sim:proto8?seed=1")
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	w, err := Wrap(b, c, nil)
	require.NoError(t, err)
	in := w.Info()
	// Every element's reach m_e = 2·gain_e − |offset_e| ≥ Info's maximum
	// divided by (1 − margin).
	for e, g := range c.Couplings.Gain {
		assert.GreaterOrEqual(t, 2*g-math.Abs(c.Couplings.Offset[e]), in.Coupling.Max/(1-DefaultRangeMargin)*(1-1e-9), "element %d", e)
	}
	c2 := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100, Seed: 9})
	require.NoError(t, w.SetCalibration(c2))
	assert.Equal(t, in, w.Info(), "a recalibration leaves Info as it was")

	var shrunk Calibration
	var buf bytes.Buffer
	require.NoError(t, c2.Encode(&buf))
	require.NoError(t, json.Unmarshal(buf.Bytes(), &shrunk))
	for e := range shrunk.Couplings.Gain {
		shrunk.Couplings.Gain[e] *= 0.9 // the elements reach 10 % less
	}
	err = w.SetCalibration(&shrunk)
	require.ErrorIs(t, err, hal.ErrUnsupported)
	assert.Contains(t, err.Error(), "wrap the board anew")
	assert.Same(t, c2, w.Calibration(), "a refused calibration changes nothing")

	_, err = Wrap(w, c, nil)
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), "already calibrated")
}

// satAbove reports channel 2 saturated whenever the bias exceeds 1 V, like
// a channel whose ADC clips there.
type satAbove struct {
	hal.Board
	hi bool
}

func (b *satAbove) SetBias(ctx context.Context, v []float64) error {
	b.hi = v[2] > 1
	return b.Board.SetBias(ctx, v)
}

func (b *satAbove) Sample(ctx context.Context, p time.Duration, dst []float64) (int, error) {
	n, err := b.Board.Sample(ctx, p, dst)
	if err == nil && b.hi {
		counts := make([]int, b.Info().Cells)
		counts[2] = n
		err = &hal.SaturationError{Counts: counts, Samples: n}
	}
	return n, err
}

// Bias levels at which a channel saturated are left out of its fit and
// named in the notes; the other channels keep every level.
func TestBiasSweepDropsSaturatedLevels(t *testing.T) {
	b := &satAbove{Board: haltest.Open(t, "sim:proto8?seed=1")}
	c, err := Calibrate(context.Background(), b, &Options{Events: 800, Probes: 4, BiasTaus: 100})
	require.NoError(t, err)
	dropped := 0
	for _, lv := range c.Bias.Levels {
		if lv > 1 {
			dropped++
		}
	}
	require.Positive(t, dropped)
	notes := strings.Join(c.Notes, "\n")
	assert.Equal(t, dropped, strings.Count(notes, "channel 2: bias level"), notes)
	assert.NotContains(t, notes, "channel 3: bias level")
	// With the clipped levels left out, channel 2's line is still the
	// board's: its gain within 5 combined standard errors of channel 2's on
	// the same board without the fault (the seeds are fixed).
	ref := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	assert.InDelta(t, ref.Bias.Gain[2], c.Bias.Gain[2], 5*math.Hypot(ref.Bias.GainSE[2], c.Bias.GainSE[2]))
}

// Serials with glob metacharacters still find their cache entries, and a
// board that describes itself differently under the same serial (another
// nominal τ or coupling grid) is refused as another board: it used to be
// only a staleness warning.
func TestCacheGlobAndDescriptionMismatch(t *testing.T) {
	p := CachePath("/c", "LAB[7]*?", "abc")
	assert.Equal(t, filepath.Join("/c", "LAB_7___-abc.json"), p)

	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	dir := t.TempDir()
	info := haltest.Open(t, "sim:proto8?seed=1").Info()
	c.Board.Serial, info.Serial = "LAB[7]", "LAB[7]"
	c.Key = ContentKey(info, c.Options) // the key hashes the serial
	require.NoError(t, c.Save(CachePath(dir, c.Board.Serial, c.Key)))
	found, _, err := FindCached(dir, info, nil)
	require.NoError(t, err)
	assert.Equal(t, c.Key, found.Key)

	assert.Empty(t, c.Staleness(c.MeasuredAt, info, nil, Limits{}))
	require.NoError(t, c.Matches(info))
	for name, change := range map[string]func(*hal.Info){
		"nominal τ":        func(in *hal.Info) { in.Tau *= 2 },
		"coupling step":    func(in *hal.Info) { in.CouplingStep *= 1.01 },
		"coupling maximum": func(in *hal.Info) { in.Coupling.Max = 4 },
	} {
		other := info
		change(&other)
		err := c.Matches(other)
		require.ErrorIs(t, err, ErrWrongBoard, name)
		assert.Contains(t, err.Error(), name)
		_, _, err = FindCached(dir, other, nil)
		assert.ErrorIs(t, err, os.ErrNotExist, name)
	}
	// float32 on a serial link rounds the nominal values; that is the same board.
	rounded := info
	rounded.Coupling.Max = float64(float32(rounded.Coupling.Max * (1 + 1e-7)))
	require.NoError(t, c.Matches(rounded))
}

// A serial of any length gives a cache file name the file system accepts
// (it used to fail with "file name too long" at the very end of a
// calibration), distinct serials give distinct names, and FindCached finds
// the file again.
func TestCachePathLongSerial(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	dir := t.TempDir()
	info := haltest.Open(t, "sim:proto8?seed=1").Info()
	long := strings.Repeat("LAB-RACK-7-SLOT-3-", 20) // 360 bytes
	names := map[string]bool{}
	for _, serial := range []string{long + "1", long + "2", "SHORT-1"} {
		p := CachePath(dir, serial, c.Key)
		assert.LessOrEqual(t, len(filepath.Base(p)), 100, p)
		assert.False(t, names[p], "two serials share %s", p)
		names[p] = true
	}
	c.Board.Serial, info.Serial = long+"1", long+"1"
	c.Key = ContentKey(info, c.Options) // the key hashes the serial
	require.NoError(t, c.Save(CachePath(dir, c.Board.Serial, c.Key)))
	found, _, err := FindCached(dir, info, nil)
	require.NoError(t, err)
	assert.Equal(t, c.Key, found.Key)
	found, _, err = FindCached(dir, info, &c.Options)
	require.NoError(t, err)
	assert.Equal(t, c.Board.Serial, found.Board.Serial)
}

// Progress names every stage, in order — each probe's transients, then the
// bias sweep — with a fraction that never goes back and ends at 1.
func TestProgressNamesStages(t *testing.T) {
	var stages []string
	last := 0.0
	o := Options{Events: 800, Probes: 4, BiasTaus: 100, Progress: func(stage string, done float64) {
		require.GreaterOrEqual(t, done, last, "progress went back in %q", stage)
		last = done
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
	}}
	calibrate(t, "sim:proto8?seed=1", o)
	want := []string{StageProbe(1, 4), StageProbe(2, 4), StageProbe(3, 4), StageProbe(4, 4), StageBias}
	assert.Equal(t, want, stages)
	assert.Contains(t, want[0], "probe 1 of 4: transients for ADC, couplings, τ, noise")
	assert.Equal(t, 1.0, last)
}

// With several bad gains, Validate names the first in the documented order
// (adc.gain, bias_dac.gain, couplings.gain, cells.tau_s) every time, not
// whichever a map's iteration order happens to reach first.
func TestValidateNamesFirstBadGainInOrder(t *testing.T) {
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	bad := *c
	zero := func(v []float64, i int) []float64 {
		v = slices.Clone(v)
		v[i] = 0
		return v
	}
	bad.ADC.Gain = zero(c.ADC.Gain, 2)
	bad.Bias.Gain = zero(c.Bias.Gain, 0)
	bad.Couplings.Gain = zero(c.Couplings.Gain, 5)
	bad.Cells.TauS = zero(c.Cells.TauS, 1)
	for _, tc := range []struct {
		want string
		fix  func()
	}{
		{"adc.gain[2] = 0", func() { bad.ADC.Gain = c.ADC.Gain }},
		{"bias_dac.gain[0] = 0", func() { bad.Bias.Gain = c.Bias.Gain }},
		{"couplings.gain[5] = 0", func() { bad.Couplings.Gain = c.Couplings.Gain }},
		{"cells.tau_s[1] = 0", func() { bad.Cells.TauS = c.Cells.TauS }},
	} {
		for range 20 {
			err := bad.Validate()
			require.ErrorIs(t, err, hal.ErrInvalid)
			require.ErrorContains(t, err, "calibration: "+tc.want+", want a positive value")
		}
		tc.fix()
	}
	require.NoError(t, bad.Validate())
}
