// Package twin turns one board's calibration into a simulator profile whose
// per-element truth is the calibration's estimate (a sim.Twin section), so
// that sim:FILE.json behaves like that unit: the same τ per cell, coupling
// gains and offsets, bias and ADC lines (and bias INL where measured), and
// injected noise per cell. CI can then run against a twin of the lab's own
// board (docs/calibration.md, "A twin of a unit").
//
// It sits between calibration and sim, which must not import each other
// (calibration measures a board through hal.Board only, and each package's
// tests use the other).
package twin

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/atomicfile"
	"github.com/spukit/spukit/sim"
)

// sameRel is how close the calibration's nominal values must be to the
// base profile's: a serial link carries them as float32 (as in
// calibration.Matches).
const sameRel = 1e-6

// Profile returns base with c's estimates as its twin section. base gives
// everything a calibration does not measure — ranges, resolutions, rails,
// timing, read noise, tempcos, ageing and the temperature walk — and must
// have the calibrated board's cells, nominal τ, coupling range and step.
// A calibration with a failed channel is refused: its estimates there are
// not the board's.
func Profile(base sim.Profile, c *calibration.Calibration) (sim.Profile, error) {
	if err := c.Validate(); err != nil {
		return sim.Profile{}, err
	}
	if err := matches(base, c); err != nil {
		return sim.Profile{}, err
	}
	var failed []int
	for i, ok := range c.Success {
		if !ok {
			failed = append(failed, i)
		}
	}
	if len(failed) > 0 {
		return sim.Profile{}, fmt.Errorf("twin: the calibration of %s failed on channels %v, whose estimates are not the board's: recalibrate it: %w",
			c.Board.Serial, failed, hal.ErrInvalid)
	}
	k, tref := c.Board.Cells, c.Board.TauS
	tw := &sim.Twin{
		Serial:  c.Board.Serial,
		Source:  fmt.Sprintf("calibration %s of %s (%s), measured %s", c.Key, c.Board.Serial, c.Board.Firmware, c.MeasuredAt.UTC().Format(time.RFC3339)),
		TauS:    append([]float64(nil), c.Cells.TauS...),
		ADCGain: append([]float64(nil), c.ADC.Gain...), ADCOffsetV: append([]float64(nil), c.ADC.Offset...),
		NoiseV:       append([]float64(nil), c.Cells.NoiseV...),
		CouplingGain: make([]float64, k*k),
		BiasGain:     make([]float64, k), BiasOffsetV: make([]float64, k),
	}
	// The calibration refers the dynamics to the nominal τ: τ_ref·M_ij =
	// E_ij·A_ij + O_ij and τ_ref·g_i = β_i(v) = G_i·v + O_i + INL_i(v).
	// The simulator realises M_ij = (gain_ij·A_ij + offset_ij)/τ_i and
	// g_i = b_i/τ_i, so every row is scaled by r_i = τ_i/τ_ref.
	var offsets bool
	for i := range k {
		r := c.Cells.TauS[i] / tref
		for j := range k {
			e := i*k + j
			tw.CouplingGain[e] = c.Couplings.Gain[e] * r
			if c.Couplings.Offset[e] != 0 {
				offsets = true
			}
		}
		tw.BiasGain[i] = c.Bias.Gain[i] * r
		tw.BiasOffsetV[i] = c.Bias.Offset[i] * r
	}
	if offsets {
		tw.CouplingOffset = make([]float64, k*k)
		for e, o := range c.Couplings.Offset {
			tw.CouplingOffset[e] = o * c.Cells.TauS[e/k] / tref
		}
	}
	tw.BiasINL = inl(c)
	p := base
	p.Name, p.Twin = base.Name+"-twin", tw
	if err := p.Validate(); err != nil {
		return sim.Profile{}, fmt.Errorf("twin of %s: %w", c.Board.Serial, err)
	}
	return p, nil
}

