package sim

import (
	"math"
	"math/rand/v2"

	"github.com/spukit/spukit/sim/internal/phys"
)

// truth is one board's manufacturing spread, drawn once from its seed like
// the parts soldered onto a real board. It is unexported on purpose:
// calibration must measure it through hal.Board, never read it.
type truth struct {
	tau        []float64 // realised time constant of each cell, seconds
	coupGain   []float64 // 1 + tolerance of each coupling element (K²)
	coupTempco []float64 // relative change per °C of each element (K²)
	coupAge    []float64 // initial relative drift rate per hour of each element, signed (K²)
	coupWiper  []float64 // magnitude offset of each element from its wiper resistance, 1/τ (K²)
	biasGain   []float64 // 1 + gain error per bias channel, about zero-scale
	biasOffset []float64 // volts
	biasGainTC []float64 // relative gain change per °C per bias channel
	biasOffTC  []float64 // offset change per bias channel, V/°C
	inl        [][3]inlTerm
	adcGain    []float64
	adcOffset  []float64
	// diffusion is each cell's noise diffusion in V²/s (the drift's noise
	// term is √diffusion dW).
	diffusion []float64
	// A twin's measured values (nil on a drawn board): element offsets
	// (K², in 1/τ_i) and the bias INL table.
	coupOffset []float64
	inlTable   *TwinINL
}

// inlTerm is one sinusoid of a channel's INL bow, in LSB.
type inlTerm struct{ amp, phase float64 }

// Streams of the seeded PCG generator: truth, circuit noise, temperature,
// ADC read noise. The ADC has its own stream so that switching its noise on
// leaves the circuit's noise realisation of a seed unchanged.
const (
	streamTruth = 0x7472757468 // "truth"
	streamNoise = phys.StreamNoise
	streamTemp  = 0x74656d70       // "temp"
	streamADC   = 0x61646372656164 // "adcread"
)

func drawTruth(p Profile, seed uint64) truth {
	r := rand.New(rand.NewPCG(seed, streamTruth))
	k := p.Cells
	sym := func(bound float64) float64 { return bound * (2*r.Float64() - 1) }
	t := truth{
		tau:        make([]float64, k),
		coupGain:   make([]float64, k*k),
		coupTempco: make([]float64, k*k),
		coupAge:    make([]float64, k*k),
		biasGain:   make([]float64, k),
		biasOffset: make([]float64, k),
		coupWiper:  make([]float64, k*k),
		biasGainTC: make([]float64, k),
		biasOffTC:  make([]float64, k),
		inl:        make([][3]inlTerm, k),
		adcGain:    make([]float64, k),
		adcOffset:  make([]float64, k),
		diffusion:  make([]float64, k),
	}
	for i := range k {
		t.tau[i] = p.TauS * (1 + sym(p.CapacitorTolerance))
		t.biasGain[i] = 1 + sym(p.Bias.GainError)
		t.biasOffset[i] = sym(p.Bias.OffsetV)
		t.adcGain[i] = 1 + sym(p.ADC.GainError)
		t.adcOffset[i] = sym(p.ADC.OffsetV)
		t.diffusion[i] = cellDiffusion(p, t.tau[i])
		// A smooth bow of three harmonics whose amplitudes sum to at most
		// INLLSB, so |INL| ≤ INLLSB everywhere, reaching ~INLLSB somewhere.
		var sum float64
		for h := range t.inl[i] {
			a := r.Float64() / float64(h+1)
			t.inl[i][h] = inlTerm{amp: a, phase: 2 * math.Pi * r.Float64()}
			sum += a
		}
		for h := range t.inl[i] {
			if sum > 0 {
				t.inl[i][h].amp *= p.Bias.INLLSB / sum
			}
		}
	}
	for e := range k * k {
		t.coupGain[e] = 1 + sym(p.Coupling.Tolerance)
		t.coupTempco[e] = sym(p.Coupling.TempcoPPM * 1e-6)
		t.coupAge[e] = sym(p.Coupling.AgeingPerHour)
	}
	// Drawn after the parts above, so adding them left those unchanged.
	for i := range k {
		t.biasGainTC[i] = sym(p.Bias.GainTempcoPPM * 1e-6)
		t.biasOffTC[i] = sym(p.Bias.OffsetTempcoV)
	}
	if c := p.Coupling; c.RheostatOhm > 0 && c.Bits > 0 {
		// R_W adds R_W/R_step codes, R_step = R_AB/2^bits, of the coupling
		// step Max/(2^bits − 1) (the code 2^bits − 1 gives Max).
		perOhm := math.Exp2(float64(c.Bits)) / c.RheostatOhm * c.Max / (math.Exp2(float64(c.Bits)) - 1)
		for e := range k * k {
			t.coupWiper[e] = (c.WiperMinOhm + (c.WiperMaxOhm-c.WiperMinOhm)*r.Float64()) * perOhm
		}
	}
	if p.Twin != nil {
		p.Twin.apply(&t, p)
	}
	return t
}

// inlLSB evaluates channel i's INL at code (of n codes), in LSB.
func (t *truth) inlLSB(i int, code, n float64) float64 {
	var v float64
	for h, term := range t.inl[i] {
		v += term.amp * math.Sin(float64(h+1)*math.Pi*code/n+term.phase)
	}
	return v
}

// cellDiffusion is the noise diffusion Q_ii in V²/s of a cell of time
// constant tau. Scaled noise is 2σ²/τ_i, the hal convention's injected
// noise; a fixed noise current i_n into C_i gives (i_n/C_i)² ∝ C_i⁻² ∝
// τ_i⁻², scaled so that a nominal cell (τ_i = τ) has 2σ²/τ.
//
// The bias DAC's white output noise (density e, one-sided) enters as noise
// on b: dx = −Γ(Ax − b − n)dt adds Γ_ii²·e²/2 (e²/2 is the two-sided
// density); an uncoupled cell then shows e·√(1/(4τ_i)) V rms, its noise
// bandwidth being 1/(4τ_i).
func cellDiffusion(p Profile, tau float64) float64 {
	sigma, gi := p.NoiseV, 1/tau
	dac := 0.5 * p.Bias.NoiseVRtHz * p.Bias.NoiseVRtHz * gi * gi
	if p.NoiseSource == NoiseCurrent {
		return 2*sigma*sigma*p.TauS*gi*gi + dac
	}
	return 2*sigma*sigma*gi + dac // + 0 without DAC noise: v1's value, bit-identical runs
}
