package sim

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/jsonfile"
	"github.com/spukit/spukit/sim/internal/phys"
)

// Profile describes a simulated board: its size, its nominal parts and the
// spread and drift of those parts. A zero in a non-ideality field switches
// that non-ideality off. Profiles are data: they load from JSON (see
// docs/profiles.md for every field and its unit). Tolerances are bounds of
// uniform distributions: a part with tolerance 0.01 is drawn in ±1 %.
type Profile struct {
	// Name identifies the profile, e.g. "proto8".
	Name string `json:"name"`
	// Version of the profile; reported as Info.Firmware.
	Version string `json:"version"`
	// Cells is K, the number of cells.
	Cells int `json:"cells"`
	// Topology is "general" (every A_ij its own element) or "symmetric".
	Topology string `json:"topology"`
	// TauS is the nominal cell time constant τ = RC in seconds.
	TauS float64 `json:"tau_s"`
	// CapacitorTolerance is the relative tolerance of each cell's capacitor;
	// cell i's time constant is τ(1+δ_i), δ_i uniform in ±tolerance.
	CapacitorTolerance float64 `json:"capacitor_tolerance"`
	// NoiseV is the injected noise σ in volts (see hal package doc).
	NoiseV float64 `json:"noise_v"`
	// NoiseSource says how the injected noise enters a cell (see
	// NoiseScaled and NoiseCurrent); "" is NoiseScaled.
	NoiseSource string `json:"noise_source"`
	// RailV is the op-amp rail: node voltages are held within ±RailV and a
	// node at its rail is reported as saturated. 0 means no rails.
	RailV float64 `json:"rail_v"`

	Coupling CouplingProfile `json:"coupling"`
	Bias     DACProfile      `json:"bias_dac"`
	ADC      ADCProfile      `json:"adc"`
	Thermal  ThermalProfile  `json:"thermal"`
	Timing   TimingProfile   `json:"timing"`

	// Twin, when present, gives one unit's measured per-element values,
	// which replace the seeded draw (see Twin and docs/profiles.md).
	Twin *Twin `json:"twin,omitempty"`
}

// Noise sources (Profile.NoiseSource).
const (
	// NoiseScaled is noise whose diffusion scales as 1/τ_i per cell,
	// 2σ²/τ_i: the stationary covariance is σ²A⁻¹ for every symmetric A,
	// whatever the capacitors (the hal contract's idealisation).
	NoiseScaled = "scaled"
	// NoiseCurrent is a fixed noise current injected into each cell's
	// capacitor C_i: its diffusion goes as C_i⁻², 2σ²τ/τ_i² (τ nominal), so
	// a capacitor spread spreads the variances with it.
	NoiseCurrent = "current"
)

// CouplingProfile describes the coupling elements. Entry A_ij is realised
// as sign × code × step with step = Max/(2^Bits − 1); the sign is a
// polarity switch.
type CouplingProfile struct {
	// Max is the largest |A_ij| in units of 1/τ.
	Max float64 `json:"max"`
	// Bits is the resolution of the magnitude code; 0 means continuous.
	Bits int `json:"bits"`
	// Tolerance is each element's relative gain error bound (uniform ±).
	Tolerance float64 `json:"tolerance"`
	// TempcoPPM is the bound of each element's temperature coefficient in
	// ppm/°C (uniform ±).
	TempcoPPM float64 `json:"tempco_ppm_per_c"`
	// AgeingPerHour bounds each element's initial relative drift rate per
	// hour of board time (uniform ±: some parts drift up, some down). The
	// drift decelerates: an element with rate r has drifted by
	// r·t0·ln(1 + t/t0) after t hours, t0 = AgeingKneeH.
	AgeingPerHour float64 `json:"ageing_per_hour"`
	// RheostatOhm is the rheostat's nominal end-to-end resistance R_AB in
	// ohms; with WiperMinOhm/WiperMaxOhm it gives each element the offset
	// of its wiper resistance. 0: no rheostat (a multiplying DAC or an
	// ideal element), no wiper offset.
	RheostatOhm float64 `json:"rheostat_ohm"`
	// WiperMinOhm and WiperMaxOhm bound each element's wiper resistance
	// R_W (uniform). The element realises ±(code + R_W/R_step)·step with
	// R_step = R_AB/2^Bits: the rheostat is the feedback resistor of the
	// coupling amplifier, linear in its resistance, and R_W adds to it.
	WiperMinOhm float64 `json:"wiper_min_ohm"`
	WiperMaxOhm float64 `json:"wiper_max_ohm"`
	// AgeingKneeH is t0, the hours after which the drift has slowed to
	// half its initial rate; required when AgeingPerHour > 0.
	AgeingKneeH float64 `json:"ageing_knee_h"`
}

