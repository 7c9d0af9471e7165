package tngd

import (
	"fmt"
	"math"
	"strings"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim/internal/phys"
)

// Profile describes the large virtual SPU of the TNGD paper
// (Donatella et al. 2024), opened as "sim:tngd". Its couplings exist only in
// factored form, A = λI + Scale·JᵀHJ (hal.Factored), as the paper's circuit
// stores J, Jᵀ and H in resistor arrays; the simulator never forms an N × N
// matrix. Every non-ideality is off at zero; docs/profiles.md gives the
// units and the defaults of DefaultProfile.
type Profile struct {
	// Cells is the number of cells N_max (1…10⁶).
	Cells int `json:"cells"`
	// TauS is τ = RC in seconds (paper: 1 µs). Per-cell τ mismatch is not
	// modelled on this board.
	TauS float64 `json:"tau_s"`
	// NoiseV is σ in volts; the injected noise is κ₀ = σ² (V²) per τ:
	// dx = −(A x − b) dt/τ + sqrt(2κ₀/τ) dW.
	NoiseV float64 `json:"noise_v"`

	// DACBits quantises every programmed Signal and Input entry of J and
	// every entry of H to a signed DAC whose full scale is the largest
	// |entry| of its array (a programmable reference): step =
	// max|entry|/(2^(bits−1) − 1). 0 = continuous.
	DACBits int `json:"dac_bits"`
	// Mismatch is the bound of each programmed element's relative gain
	// error (uniform ±), fixed per board seed. 0 = none.
	Mismatch float64 `json:"mismatch"`

	// BiasBits and BiasRangeV describe the bias DAC (±range, codes as
	// hal.Converter). 0 bits = continuous.
	BiasBits   int     `json:"bias_bits"`
	BiasRangeV float64 `json:"bias_range_v"`
	// ADCBits and ADCRangeV describe the node-voltage ADC (±range, codes
	// as hal.Converter); readings beyond the codes are clipped and
	// reported as saturated. 0 bits = continuous.
	ADCBits   int     `json:"adc_bits"`
	ADCRangeV float64 `json:"adc_range_v"`
	// ADCFilterHz is the −3 dB frequency in Hz of a second-order
	// Butterworth anti-aliasing filter in front of every ADC channel (the
	// dense board's adc.filter_hz, sim/rails.go); the ADC reads the
	// filter's output. 0 = none. With a filter every transition takes the
	// eigendecomposition path (filter.go).
	ADCFilterHz float64 `json:"adc_filter_hz"`
	// ADCConvS is the conversion time of one sample of all cells
	// (simultaneous sampling) in seconds.
	ADCConvS float64 `json:"adc_conversion_s"`
	// MinPeriodS is the shortest analog interval between two samples.
	MinPeriodS float64 `json:"min_period_s"`

	// LinkBytesPerS is the host link bandwidth in bytes/s; every value
	// crosses it as a 16-bit word. 0 = instantaneous.
	LinkBytesPerS float64 `json:"link_bytes_per_s"`
	// FreeRun lets the cells keep integrating on the old settings while
	// the link is busy (programming, bias, readout) and while the ADC
	// converts. By default the board holds its state meanwhile (the hold
	// mode of an analog computer), so only Run and the sample periods
	// move it.
	FreeRun bool `json:"free_run"`

	// Method picks the evaluation of the exact transition: "auto" (the
	// default: eigendecomposition for m ≤ 64, Lanczos otherwise, switching
	// to the eigendecomposition once the Lanczos work on one programming
	// exceeds its cost), "lanczos" or "eig".
	Method string `json:"method"`
	// LanczosTol is the relative tolerance at which two successive Lanczos
	// approximations must agree (they are compared every 4 steps up to
	// step 32, then every j/8 steps); 0 means 1e-10.
	LanczosTol float64 `json:"lanczos_tol"`
	// LanczosMax caps the Lanczos steps of one evaluation; 0 means 400.
	LanczosMax int `json:"lanczos_max"`
}

// DefaultProfile returns the sim:tngd board: the paper's τ = 1 µs and
// 16-bit converters, σ = 1 mV (κ₀ = 10⁻⁶ V²), ±1 V bias and ADC, 1 µs
// conversion, a 1 GB/s link, no mismatch.
func DefaultProfile() Profile {
	return Profile{
		Cells: 100000, TauS: 1e-6, NoiseV: 1e-3,
		DACBits: 16, BiasBits: 16, BiasRangeV: 1, ADCBits: 16, ADCRangeV: 1,
		ADCConvS: 1e-6, MinPeriodS: 0.1e-6, LinkBytesPerS: 1e9,
	}
}

