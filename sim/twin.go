package sim

import (
	"fmt"
	"math"

	"github.com/spukit/spukit/internal/linfit"
	"github.com/spukit/spukit/sim/internal/phys"
)

// Twin is the per-element truth of one particular unit, as its calibration
// measured it (package calibration/twin writes it from a calibration file):
// when a profile carries one, these values replace the seeded draw of the
// parts they describe, so that sim:FILE.json behaves like that unit.
// Everything a twin does not describe (tempcos, ageing, the temperature
// walk, ADC read noise, rails, timing, and whatever else the profile
// switches on) is drawn from the profile's spreads with the seed as usual.
//
// The values are in the simulator's own terms: cell i relaxes with τ_i,
// element (i, j) realises gain·A_ij + offset (in 1/τ_i), channel i's bias
// drives its cell with gain·(v + INL(v)) + offset volts for a programmed
// level v, and the ADC reads gain·x + offset.
type Twin struct {
	// Serial is the unit's serial number, reported as Info.Serial so that
	// the unit's own calibration applies to its twin. Empty: the usual
	// SIM-NAME-SEED.
	Serial string `json:"serial"`
	// Source says where the values come from (e.g. the calibration's key
	// and date); informational.
	Source string `json:"source,omitempty"`
	// TauS is each cell's time constant in seconds (K).
	TauS []float64 `json:"tau_s"`
	// CouplingGain and CouplingOffset give every element's realised value
	// gain·A + offset (K², row-major; the offset in units of 1/τ_i, and
	// optional: absent is zero).
	CouplingGain   []float64 `json:"coupling_gain"`
	CouplingOffset []float64 `json:"coupling_offset,omitempty"`
	// BiasGain and BiasOffsetV give each bias channel's transfer (K).
	BiasGain    []float64 `json:"bias_gain"`
	BiasOffsetV []float64 `json:"bias_offset_v"`
	// BiasINL, when present, is each channel's integral non-linearity in
	// volts at the DAC's output, tabulated at the levels and interpolated
	// linearly between them (constant beyond the ends); it replaces the
	// drawn INL bow. Absent: no INL.
	BiasINL *TwinINL `json:"bias_inl,omitempty"`
	// ADCGain and ADCOffsetV give each ADC channel's line (K).
	ADCGain    []float64 `json:"adc_gain"`
	ADCOffsetV []float64 `json:"adc_offset_v"`
	// NoiseV is each cell's injected noise σ_i in volts (K), in the hal
	// convention: the diffusion of cell i is 2σ_i²/τ_i.
	NoiseV []float64 `json:"noise_v"`
}

// TwinINL is a table of INL deviations per channel.
type TwinINL struct {
	// LevelsV are the programmed levels in volts, strictly increasing.
	LevelsV []float64 `json:"levels_v"`
	// INLV[i][l] is channel i's INL at LevelsV[l], volts; an empty row
	// means none on that channel.
	INLV [][]float64 `json:"inl_v"`
}

// Bounds of a twin's values beyond those shared with the profile.
const (
	// A twin's gains are measured corrections: a factor of two off the
	// nominal is a fault of the unit or of its calibration.
	minTwinGain, maxTwinGain = 0.5, 2
	maxTwinSerial            = 64
)