// DACProfile describes the bias DAC, one channel per cell.
type DACProfile struct {
	// MinV and MaxV bound the output in volts.
	MinV float64 `json:"min_v"`
	MaxV float64 `json:"max_v"`
	// Bits is the resolution; 0 means continuous.
	Bits int `json:"bits"`
	// INLLSB is the bound of the integral non-linearity in LSB.
	INLLSB float64 `json:"inl_lsb"`
	// OffsetV bounds each channel's offset in volts (uniform ±).
	OffsetV float64 `json:"offset_v"`
	// GainError bounds each channel's relative gain error (uniform ±); the
	// gain pivots about zero-scale (code 0, MinV after the level shift).
	GainError float64 `json:"gain_error"`
	// GainTempcoPPM bounds each channel's gain temperature coefficient in
	// ppm/°C (uniform ±), about zero-scale like the gain error.
	GainTempcoPPM float64 `json:"gain_tempco_ppm_per_c"`
	// OffsetTempcoV bounds each channel's offset drift in V/°C (uniform ±).
	OffsetTempcoV float64 `json:"offset_tempco_v_per_c"`
	// NoiseVRtHz is the white output noise density of a channel, in V/√Hz
	// at the cell's bias input (after the level shift).
	NoiseVRtHz float64 `json:"noise_v_per_rthz"`
}

// ADCProfile describes the node-voltage ADC.
type ADCProfile struct {
	// MinV and MaxV bound the input in volts; readings beyond are saturated.
	MinV float64 `json:"min_v"`
	MaxV float64 `json:"max_v"`
	// Bits is the resolution; 0 means continuous.
	Bits int `json:"bits"`
	// OffsetV bounds each channel's offset in volts (uniform ±).
	OffsetV float64 `json:"offset_v"`
	// GainError bounds each channel's relative gain error (uniform ±).
	GainError float64 `json:"gain_error"`
	// NoiseV is the rms input-referred noise of one reading in volts.
	NoiseV float64 `json:"noise_v"`
	// Multiplexed ADCs read the channels one after another, ChannelSkewS
	// apart; simultaneous-sampling ADCs read all at once.
	Multiplexed  bool    `json:"multiplexed"`
	ChannelSkewS float64 `json:"channel_skew_s"`
	// MinPeriodS is the shortest sample period in seconds (1/max rate).
	MinPeriodS float64 `json:"min_period_s"`
	// FilterHz is the −3 dB frequency in Hz of the ADC's second-order
	// Butterworth anti-aliasing filter, which every reading passes
	// through (sim/rails.go); 0 means none.
	FilterHz float64 `json:"filter_hz"`
}

// ThermalProfile describes the board temperature, an Ornstein–Uhlenbeck
// random walk around the ambient, which drives the coupling tempcos.
type ThermalProfile struct {
	// AmbientC is the mean temperature in °C (the reference of the tempcos).
	AmbientC float64 `json:"ambient_c"`
	// StdC is the stationary standard deviation of the temperature in °C.
	StdC float64 `json:"std_c"`
	// CorrTimeS is the correlation time of the temperature walk in seconds.
	CorrTimeS float64 `json:"corr_time_s"`
	// UpdateS is how often, in board time, temperature and ageing are
	// applied to the couplings.
	UpdateS float64 `json:"update_s"`
}

// TimingProfile gives the board time each operation takes.
type TimingProfile struct {
	// CouplingWriteS is the time to write one coupling element; only
	// elements whose code changes are written.
	CouplingWriteS float64 `json:"coupling_write_s"`
	// CouplingSettleS is the settling time after a coupling update.
	CouplingSettleS float64 `json:"coupling_settle_s"`
	// BiasWriteS is the time to write one bias channel that changed.
	BiasWriteS float64 `json:"bias_write_s"`
	// BiasSettleS is the settling time after a bias update.
	BiasSettleS float64 `json:"bias_settle_s"`
	// StateSetS is the time to force the node voltages (SetState).
	StateSetS float64 `json:"state_set_s"`
}

