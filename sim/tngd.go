package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
)

// TNGDProfile describes the large virtual SPU of the TNGD paper
// (Donatella et al. 2024), opened as "sim:tngd". Its couplings exist only in
// factored form, A = λI + Scale·JᵀHJ (hal.Factored), as the paper's circuit
// stores J, Jᵀ and H in resistor arrays; the simulator never forms an N × N
// matrix. Every non-ideality is off at zero; docs/profiles.md gives the
// units and the defaults of DefaultTNGDProfile.
type TNGDProfile struct {
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

// DefaultTNGDProfile returns the sim:tngd board: the paper's τ = 1 µs and
// 16-bit converters, σ = 1 mV (κ₀ = 10⁻⁶ V²), ±1 V bias and ADC, 1 µs
// conversion, a 1 GB/s link, no mismatch.
func DefaultTNGDProfile() TNGDProfile {
	return TNGDProfile{
		Cells: 100000, TauS: 1e-6, NoiseV: 1e-3,
		DACBits: 16, BiasBits: 16, BiasRangeV: 1, ADCBits: 16, ADCRangeV: 1,
		ADCConvS: 1e-6, MinPeriodS: 0.1e-6, LinkBytesPerS: 1e9,
	}
}

const (
	tngdMaxCells      = 1_000_000
	tngdMaxRows       = 8192 // m: G is m × m, 512 MB at the cap
	tngdDefaultTol    = 1e-10
	tngdDefaultMax    = 400
	tngdEigSmall      = 64   // auto: eigendecomposition up to this m
	tngdEigFallback   = 2048 // auto: largest m worth an eigendecomposition
	tngdEigWorkFactor = 8    // auto: switch after 8·m products with G
	bytesPerValue     = 2    // 16-bit words over the link
	streamMismatch    = 0x6d69736d61746368
)

// Validate checks the profile's fields; voltages and times have the
// physical bounds of Profile.Validate.
func (p TNGDProfile) Validate() error {
	var e fieldErrs
	if p.Cells < 1 || p.Cells > tngdMaxCells {
		e.bad("cells", p.Cells, "1..1000000")
	}
	e.within("tau_s", p.TauS, minTauS, maxTauS, " s", whyTau)
	e.within("noise_v", p.NoiseV, 0, maxVolts, " V", whyVolts)
	for _, c := range []struct {
		name string
		bits int
	}{{"dac_bits", p.DACBits}, {"bias_bits", p.BiasBits}, {"adc_bits", p.ADCBits}} {
		if c.bits < 0 || c.bits > 24 || c.bits == 1 {
			e.bad(c.name, c.bits, "0 (continuous) or 2..24")
		}
	}
	if !(p.Mismatch >= 0 && p.Mismatch < 0.5) {
		e.bad("mismatch", p.Mismatch, "0 ≤ x < 0.5")
	}
	e.positive("bias_range_v", p.BiasRangeV, maxVolts, " V", whyVolts)
	e.positive("adc_range_v", p.ADCRangeV, maxVolts, " V", whyVolts)
	e.within("adc_conversion_s", p.ADCConvS, 0, maxPeriodS, " s", whyPeriod)
	e.positive("min_period_s", p.MinPeriodS, maxPeriodS, " s", whyPeriod)
	if !(p.LinkBytesPerS >= 0) || math.IsInf(p.LinkBytesPerS, 0) {
		e.bad("link_bytes_per_s", p.LinkBytesPerS, "a finite value ≥ 0")
	}
	switch p.Method {
	case "", "auto", "lanczos", "eig":
	default:
		e.bad("method", fmt.Sprintf("%q", p.Method), `"auto", "lanczos" or "eig"`)
	}
	if !(p.LanczosTol >= 0 && p.LanczosTol < 1) {
		e.bad("lanczos_tol", p.LanczosTol, "0 (default 1e-10) or in (0, 1)")
	}
	if p.LanczosMax < 0 {
		e.bad("lanczos_max", p.LanczosMax, "0 (default 400) or > 0")
	}
	if len(e) > 0 {
		return fmt.Errorf("sim:tngd profile: %s: %w", strings.Join(e, "; "), hal.ErrInvalid)
	}
	return nil
}

// TNGDStats counts the numerical work of a TNGD board, for benchmarks.
type TNGDStats struct {
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

// TNGD is the large virtual SPU: a hal.Board, hal.Factored and hal.Clock
// whose cells follow dx = −(A x − b) dt/τ + sqrt(2κ₀/τ) dW with
// A = λI + UᵀU, U = sqrt(Scale)·H^{1/2}J realised from the programmed
// factors. Between two instants it applies the exact transition through the
// push-through identity f(λI + UᵀU) = f(λ)I + Uᵀψ(UUᵀ)U (see tngd_math.go):
//
//   - programming costs the dual Gram G = UUᵀ without forming J,
//     O(m²·Σ Out + samples²·Σ In) for m = J.Rows;
//   - a transition costs two products with U (three after a bias change)
//     and one with Uᵀ, O(samples·N), plus two Lanczos evaluations on G that
//     share their passes over G, O(k·m²) for k steps (or O(m²) on the
//     eigendecomposition path, which costs O(m³) once per programming).
//
// Transitions are evaluated lazily: Run only advances the clock, and the
// accumulated interval is applied as one exact transition when the state
// is next needed (Sample, or a change of couplings or bias). The result has
// the same distribution as stepping, and costs one transition per
// iteration of TNGD.
type TNGD struct {
	p     TNGDProfile
	info  hal.Info
	seed  uint64
	noise *rand.Rand

	closed  bool
	now     time.Duration // board clock
	pending time.Duration // analog time not yet applied to x

	x, xn    []float64 // state, next state
	biasProg []float64 // programmed (quantised) bias values = realised bias
	z        []float64 // standard normals of one transition

	lam  float64
	prog *tngdProgram

	ka, kb krylov       // Lanczos scratch, reused across programmings
	spare  []float64    // a free m × m buffer for the next G
	gramWS ggn.GramWork // scratch of ggn.Gram
	sqrtWS ggn.SqrtWork // scratch of ggn.SqrtH

	// Converter constants: step and top code (0 when continuous).
	biasLSB, biasTop, adcLSB, adcTop float64

	stats TNGDStats
}

// tngdProgram is one realised programming.
type tngdProgram struct {
	u    hal.Jacobian // U: signals already carry sqrt(Scale)·H^{1/2}
	n, m int
	lam  float64
	g    []float64 // G = U Uᵀ, m × m row-major

	ug      []float64 // U b, valid while ugValid
	ugValid bool

	eig      *gramEig
	eigPsi   map[time.Duration]*eigPsi
	products int // products with G spent by Lanczos on this programming

	// scratch
	ux, ur, uz, out, coef, work, back []float64
}

var (
	_ hal.Board    = (*TNGD)(nil)
	_ hal.Factored = (*TNGD)(nil)
	_ hal.Clock    = (*TNGD)(nil)
)

// NewTNGD builds a virtual SPU from a profile. The seed plays the part of
// the serial number: it fixes the element mismatch and the noise stream.
func NewTNGD(p TNGDProfile, seed uint64) (*TNGD, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Method == "" {
		p.Method = "auto"
	}
	n := p.Cells
	b := &TNGD{
		p:        p,
		seed:     seed,
		noise:    rand.New(rand.NewPCG(seed, streamNoise)),
		x:        make([]float64, n),
		xn:       make([]float64, n),
		biasProg: make([]float64, n),
		z:        make([]float64, n),
		lam:      1, // power-up: A = I
	}
	caps := hal.CapSimulated
	if p.NoiseV > 0 {
		caps |= hal.CapNoise
	}
	b.info = hal.Info{
		Model:    "sim/tngd",
		Serial:   fmt.Sprintf("SIM-TNGD-%d", seed),
		Firmware: "profile tngd v1",
		Cells:    n,
		Topology: hal.Symmetric,
		// Entries of A are never programmed directly (SetCouplings is
		// unsupported); the range bounds λ in SetFactoredCouplings.
		Coupling:        hal.Range{Min: -1e6, Max: 1e6},
		Bias:            hal.Converter{Range: hal.Range{Min: -p.BiasRangeV, Max: p.BiasRangeV}, Bits: p.BiasBits},
		ADC:             hal.Converter{Range: hal.Range{Min: -p.ADCRangeV, Max: p.ADCRangeV}, Bits: p.ADCBits},
		Tau:             seconds(p.TauS),
		Noise:           p.NoiseV,
		MinSamplePeriod: seconds(p.MinPeriodS),
		Caps:            caps,
	}
	if err := b.info.Validate(); err != nil {
		return nil, fmt.Errorf("sim:tngd: %w", err)
	}
	b.biasLSB, b.adcLSB = b.info.Bias.LSB(), b.info.ADC.LSB()
	if p.BiasBits > 0 {
		b.biasTop = math.Exp2(float64(p.BiasBits)) - 1
	}
	if p.ADCBits > 0 {
		b.adcTop = math.Exp2(float64(p.ADCBits)) - 1
	}
	zero := b.biasValue(0)
	for i := range b.biasProg {
		b.biasProg[i] = zero
	}
	return b, nil
}

// String describes the board, e.g. "sim:tngd (100000 cells, seed 1)".
func (b *TNGD) String() string {
	return fmt.Sprintf("sim:tngd (%d cells, seed %d)", b.p.Cells, b.seed)
}

// Info implements hal.Board.
func (b *TNGD) Info() hal.Info { return b.info }

// Profile returns the profile the board was built from.
func (b *TNGD) Profile() TNGDProfile { return b.p }

// BoardTime implements hal.Clock: a simulator always keeps board time.
func (b *TNGD) BoardTime() (time.Duration, bool) { return b.now, true }

// Stats returns the numerical work done so far.
func (b *TNGD) Stats() TNGDStats { return b.stats }

// Close implements hal.Board.
func (b *TNGD) Close() error {
	b.closed = true
	return nil
}

func (b *TNGD) check(ctx context.Context, op string) error {
	if b.closed {
		return fmt.Errorf("%s: %w", op, hal.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// linkTime is the board time to move n 16-bit values over the link.
func (b *TNGD) linkTime(n float64) time.Duration {
	if b.p.LinkBytesPerS == 0 {
		return 0
	}
	return seconds(n * bytesPerValue / b.p.LinkBytesPerS)
}

// busy advances the clock by d while the link or the ADC is busy: the
// state holds, or under FreeRun keeps evolving (applied lazily).
func (b *TNGD) busy(d time.Duration) {
	b.now += d
	if b.p.FreeRun {
		b.pending += d
	}
}

// SetCouplings implements hal.Board. The virtual SPU stores its couplings
// only in factored form: a dense matrix is ErrUnsupported.
func (b *TNGD) SetCouplings(ctx context.Context, _ []float64) error {
	if err := b.check(ctx, "set couplings"); err != nil {
		return err
	}
	return fmt.Errorf("set couplings: sim:tngd stores couplings only in factored form A = λI + s·JᵀHJ; "+
		"use SetFactoredCouplings (hal.Factored): %w", hal.ErrUnsupported)
}

// SetFactoredCouplings implements hal.Factored. It validates f, realises
// the factors through the DACs (quantisation, element mismatch), computes
// the dual Gram matrix and copies everything it keeps, so the caller may
// reuse f's buffers. Programming takes m(m + 2N) values over the link.
func (b *TNGD) SetFactoredCouplings(ctx context.Context, f *hal.Factorization) error {
	const op = "set factored couplings"
	if err := b.check(ctx, op); err != nil {
		return err
	}
	if f == nil {
		return fmt.Errorf("%s: nil factorization: %w", op, hal.ErrInvalid)
	}
	if err := f.Validate(b.p.Cells); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if f.J.Rows > tngdMaxRows {
		return fmt.Errorf("%s: %d rows (batch × outputs): the simulator keeps the dense %d×%d Gram matrix and takes at most %d rows: %w",
			op, f.J.Rows, f.J.Rows, f.J.Rows, tngdMaxRows, hal.ErrUnsupported)
	}
	if f.Lambda > b.info.Coupling.Max {
		return fmt.Errorf("%s: %w", op, &hal.RangeError{What: "lambda", Row: -1, Col: -1, Value: f.Lambda,
			Min: 0, Max: b.info.Coupling.Max, Unit: "1/τ"})
	}
	pr, err := b.realise(f)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// The interval run so far belongs to the old couplings.
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	m, n := float64(f.J.Rows), float64(f.J.Cols)
	b.busy(b.linkTime(m * (m + 2*n)))
	if err := b.flush(ctx); err != nil { // FreeRun: relaxation during the write
		return fmt.Errorf("%s: %w", op, err)
	}
	if b.prog != nil {
		b.spare = b.prog.g
	}
	b.prog, b.lam = pr, f.Lambda
	return nil
}

// realise builds the programmed U = sqrt(Scale)·H^{1/2}J and G = UUᵀ from
// f through the DACs.
func (b *TNGD) realise(f *hal.Factorization) (*tngdProgram, error) {
	j := f.J
	k, ns := j.RowsPerSample, j.Samples()
	// Nominal H must be PSD for A = λI + UᵀU. The realised one is PSD too
	// when H is diagonally dominant (see realiseH); otherwise it is used
	// through its PSD part.
	h := b.realiseH(f.H, k)
	hh := make([]float64, len(h))
	for s := range ns {
		if err := psdCheck(f.H[s*k*k:(s+1)*k*k], k, s); err != nil {
			return nil, err
		}
		if !ggn.SqrtH(hh[s*k*k:(s+1)*k*k], h[s*k*k:(s+1)*k*k], k, &b.sqrtWS) {
			return nil, fmt.Errorf("H block %d: eigendecomposition failed: %w", s, hal.ErrInvalid)
		}
	}
	// The realised factors, then U = sqrt(Scale)·H^{1/2}J from them.
	rj := hal.Jacobian{Rows: j.Rows, Cols: j.Cols, RowsPerSample: k, Blocks: make([]hal.JacobianBlock, len(j.Blocks))}
	for bi, blk := range j.Blocks {
		rj.Blocks[bi] = hal.JacobianBlock{Col: blk.Col, Out: blk.Out, In: blk.In,
			Signal: b.realiseArray(blk.Signal, 0, bi), Input: b.realiseArray(blk.Input, 1, bi)}
	}
	var u hal.Jacobian
	ggn.U(&u, &rj, hh, f.Scale)
	m := j.Rows
	// G's storage: the buffer of the programming before last, if it fits.
	var g []float64
	if b.spare != nil && cap(b.spare) >= m*m {
		g = b.spare[:m*m]
	} else {
		g = make([]float64, m*m)
	}
	b.spare = nil
	ggn.Gram(g, &u, &b.gramWS)
	pr := &tngdProgram{u: u, n: j.Cols, m: m, lam: f.Lambda, g: g,
		ux: make([]float64, m), ur: make([]float64, m), uz: make([]float64, m), ug: make([]float64, m),
		out: make([]float64, m), coef: make([]float64, m),
		work: make([]float64, ggn.WorkLen(&u)), back: make([]float64, j.Cols)}
	return pr, nil
}

// dacStep is the factor DAC's step for an array whose largest |entry| is
// ref: a signed DAC with full scale ref, so ±ref are codes. 0 = continuous.
func (b *TNGD) dacStep(ref float64) float64 {
	if b.p.DACBits == 0 || ref == 0 {
		return 0
	}
	return ref / (math.Exp2(float64(b.p.DACBits-1)) - 1)
}

func quantise(v, step float64) float64 {
	if step == 0 {
		return v
	}
	return math.Round(v/step) * step
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// realiseArray returns the realised copy of a Signal (kind 0) or Input
// (kind 1) array of block `block`: each entry through the factor DAC (full
// scale = the array's largest |entry|) times its element's gain.
func (b *TNGD) realiseArray(v []float64, kind, block int) []float64 {
	out := slices.Clone(v)
	step := b.dacStep(maxAbs(v))
	tol := b.p.Mismatch
	for i, x := range out {
		x = quantise(x, step)
		if tol > 0 {
			x *= 1 + tol*b.elementDraw(kind, block, i)
		}
		out[i] = x
	}
	return out
}

// realiseH returns the realised H. Each k × k block is built from
// two-terminal elements, as a resistor network realises a symmetric
// matrix: a pair element of value |H_ac| between nodes a and c for every
// a < c (contributing ±|H_ac| off the diagonal and +|H_ac| to both diagonal
// entries) and a ground element g_a = H_aa − Σ_{c≠a}|H_ac| at each node.
// Each element value goes through the factor DAC (full scale = the largest
// |entry| of H) and gets its own gain error. When H is diagonally dominant
// (g ≥ 0, as the softmax Hessian diag(p) − ppᵀ with g = 0) every element
// is positive semidefinite, so the realised H stays PSD and A stays
// symmetric positive definite.
func (b *TNGD) realiseH(h []float64, k int) []float64 {
	if b.p.DACBits == 0 && b.p.Mismatch == 0 {
		return slices.Clone(h)
	}
	out := make([]float64, len(h))
	step := b.dacStep(maxAbs(h))
	tol := b.p.Mismatch
	el := func(v float64, idx int) float64 {
		v = quantise(v, step)
		if tol > 0 {
			v *= 1 + tol*b.elementDraw(2, 0, idx)
		}
		return v
	}
	for s := 0; s*k*k < len(h); s++ {
		hb, ob := h[s*k*k:(s+1)*k*k], out[s*k*k:(s+1)*k*k]
		for a := range k {
			g := hb[a*k+a]
			for c := range k {
				if c != a {
					g -= math.Abs(hb[a*k+c])
				}
			}
			ob[a*k+a] += el(g, s*k*k+a*k+a)
			for c := a + 1; c < k; c++ {
				w := hb[a*k+c]
				v := el(math.Abs(w), s*k*k+a*k+c)
				ob[a*k+c] = math.Copysign(v, w)
				ob[c*k+a] = ob[a*k+c]
				ob[a*k+a] += v
				ob[c*k+c] += v
			}
		}
	}
	return out
}

// elementDraw is a per-element uniform draw in [−1, 1), a hash of the
// board seed and the element's identity, so no table is stored.
func (b *TNGD) elementDraw(kind, block, idx int) float64 {
	h := splitmix64(b.seed ^ streamMismatch)
	h = splitmix64(h ^ uint64(kind)<<56 ^ uint64(block)<<40 ^ uint64(idx))
	return float64(h>>11)*0x1p-52 - 1
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// psdCheck rejects an H block with a clearly negative eigenvalue: this
// board realises A = λI + UᵀU, which needs H ⪰ 0.
func psdCheck(h []float64, k, s int) error {
	if k == 1 {
		if h[0] < 0 {
			return fmt.Errorf("H block %d = %g < 0: the board realises only positive-semidefinite H: %w", s, h[0], hal.ErrUnstable)
		}
		return nil
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(k, slices.Clone(h)), false) {
		return fmt.Errorf("H block %d: eigendecomposition failed: %w", s, hal.ErrInvalid)
	}
	vals := eig.Values(nil)
	big := math.Max(math.Abs(vals[0]), math.Abs(vals[k-1]))
	if vals[0] < -1e-9*big {
		return fmt.Errorf("H block %d has eigenvalue %g < 0: the board realises only positive-semidefinite H: %w", s, vals[0], hal.ErrUnstable)
	}
	return nil
}

// biasValue is the bias DAC's output for a requested v (range-checked by
// the caller): the nearest code as on hal.Converter, or v when continuous.
func (b *TNGD) biasValue(v float64) float64 {
	if b.biasLSB == 0 {
		return v
	}
	lsb := b.biasLSB
	code := math.Min(math.Max(math.Round((v-b.info.Bias.Min)/lsb), 0), b.biasTop)
	return b.info.Bias.Min + code*lsb
}

// SetBias implements hal.Board. Only values whose DAC code changes cross
// the link.
func (b *TNGD) SetBias(ctx context.Context, v []float64) error {
	const op = "set bias"
	if err := b.check(ctx, op); err != nil {
		return err
	}
	if err := hal.CheckVector("bias", v, b.p.Cells, b.info.Bias.Range); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	changed := 0
	for i, x := range v {
		if b.biasValue(x) != b.biasProg[i] {
			changed++
		}
	}
	if changed == 0 {
		return nil // nothing crosses the link
	}
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	b.busy(b.linkTime(float64(changed)))
	if err := b.flush(ctx); err != nil { // FreeRun: the old bias during the write
		return fmt.Errorf("%s: %w", op, err)
	}
	for i, x := range v {
		b.biasProg[i] = b.biasValue(x)
	}
	if b.prog != nil {
		b.prog.ugValid = false
	}
	return nil
}

// SetState implements hal.Board: the state is forced exactly, after
// Cells values cross the link.
func (b *TNGD) SetState(ctx context.Context, x []float64) error {
	const op = "set state"
	if err := b.check(ctx, op); err != nil {
		return err
	}
	if err := hal.CheckVector("state", x, b.p.Cells, b.info.ADC.Range); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	b.now += b.linkTime(float64(b.p.Cells))
	b.pending = 0 // whatever the cells did meanwhile is overwritten
	copy(b.x, x)
	return nil
}

// Run implements hal.Board. It advances the clock by d and records d of
// analog evolution, applied as one exact transition when the state is next
// needed; so a cancelled ctx can only stop the later evaluation, and that
// leaves the board usable with the interval still pending.
func (b *TNGD) Run(ctx context.Context, d time.Duration) error {
	if err := b.check(ctx, "run"); err != nil {
		return err
	}
	if err := hal.CheckDuration(d); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	b.now += d
	b.pending += d
	return nil
}

// Sample implements hal.Board. Sample k is taken after k+1 periods of
// analog evolution; each sample then takes ADCConvS to convert and Cells
// values over the link (the state holds meanwhile unless FreeRun).
func (b *TNGD) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	if err := b.check(ctx, "sample"); err != nil {
		return 0, err
	}
	period, err := hal.SamplePeriod(b.info, period)
	if err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
	k := b.p.Cells
	rows, err := hal.SampleRows(dst, k)
	if err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
	var sat []int
	readout := seconds(b.p.ADCConvS) + b.linkTime(float64(k))
	for r := range rows {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("sample %d of %d: %w", r, rows, err)
		}
		b.now += period
		b.pending += period
		if err := b.flush(ctx); err != nil {
			b.now -= period
			b.pending -= period
			return r, fmt.Errorf("sample %d of %d: %w", r, rows, err)
		}
		row := dst[r*k : (r+1)*k]
		for i, x := range b.x {
			v, s := b.read(x)
			row[i] = v
			if s {
				if sat == nil {
					sat = make([]int, k)
				}
				sat[i]++
			}
		}
		b.busy(readout)
	}
	if sat != nil {
		return rows, fmt.Errorf("sample: %w", &hal.SaturationError{Counts: sat, Samples: rows})
	}
	return rows, nil
}

// read converts one node voltage: the nearest ADC code (as hal.Converter),
// clipped to the codes and reported as saturated beyond them.
func (b *TNGD) read(x float64) (float64, bool) {
	lo, hi := b.info.ADC.Min, b.info.ADC.Max
	if b.adcLSB == 0 {
		if x < lo {
			return lo, true
		}
		if x > hi {
			return hi, true
		}
		return x, false
	}
	lsb, top := b.adcLSB, b.adcTop
	code := math.Round((x - lo) / lsb)
	switch {
	case code < 0:
		return lo, true
	case code > top:
		return lo + top*lsb, true
	}
	return lo + code*lsb, false
}

// flush applies the pending interval as one exact transition.
func (b *TNGD) flush(ctx context.Context) error {
	if b.pending <= 0 {
		return nil
	}
	if err := b.advance(ctx, b.pending); err != nil {
		return err
	}
	b.pending = 0
	return nil
}

// advance applies the exact transition over d to the state:
//
//	x ← x + f₂(A)(b − A x) + f₃(A) z
//	  = x + f₂(λ)(b − λx) + f₃(λ)z + Uᵀ[ψ₂(G)U r + ψ₃(G)U z − f₂(λ)U x]
//
// with U r = U b − λ U x − G U x (see tngd_math.go). On error the state is
// unchanged.
func (b *TNGD) advance(ctx context.Context, d time.Duration) error {
	t := d.Seconds() / b.p.TauS
	kappa := b.p.NoiseV * b.p.NoiseV
	tf := newTransFuncs(t, b.lam, kappa)
	if kappa > 0 {
		for i := range b.z {
			b.z[i] = b.noise.NormFloat64()
		}
	}
	if pr := b.prog; pr != nil {
		if err := b.rowSpace(ctx, pr, &tf, d); err != nil {
			return err
		}
	}
	x, xn, g, z := b.x, b.xn, b.biasProg, b.z
	lam := b.lam
	for i, xi := range x {
		v := xi + tf.f2*(g[i]-lam*xi)
		if kappa > 0 {
			v += tf.f3 * z[i]
		}
		xn[i] = v
	}
	if pr := b.prog; pr != nil {
		for i, v := range pr.back {
			xn[i] += v
		}
	}
	b.x, b.xn = xn, x
	b.stats.Transitions++
	return nil
}

// rowSpace sets pr.back to Uᵀ[ψ₂(G)U r + ψ₃(G)U z − f₂(λ)U x].
func (b *TNGD) rowSpace(ctx context.Context, pr *tngdProgram, tf *transFuncs, d time.Duration) error {
	n, m := pr.n, pr.m
	noise := tf.kappa > 0
	if !pr.ugValid {
		ggn.MulVec(pr.ug, &pr.u, b.biasProg[:n], pr.work)
		pr.ugValid = true
	}
	ggn.MulVec(pr.ux, &pr.u, b.x[:n], pr.work)
	symMul(pr.g, m, pr.ur, pr.ux)
	b.stats.GramProducts++
	for i := range m {
		pr.ur[i] = pr.ug[i] - pr.lam*pr.ux[i] - pr.ur[i]
	}
	var yz []float64
	if noise {
		ggn.MulVec(pr.uz, &pr.u, b.z[:n], pr.work)
		yz = pr.uz
	}
	out := pr.out
	for i := range m {
		out[i] = -tf.f2 * pr.ux[i]
	}
	if err := b.applyPsi(ctx, pr, tf, d, yz, out); err != nil {
		return err
	}
	ggn.MulTransVec(pr.back, &pr.u, out, pr.work)
	return nil
}

// applyPsi adds ψ₂(G)·ur + ψ₃(G)·yz to out, by the method of the profile.
func (b *TNGD) applyPsi(ctx context.Context, pr *tngdProgram, tf *transFuncs, d time.Duration, yz, out []float64) error {
	m := pr.m
	useEig := false
	switch b.p.Method {
	case "eig":
		useEig = true
	case "auto":
		useEig = pr.eig != nil || m <= tngdEigSmall ||
			(m <= tngdEigFallback && pr.products > tngdEigWorkFactor*m)
	}
	if !useEig {
		tol := b.p.LanczosTol
		if tol == 0 {
			tol = tngdDefaultTol
		}
		kmax := b.p.LanczosMax
		if kmax == 0 {
			kmax = tngdDefaultMax
		}
		prods, err := lanczos2(ctx, pr.g, m, &b.ka, &b.kb, pr.ur, tf.psi2, yz, tf.psi3, tol, kmax, out)
		pr.products += prods
		b.stats.GramProducts += prods
		b.stats.LanczosRuns++
		steps := max(b.ka.j, b.kb.j)
		b.stats.LanczosSteps += steps
		b.stats.MaxLanczosSteps = max(b.stats.MaxLanczosSteps, steps)
		if err == nil {
			return nil
		}
		if !(b.p.Method == "auto" && m <= tngdEigFallback && ctx.Err() == nil) {
			return err
		}
		// Fall back to the exact eigendecomposition (lanczos2 leaves out
		// untouched when it fails).
	}
	if pr.eig == nil {
		ge, err := newGramEig(pr.g, m)
		if err != nil {
			return err
		}
		pr.eig, pr.eigPsi = ge, map[time.Duration]*eigPsi{}
		b.stats.Eigendecompositions++
	}
	ep := pr.eigPsi[d]
	if ep == nil {
		if len(pr.eigPsi) >= 16 {
			clear(pr.eigPsi)
		}
		ep = pr.eig.psis(tf)
		pr.eigPsi[d] = ep
	}
	pr.eig.apply(ep, pr.ur, yz, out, pr.coef)
	return nil
}

// ---------------------------------------------------------------------------
// URI

// openTNGD opens "sim:tngd?opt=value&…" (see docs/profiles.md) from the
// options hal.CheckQuery returned: known keys, one value each.
func openTNGD(q url.Values) (hal.Board, error) {
	p := DefaultTNGDProfile()
	seed := uint64(1)
	num := func(key string) (float64, error) {
		v := q.Get(key)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("sim:tngd: option %s=%q: want a finite number: %w", key, v, hal.ErrInvalid)
		}
		return f, nil
	}
	integer := func(key string) (int, error) {
		v := q.Get(key)
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("sim:tngd: option %s=%q: want an integer: %w", key, v, hal.ErrInvalid)
		}
		return i, nil
	}
	// "bits" sets every converter; the specific options then override it.
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if (a == "bits") != (b == "bits") {
			if a == "bits" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	kappaSet, noiseSet := false, false
	for _, key := range keys {
		var err error
		var f float64
		var i int
		switch key {
		case "seed":
			v := q.Get(key)
			seed, err = strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("sim:tngd: seed %q: want a non-negative integer: %w", v, hal.ErrInvalid)
			}
		case "cells":
			i, err = integer(key)
			p.Cells = i
		case "bits":
			i, err = integer(key)
			p.DACBits, p.BiasBits, p.ADCBits = i, i, i
		case "dac_bits":
			i, err = integer(key)
			p.DACBits = i
		case "bias_bits":
			i, err = integer(key)
			p.BiasBits = i
		case "adc_bits":
			i, err = integer(key)
			p.ADCBits = i
		case "lanczos_max":
			i, err = integer(key)
			p.LanczosMax = i
		case "noise":
			f, err = num(key)
			p.NoiseV, noiseSet = f, true
		case "kappa":
			f, err = num(key)
			if err == nil && f < 0 {
				return nil, fmt.Errorf("sim:tngd: kappa = %g V²: want ≥ 0: %w", f, hal.ErrInvalid)
			}
			p.NoiseV, kappaSet = math.Sqrt(f), true
		case "tau":
			f, err = num(key)
			p.TauS = f
		case "mismatch":
			f, err = num(key)
			p.Mismatch = f
		case "bias_range":
			f, err = num(key)
			p.BiasRangeV = f
		case "adc_range":
			f, err = num(key)
			p.ADCRangeV = f
		case "adc_conv":
			f, err = num(key)
			p.ADCConvS = f
		case "min_period":
			f, err = num(key)
			p.MinPeriodS = f
		case "link":
			f, err = num(key)
			p.LinkBytesPerS = f
		case "lanczos_tol":
			f, err = num(key)
			p.LanczosTol = f
		case "freerun":
			v := q.Get(key)
			p.FreeRun, err = strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("sim:tngd: freerun=%q: want 0 or 1: %w", v, hal.ErrInvalid)
			}
		case "method":
			p.Method = q.Get(key)
		default:
			return nil, fmt.Errorf("sim:tngd: unknown option %q (known: %s): %w", key, strings.Join(tngdOptions, ", "), hal.ErrInvalid)
		}
		if err != nil {
			return nil, err
		}
	}
	if kappaSet && noiseSet {
		return nil, fmt.Errorf("sim:tngd: give noise (σ, V) or kappa (κ₀ = σ², V²), not both: %w", hal.ErrInvalid)
	}
	return NewTNGD(p, seed)
}

var tngdOptions = []string{"seed", "cells", "noise", "kappa", "tau", "bits", "dac_bits", "mismatch",
	"bias_bits", "bias_range", "adc_bits", "adc_range", "adc_conv", "min_period", "link", "freerun",
	"method", "lanczos_tol", "lanczos_max"}