// validate checks the twin against a k-cell profile with the given bias
// range and coupling maximum, adding every bad field to e.
func (t *Twin) validate(e *phys.FieldErrs, k int, p Profile) {
	if len(t.Serial) > maxTwinSerial {
		e.Bad("twin.serial", fmt.Sprintf("%d bytes", len(t.Serial)), fmt.Sprintf("≤ %d bytes", maxTwinSerial))
	}
	vec := func(name string, v []float64, n int, lo, hi float64, unit, why string, optional bool) {
		if optional && v == nil {
			return
		}
		if len(v) != n {
			e.Bad(name, fmt.Sprintf("%d entries", len(v)), fmt.Sprintf("%d (cells = %d)", n, k))
			return
		}
		for i, x := range v {
			if !(x >= lo && x <= hi) {
				e.Bad(fmt.Sprintf("%s[%d]", name, i), x, fmt.Sprintf("%g … %g%s (%s)", lo, hi, unit, why))
				return // one per field is enough to find the file's fault
			}
		}
	}
	whyGain := "a measured gain a factor 2 off is a fault"
	vec("twin.tau_s", t.TauS, k, phys.MinTauS, phys.MaxTauS, " s", phys.WhyTau, false)
	vec("twin.coupling_gain", t.CouplingGain, k*k, minTwinGain, maxTwinGain, "", whyGain, false)
	vec("twin.coupling_offset", t.CouplingOffset, k*k, -p.Coupling.Max, p.Coupling.Max, " 1/τ", "within the coupling range", true)
	vec("twin.bias_gain", t.BiasGain, k, minTwinGain, maxTwinGain, "", whyGain, false)
	vec("twin.bias_offset_v", t.BiasOffsetV, k, -phys.MaxVolts, phys.MaxVolts, " V", phys.WhyVolts, false)
	vec("twin.adc_gain", t.ADCGain, k, minTwinGain, maxTwinGain, "", whyGain, false)
	vec("twin.adc_offset_v", t.ADCOffsetV, k, -phys.MaxVolts, phys.MaxVolts, " V", phys.WhyVolts, false)
	vec("twin.noise_v", t.NoiseV, k, 0, phys.MaxVolts, " V", phys.WhyVolts, false)
	if t.BiasINL != nil {
		t.BiasINL.validate(e, k)
	}
}

func (t *TwinINL) validate(e *phys.FieldErrs, k int) {
	if len(t.LevelsV) < 2 {
		e.Bad("twin.bias_inl.levels_v", t.LevelsV, "at least 2 levels")
		return
	}
	for l := 1; l < len(t.LevelsV); l++ {
		if !(t.LevelsV[l] > t.LevelsV[l-1]) || math.Abs(t.LevelsV[l]) > phys.MaxVolts {
			e.Bad("twin.bias_inl.levels_v", t.LevelsV, fmt.Sprintf("strictly increasing, within ±%g V", float64(phys.MaxVolts)))
			return
		}
	}
	if len(t.INLV) != k {
		e.Bad("twin.bias_inl.inl_v", fmt.Sprintf("%d channels", len(t.INLV)), fmt.Sprintf("%d (cells)", k))
		return
	}
	for i, row := range t.INLV {
		if len(row) != 0 && len(row) != len(t.LevelsV) {
			e.Bad(fmt.Sprintf("twin.bias_inl.inl_v[%d]", i), fmt.Sprintf("%d entries", len(row)), fmt.Sprintf("0 or %d (levels)", len(t.LevelsV)))
			return
		}
		for _, x := range row {
			if !(math.Abs(x) <= phys.MaxVolts) {
				e.Bad(fmt.Sprintf("twin.bias_inl.inl_v[%d]", i), x, fmt.Sprintf("within ±%g V", float64(phys.MaxVolts)))
				return
			}
		}
	}
}

// apply replaces the drawn values of tr with the twin's. The seeded draw
// has already run in full, so the parts a twin does not describe are the
// same as on the board with that seed.
//
// A twin's bias lines are measured about 0 V (b = gain·v + offset); the
// board's bias gain pivots about zero-scale, MinV, so the offset is stored
// as offset + MinV·(gain − 1), which realises the measured line.
func (t *Twin) apply(tr *truth, p Profile) {
	copy(tr.tau, t.TauS)
	copy(tr.coupGain, t.CouplingGain)
	if t.CouplingOffset != nil {
		tr.coupOffset = append([]float64(nil), t.CouplingOffset...)
	}
	// The measured lines include whatever wiper offset the unit has.
	clear(tr.coupWiper)
	copy(tr.biasGain, t.BiasGain)
	for i, o := range t.BiasOffsetV {
		tr.biasOffset[i] = o + p.Bias.MinV*(t.BiasGain[i]-1)
	}
	copy(tr.adcGain, t.ADCGain)
	copy(tr.adcOffset, t.ADCOffsetV)
	for i := range tr.inl {
		tr.inl[i] = [3]inlTerm{} // the measured transfer replaces the bow
		tr.diffusion[i] = 2 * t.NoiseV[i] * t.NoiseV[i] / t.TauS[i]
	}
	tr.inlTable = t.BiasINL
}

// at is channel i's INL at level v (volts), interpolated linearly and
// constant beyond the table's ends; 0 for a channel without a row.
func (t *TwinINL) at(i int, v float64) float64 {
	if len(t.INLV[i]) == 0 {
		return 0
	}
	return linfit.Interp(t.LevelsV, t.INLV[i], v)
}