// builtins are the profiles known by name. Numbers for proto8 come from the
// parts a lab prototype would use; docs/profiles.md cites them.
var builtins = map[string]Profile{
	"ideal": {
		Name: "ideal", Version: "1", Cells: 8, Topology: "general",
		TauS: 100e-6, NoiseV: 0.01,
		Coupling: CouplingProfile{Max: 4},
		Bias:     DACProfile{MinV: -10, MaxV: 10},
		ADC:      ADCProfile{MinV: -10, MaxV: 10, MinPeriodS: 5e-6},
		Thermal:  ThermalProfile{AmbientC: 25},
	},
	"proto8": {
		Name: "proto8", Version: "3", Cells: 8, Topology: "general",
		// 100 kΩ × 1 nF, 5 % C0G capacitors.
		TauS: 100e-6, CapacitorTolerance: 0.05,
		// The injected noise is a fixed current into each capacitor.
		NoiseV: 0.01, NoiseSource: NoiseCurrent, RailV: 12,
		// AD5293-class 10-bit digital rheostat, 1 % end-to-end tolerance,
		// 35 ppm/°C, with a polarity switch for the sign.
		// Ageing: ±2·10⁻⁵/h at first, slowing after a day (≤ 0.18 % at
		// 1000 h).
		// The AD5293's wiper resistance (rheostat_ohm, wiper_*_ohm) is
		// left off: calibration does not yet model the polarity-odd offset
		// it makes (docs/profiles.md, "coupling").
		Coupling: CouplingProfile{Max: 2, Bits: 10, Tolerance: 0.01, TempcoPPM: 35, AgeingPerHour: 2e-5, AgeingKneeH: 24},
		// AD5676-class 16-bit octal DAC, level-shifted to ±5 V:
		// INL ±3 LSB, offset ±1.5 mV, gain error ±0.06 % FSR.
		// Level shift: V = 2·V_DAC − 5 V (2.5 V reference, gain 2). Drift
		// ±1 ppm/°C gain and ±1 µV/°C offset at the DAC (offset ×2 after
		// the shift), output noise 80 nV/√Hz ×2 (docs/profiles.md).
		Bias: DACProfile{MinV: -5, MaxV: 5, Bits: 16, INLLSB: 3, OffsetV: 1.5e-3, GainError: 6e-4,
			GainTempcoPPM: 1, OffsetTempcoV: 2e-6, NoiseVRtHz: 160e-9},
		// AD7606-class 16-bit ±5 V simultaneous-sampling ADC at 200 kSPS,
		// read through its on-chip second-order anti-aliasing filter:
		// 15 kHz in the ±5 V range as docs/profiles.md gives it (not
		// confirmed from the data sheet's text). Version 3 switched it on.
		ADC:     ADCProfile{MinV: -5, MaxV: 5, Bits: 16, OffsetV: 1.5e-3, GainError: 5e-4, NoiseV: 100e-6, MinPeriodS: 5e-6, FilterHz: 15e3},
		Thermal: ThermalProfile{AmbientC: 25, StdC: 1, CorrTimeS: 1800, UpdateS: 1},
		// 10 µs per element over the host link, 2 µs rheostat settling,
		// 5 µs per DAC channel, 5 µs DAC settling, 50 µs to force states.
		Timing: TimingProfile{CouplingWriteS: 10e-6, CouplingSettleS: 2e-6, BiasWriteS: 5e-6, BiasSettleS: 5e-6, StateSetS: 50e-6},
	},
}

// Builtin returns the built-in profile with the given name.
func Builtin(name string) (Profile, error) {
	p, ok := builtins[name]
	if !ok {
		return Profile{}, fmt.Errorf("sim profile %q: not a built-in (known: %s; and tngd, the virtual SPU) nor a .json file: %w",
			name, strings.Join(BuiltinNames(), ", "), hal.ErrInvalid)
	}
	return p, nil
}