// inl converts the calibration's INL table, β's deviation from its line,
// into the twin's, the deviation at the DAC's output before the channel's
// gain: b = gain·(v + INL(v)) + offset with gain = r·G, so INL = INL_β/G.
func inl(c *calibration.Calibration) *sim.TwinINL {
	if c.Bias.INL == nil {
		return nil
	}
	t := &sim.TwinINL{LevelsV: append([]float64(nil), c.Bias.Levels...), INLV: make([][]float64, len(c.Bias.INL))}
	for i, row := range c.Bias.INL {
		if row == nil {
			continue
		}
		t.INLV[i] = make([]float64, len(row))
		for l, v := range row {
			t.INLV[i][l] = v / c.Bias.Gain[i]
		}
	}
	return t
}

// matches checks that base describes the calibrated board's geometry.
func matches(base sim.Profile, c *calibration.Calibration) error {
	if base.Cells != c.Board.Cells {
		return fmt.Errorf("twin: profile %q has %d cells, the calibration of %s %d: %w", base.Name, base.Cells, c.Board.Serial, c.Board.Cells, hal.ErrDimension)
	}
	step := 0.0
	if base.Coupling.Bits > 0 {
		step = base.Coupling.Max / (math.Exp2(float64(base.Coupling.Bits)) - 1)
	}
	for _, q := range []struct {
		name         string
		profile, cal float64
	}{
		{"nominal τ (s)", base.TauS, c.Board.TauS},
		{"coupling maximum (1/τ)", base.Coupling.Max, c.Board.CouplingMax},
		{"coupling step (1/τ)", step, c.Board.CouplingStep},
	} {
		if math.Abs(q.profile-q.cal) > sameRel*math.Max(math.Abs(q.profile), math.Abs(q.cal)) {
			return fmt.Errorf("twin: profile %q has %s %g, the calibration of %s was measured with %g: pass the profile of that board's design: %w",
				base.Name, q.name, q.profile, c.Board.Serial, q.cal, hal.ErrInvalid)
		}
	}
	return nil
}

// Base returns the profile that hal.Info describes, for a board whose design
// profile is not at hand (a serial or SPI board): its cells, topology, τ,
// coupling range and resolution, converter ranges and resolutions and
// shortest sample period, with the calibration's mean injected noise as the
// nominal σ. What Info does not carry is off: no rails, no operation
// timing, no ADC read noise, no temperature drift or ageing. It is named
// "unit"; Profile calls it "unit-twin".
func Base(info hal.Info, c *calibration.Calibration) (sim.Profile, error) {
	if info.Coupling.Min != -info.Coupling.Max {
		return sim.Profile{}, fmt.Errorf("twin: coupling range [%g, %g] is not symmetric about 0, which sim profiles need: %w",
			info.Coupling.Min, info.Coupling.Max, hal.ErrUnsupported)
	}
	bits := 0
	if info.CouplingStep > 0 {
		bits = int(math.Round(math.Log2(info.Coupling.Max/info.CouplingStep + 1)))
	}
	var noise float64
	for _, s := range c.Cells.NoiseV {
		noise += s / float64(len(c.Cells.NoiseV))
	}
	p := sim.Profile{
		Name: "unit", Version: "1", Cells: info.Cells, Topology: info.Topology.String(),
		TauS: info.Tau.Seconds(), NoiseV: noise,
		Coupling: sim.CouplingProfile{Max: info.Coupling.Max, Bits: bits},
		Bias:     sim.DACProfile{MinV: info.Bias.Min, MaxV: info.Bias.Max, Bits: info.Bias.Bits},
		ADC:      sim.ADCProfile{MinV: info.ADC.Min, MaxV: info.ADC.Max, Bits: info.ADC.Bits, MinPeriodS: info.MinSamplePeriod.Seconds()},
		Thermal:  sim.ThermalProfile{AmbientC: 25},
	}
	if err := p.Validate(); err != nil {
		return sim.Profile{}, fmt.Errorf("twin: the board's description: %w", err)
	}
	return p, nil
}

// Save writes p as indented JSON to path atomically; sim:PATH opens it.
func Save(path string, p sim.Profile) error {
	err := atomicfile.WriteFile(path, ".twin-", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	})
	if err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	return nil
}