const (
	maxCells       = 1_000_000
	maxRows        = 8192 // m: G is m × m, 512 MB at the cap
	defaultTol     = 1e-10
	defaultMax     = 400
	eigSmall       = 64   // auto: eigendecomposition up to this m
	eigFallback    = 2048 // auto: largest m worth an eigendecomposition
	eigWorkFactor  = 8    // auto: switch after 8·m products with G
	bytesPerValue  = 2    // 16-bit words over the link
	streamMismatch = 0x6d69736d61746368
	maxFilterHz    = 1e12 // far above any τ's bandwidth: the bound only keeps ω·t finite
)

// Validate checks the profile's fields; voltages and times have the
// physical bounds of sim.Profile.Validate (package sim/internal/phys).
func (p Profile) Validate() error {
	var e phys.FieldErrs
	if p.Cells < 1 || p.Cells > maxCells {
		e.Bad("cells", p.Cells, "1..1000000")
	}
	e.Within("tau_s", p.TauS, phys.MinTauS, phys.MaxTauS, " s", phys.WhyTau)
	e.Within("noise_v", p.NoiseV, 0, phys.MaxVolts, " V", phys.WhyVolts)
	for _, c := range []struct {
		name string
		bits int
	}{{"dac_bits", p.DACBits}, {"bias_bits", p.BiasBits}, {"adc_bits", p.ADCBits}} {
		if c.bits < 0 || c.bits > 24 || c.bits == 1 {
			e.Bad(c.name, c.bits, "0 (continuous) or 2..24")
		}
	}
	if !(p.Mismatch >= 0 && p.Mismatch < 0.5) {
		e.Bad("mismatch", p.Mismatch, "0 ≤ x < 0.5")
	}
	e.Positive("bias_range_v", p.BiasRangeV, phys.MaxVolts, " V", phys.WhyVolts)
	e.Positive("adc_range_v", p.ADCRangeV, phys.MaxVolts, " V", phys.WhyVolts)
	if !(p.ADCFilterHz >= 0 && p.ADCFilterHz <= maxFilterHz) {
		e.Bad("adc_filter_hz", p.ADCFilterHz, "0 (none) … 1e12 Hz")
	}
	if p.ADCFilterHz > 0 && p.Method == "lanczos" {
		e.Bad("method", `"lanczos"`, `"auto" or "eig" with adc_filter_hz > 0 (the filter takes the eigendecomposition path)`)
	}
	e.Within("adc_conversion_s", p.ADCConvS, 0, phys.MaxPeriodS, " s", phys.WhyPeriod)
	e.Positive("min_period_s", p.MinPeriodS, phys.MaxPeriodS, " s", phys.WhyPeriod)
	if !(p.LinkBytesPerS >= 0) || math.IsInf(p.LinkBytesPerS, 0) {
		e.Bad("link_bytes_per_s", p.LinkBytesPerS, "a finite value ≥ 0")
	}
	switch p.Method {
	case "", "auto", "lanczos", "eig":
	default:
		e.Bad("method", fmt.Sprintf("%q", p.Method), `"auto", "lanczos" or "eig"`)
	}
	if !(p.LanczosTol >= 0 && p.LanczosTol < 1) {
		e.Bad("lanczos_tol", p.LanczosTol, "0 (default 1e-10) or in (0, 1)")
	}
	if p.LanczosMax < 0 {
		e.Bad("lanczos_max", p.LanczosMax, "0 (default 400) or > 0")
	}
	if len(e) > 0 {
		return fmt.Errorf("sim:tngd profile: %s: %w", strings.Join(e, "; "), hal.ErrInvalid)
	}
	return nil
}

// Stats counts the numerical work of a TNGD board, for benchmarks.
type Stats struct {
	// Transitions is the number of exact transitions applied.
	Transitions int
	// LanczosRuns and LanczosSteps count Lanczos evaluations and their
	// steps; MaxLanczosSteps is the most steps one evaluation took.
	LanczosRuns, LanczosSteps, MaxLanczosSteps int
	// GramProducts counts products with the m × m Gram matrix G.
	GramProducts int
	// Eigendecompositions counts eigendecompositions of G.
	Eigendecompositions int
}