// BuiltinNames lists the built-in profiles, sorted.
func BuiltinNames() []string {
	out := make([]string, 0, len(builtins))
	for n := range builtins {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// LoadProfile reads a profile from a JSON file. Unknown fields are errors;
// errors name the file and the field.
func LoadProfile(path string) (Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return Profile{}, fmt.Errorf("sim profile: %w", err)
	}
	defer f.Close()
	p, err := DecodeProfile(f)
	if err != nil {
		return Profile{}, fmt.Errorf("sim profile %s: %w", path, err)
	}
	return p, nil
}

// DecodeProfile decodes and validates one JSON profile from r.
func DecodeProfile(r io.Reader) (Profile, error) {
	data, err := jsonfile.Read(r, jsonfile.MaxBytes)
	if err != nil {
		return Profile{}, jsonfile.Invalid(err, hal.ErrInvalid)
	}
	var p Profile
	if err := jsonfile.Decode(data, &p); err != nil {
		return Profile{}, jsonfile.Invalid(err, hal.ErrInvalid)
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// Physical bounds of a profile's fields beyond those in package phys (see
// there why they exist).
const (
	// The bounds shared with sim:tngd (volts, couplings, τ, sample
	// periods) are in sim/internal/phys.
	// maxOpS bounds each write, settle and state-forcing time: a DAC write
	// or settle longer than a second is a fault, and K² writes of a second
	// (4096² s) still fit a time.Duration.
	maxOpS = 1
	// maxThermalS bounds the temperature walk's correlation and update
	// times: a day of correlation is already a climate-controlled lab;
	// ten days leave room.
	maxThermalS = 864e3
	// maxTempcoPPM bounds element tempcos: thermistors, the most sensitive
	// resistors made, reach about 4·10⁴ ppm/°C.
	maxTempcoPPM = 1e5
	// maxAgeingPerHour: an element drifting by its own value in an hour
	// has failed.
	maxAgeingPerHour = 1
	// The ageing knee t0 lies between 3.6 s and a century (beyond, ageing
	// is linear for any board's life).
	minKneeH, maxKneeH = 1e-3, 876000
	// maxAgeingScale bounds r·t0, the scale of the log-ageing drift: with
	// t0 ≥ 3.6 s, ln(1 + t/t0) ≤ 22 for any t a time.Duration holds (292
	// years), so the drift stays below 22 %.
	maxAgeingScale = 0.01
	// The board temperature lies above absolute zero and below where
	// solder melts (about 220 °C); its spread within 100 °C.
	minAmbientC, maxAmbientC, maxTempStdC = -273.15, 220, 100
	// maxRheostatOhm and maxWiperOhm bound the coupling rheostat: digital
	// rheostats reach 1 MΩ, wiper switches a few hundred ohms.
	maxRheostatOhm, maxWiperOhm = 1e7, 1e4
	// maxOffsetTempcoV bounds a DAC channel's offset drift (V/°C).
	maxOffsetTempcoV = 0.01
	// maxNoiseVRtHz bounds a DAC channel's output noise density (V/√Hz).
	maxNoiseVRtHz = 1e-3
	// maxFilterHz bounds the ADC's anti-aliasing filter: at 1 GHz it
	// passes everything an RC board with τ ≥ 1 ns makes.
	maxFilterHz = 1e9
	// maxINLLSB: a DAC's integral non-linearity beyond 2¹⁶ LSB is no
	// longer a DAC of that resolution.
	maxINLLSB = 1 << 16
)

// Reasons quoted in the messages.
const (
	whyOp = "a write or settle slower than a second is a fault"
)

// Validate checks every field and names the bad ones with their allowed
// range and, for physical bounds, the reason.
func (p Profile) Validate() error {
	var e phys.FieldErrs
	if p.Cells < 1 || p.Cells > 4096 {
		e.Bad("cells", p.Cells, "1..4096")
	}
	if _, err := hal.ParseTopology(p.Topology); err != nil {
		e.Bad("topology", fmt.Sprintf("%q", p.Topology), `"general" or "symmetric"`)
	}
	e.Within("tau_s", p.TauS, phys.MinTauS, phys.MaxTauS, " s", phys.WhyTau)
	if !(p.CapacitorTolerance >= 0 && p.CapacitorTolerance < 0.5) {
		e.Bad("capacitor_tolerance", p.CapacitorTolerance, "0 ≤ x < 0.5")
	}
	e.Within("noise_v", p.NoiseV, 0, phys.MaxVolts, " V", phys.WhyVolts)
	if p.NoiseSource != "" && p.NoiseSource != NoiseScaled && p.NoiseSource != NoiseCurrent {
		e.Bad("noise_source", fmt.Sprintf("%q", p.NoiseSource), `"scaled" (or empty) or "current"`)
	}
	e.Within("rail_v", p.RailV, 0, phys.MaxVolts, " V", phys.WhyVolts+"; 0 = no rails")
	e.Within("coupling.max", p.Coupling.Max, 1, phys.MaxCoupling, " 1/τ",
		"≥ 1 so that the identity is programmable; 10⁶ would be a 0.1 Ω element against a 100 kΩ cell")
	if p.Coupling.Bits < 0 || p.Coupling.Bits > 24 {
		e.Bad("coupling.bits", p.Coupling.Bits, "0..24 (0 = continuous)")
	}
	if !(p.Coupling.Tolerance >= 0 && p.Coupling.Tolerance < 0.5) {
		e.Bad("coupling.tolerance", p.Coupling.Tolerance, "0 ≤ x < 0.5")
	}
	e.Within("coupling.tempco_ppm_per_c", p.Coupling.TempcoPPM, 0, maxTempcoPPM, " ppm/°C", "thermistors reach about 4·10⁴")
	e.Within("coupling.ageing_per_hour", p.Coupling.AgeingPerHour, 0, maxAgeingPerHour, "", "an element drifting by its value in an hour has failed")
	p.validateRheostat(&e)
	if p.Coupling.AgeingPerHour > 0 {
		e.Within("coupling.ageing_knee_h", p.Coupling.AgeingKneeH, minKneeH, maxKneeH, " h",
			"required with ageing_per_hour: ageing decelerates after it; 3.6 s to a century")
	} else {
		e.Within("coupling.ageing_knee_h", p.Coupling.AgeingKneeH, 0, maxKneeH, " h", "a century")
	}
	if d := p.Coupling.AgeingPerHour * p.Coupling.AgeingKneeH; d > maxAgeingScale {
		e.Bad("coupling.ageing_per_hour × ageing_knee_h", d,
			fmt.Sprintf("≤ %g: the drift r·t0·ln(1+t/t0) then stays below 22 %% over the 292 years a board clock counts", float64(maxAgeingScale)))
	}
	p.validateConverters(&e)
	if p.Twin != nil && p.Cells >= 1 && p.Cells <= 4096 {
		p.Twin.validate(&e, p.Cells, p)
	}
	e.Positive("adc.min_period_s", p.ADC.MinPeriodS, phys.MaxPeriodS, " s", phys.WhyPeriod)
	e.Within("adc.channel_skew_s", p.ADC.ChannelSkewS, 0, phys.MaxPeriodS, " s", phys.WhyPeriod)
	e.Within("adc.filter_hz", p.ADC.FilterHz, 0, maxFilterHz, " Hz", "a filter beyond 1 GHz does not shape an RC board's signal; 0 = none")
	if p.ADC.Multiplexed && p.Cells > 1 && float64(p.Cells-1)*p.ADC.ChannelSkewS >= p.ADC.MinPeriodS {
		e.Bad("adc.channel_skew_s", p.ADC.ChannelSkewS, fmt.Sprintf("(cells-1)·skew < min_period_s = %g", p.ADC.MinPeriodS))
	}
	e.Within("thermal.ambient_c", p.Thermal.AmbientC, minAmbientC, maxAmbientC, " °C", "above absolute zero, below where solder melts")
	e.Within("thermal.std_c", p.Thermal.StdC, 0, maxTempStdC, " °C", "a board's temperature spread")
	e.Within("thermal.corr_time_s", p.Thermal.CorrTimeS, 0, maxThermalS, " s", "ten days")
	e.Within("thermal.update_s", p.Thermal.UpdateS, 0, maxThermalS, " s", "ten days")
	if p.drifts() && !(p.Thermal.UpdateS > 0) {
		e.Bad("thermal.update_s", p.Thermal.UpdateS, "> 0 when tempco or ageing is on")
	}
	if p.Thermal.StdC > 0 && !(p.Thermal.CorrTimeS > 0) {
		e.Bad("thermal.corr_time_s", p.Thermal.CorrTimeS, "> 0 when std_c > 0")
	}
	for _, t := range []struct {
		name string
		v    float64
	}{
		{"timing.coupling_write_s", p.Timing.CouplingWriteS}, {"timing.coupling_settle_s", p.Timing.CouplingSettleS},
		{"timing.bias_write_s", p.Timing.BiasWriteS}, {"timing.bias_settle_s", p.Timing.BiasSettleS},
		{"timing.state_set_s", p.Timing.StateSetS},
	} {
		e.Within(t.name, t.v, 0, maxOpS, " s", whyOp)
	}
	if len(e) > 0 {
		return fmt.Errorf("profile %q: %s: %w", p.Name, strings.Join(e, "; "), hal.ErrInvalid)
	}
	return nil
}

// validateRheostat checks the coupling rheostat's resistances.
func (p Profile) validateRheostat(e *phys.FieldErrs) {
	c := p.Coupling
	e.Within("coupling.rheostat_ohm", c.RheostatOhm, 0, maxRheostatOhm, " Ω", "digital rheostats reach 1 MΩ; 0 = none")
	e.Within("coupling.wiper_min_ohm", c.WiperMinOhm, 0, maxWiperOhm, " Ω", "a wiper switch of 10 kΩ is broken")
	e.Within("coupling.wiper_max_ohm", c.WiperMaxOhm, 0, maxWiperOhm, " Ω", "a wiper switch of 10 kΩ is broken")
	if c.WiperMinOhm > c.WiperMaxOhm {
		e.Bad("coupling.wiper_min_ohm", c.WiperMinOhm, fmt.Sprintf("≤ wiper_max_ohm = %g", c.WiperMaxOhm))
	}
	if c.WiperMaxOhm > 0 && !(c.RheostatOhm > 0 && c.Bits > 0) {
		e.Bad("coupling.wiper_max_ohm", c.WiperMaxOhm, "0 unless rheostat_ohm > 0 and bits > 0 (the wiper is part of a coded rheostat)")
	}
}

// validateConverters checks the bias DAC and the ADC.
func (p Profile) validateConverters(e *phys.FieldErrs) {
	for _, c := range []struct {
		name       string
		min, max   float64
		bits       int
		off, gain  float64
		extra      string
		extraValue float64
		extraMax   float64
		extraUnit  string
	}{
		{"bias_dac", p.Bias.MinV, p.Bias.MaxV, p.Bias.Bits, p.Bias.OffsetV, p.Bias.GainError, "inl_lsb", p.Bias.INLLSB, maxINLLSB, " LSB"},
		{"adc", p.ADC.MinV, p.ADC.MaxV, p.ADC.Bits, p.ADC.OffsetV, p.ADC.GainError, "noise_v", p.ADC.NoiseV, phys.MaxVolts, " V"},
	} {
		if !(c.min < c.max && c.min >= -phys.MaxVolts && c.max <= phys.MaxVolts) {
			e.Bad(c.name+".min_v/max_v", fmt.Sprintf("[%g, %g]", c.min, c.max),
				fmt.Sprintf("min_v < max_v within ±%g V (%s)", float64(phys.MaxVolts), phys.WhyVolts))
		}
		if c.bits < 0 || c.bits > 24 {
			e.Bad(c.name+".bits", c.bits, "0..24 (0 = continuous)")
		}
		e.Within(c.name+".offset_v", c.off, 0, phys.MaxVolts, " V", phys.WhyVolts)
		if !(c.gain >= 0 && c.gain < 0.5) {
			e.Bad(c.name+".gain_error", c.gain, "0 ≤ x < 0.5")
		}
		why := phys.WhyVolts
		if c.extra == "inl_lsb" {
			why = "beyond 2¹⁶ LSB it is no longer a DAC of that resolution"
		}
		e.Within(c.name+"."+c.extra, c.extraValue, 0, c.extraMax, c.extraUnit, why)
	}
	e.Within("bias_dac.gain_tempco_ppm_per_c", p.Bias.GainTempcoPPM, 0, maxTempcoPPM, " ppm/°C", "thermistors reach about 4·10⁴")
	e.Within("bias_dac.offset_tempco_v_per_c", p.Bias.OffsetTempcoV, 0, maxOffsetTempcoV, " V/°C", "10 mV/°C would move a ±5 V DAC by its range over 500 °C")
	e.Within("bias_dac.noise_v_per_rthz", p.Bias.NoiseVRtHz, 0, maxNoiseVRtHz, " V/√Hz", "1 µV/√Hz is a noisy DAC; 1 mV/√Hz is a noise generator")
	if p.Bias.Bits == 0 && p.Bias.INLLSB != 0 {
		e.Bad("bias_dac.inl_lsb", p.Bias.INLLSB, "0 for a continuous DAC (bits = 0)")
	}
}

// drifts reports whether couplings change over board time.
func (p Profile) drifts() bool {
	tempco := p.Coupling.TempcoPPM > 0 || p.Bias.GainTempcoPPM > 0 || p.Bias.OffsetTempcoV > 0
	return (tempco && p.Thermal.StdC > 0) || p.Coupling.AgeingPerHour > 0
}
