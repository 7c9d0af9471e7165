package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// VirtualOpts configures the large virtual SPU of the TNGD paper
// ("sim:tngd"): an N-cell board whose couplings are programmed in factored
// form A = λI + s·JᵀHJ (hal.Factored) and never exist as an N × N matrix.
// Zero fields take the defaults in DefaultVirtualOpts.
type VirtualOpts struct {
	Cells int     // N, up to 10⁵
	TauS  float64 // τ = RC in seconds (paper: 1 µs)
	// NoiseV is σ: dx = −(Ax − b)dt/τ + sqrt(2σ²/τ) dW. Negative means 0.
	NoiseV float64
	// ADCBits and ADCRangeV describe the readout (±range, 0 bits =
	// continuous); saturation is reported as on every board.
	ADCBits   int
	ADCRangeV float64
	// BiasRangeV bounds the bias (continuous DAC).
	BiasRangeV float64
	// LinkBytesPerS is the host link bandwidth: programming writes
	// m(m + 2N) 16-bit elements, each sample reads N.
	LinkBytesPerS float64
	// MinPeriodS is the shortest sample period.
	MinPeriodS float64
}

// DefaultVirtualOpts are the paper's numbers where it gives them (τ = 1 µs,
// 16-bit converters) and plausible ones elsewhere (documented in
// docs/profiles.md).
var DefaultVirtualOpts = VirtualOpts{
	Cells: 100000, TauS: 1e-6, NoiseV: 1e-3,
	ADCBits: 16, ADCRangeV: 1, BiasRangeV: 1,
	LinkBytesPerS: 1e9, MinPeriodS: 0.1e-6,
}

// Virtual is the large virtual SPU. Between any two instants it applies the
// exact OU transition using the push-through identity: for A = λI + UᵀU
// (U = s^{1/2}H^{1/2}J, m × N) and any function f,
//
//	f(A) v = f(λ) v + Uᵀ P ψ(S) Pᵀ U v,   ψ(σ) = (f(λ+σ) − f(λ))/σ,
//
// where G = UUᵀ = P S Pᵀ is the m × m dual Gram. Programming costs the Gram
// (O(m²·width), see hal.Jacobian.Gram) and one m × m symmetric
// eigendecomposition (O(m³)); a transition costs three products with U and
// one with Uᵀ (O(samples·N)) plus O(m²). No N × N matrix is ever formed.
type Virtual struct {
	o      VirtualOpts
	info   hal.Info
	seed   uint64
	noise  *rand.Rand
	closed bool
	now    time.Duration

	x, g []float64 // state and bias, length Cells
	lam  float64   // λ; 1 at power-up (A = I)
	fac  *hal.Factorization
	hh   []float64  // H^{1/2} blocks
	p    *mat.Dense // eigenvectors of G
	s    []float64  // eigenvalues of G
	n, m int

	// scratch
	ux, ug, uz, w []float64
	z, tmp        []float64
}

var (
	_ hal.Board    = (*Virtual)(nil)
	_ hal.Factored = (*Virtual)(nil)
	_ hal.Clock    = (*Virtual)(nil)
)

// NewVirtual builds a virtual SPU; the seed fixes the noise stream.
func NewVirtual(o VirtualOpts, seed uint64) (*Virtual, error) {
	d := DefaultVirtualOpts
	if o.Cells == 0 {
		o.Cells = d.Cells
	}
	if o.TauS == 0 {
		o.TauS = d.TauS
	}
	if o.NoiseV == 0 {
		o.NoiseV = d.NoiseV
	} else if o.NoiseV < 0 {
		o.NoiseV = 0
	}
	if o.ADCRangeV == 0 {
		o.ADCRangeV = d.ADCRangeV
	}
	if o.BiasRangeV == 0 {
		o.BiasRangeV = d.BiasRangeV
	}
	if o.LinkBytesPerS == 0 {
		o.LinkBytesPerS = d.LinkBytesPerS
	}
	if o.MinPeriodS == 0 {
		o.MinPeriodS = d.MinPeriodS
	}
	if o.Cells < 1 || o.Cells > 1_000_000 || o.ADCBits < 0 || o.ADCBits > 24 || !(o.TauS > 0) || !(o.LinkBytesPerS > 0) || !(o.MinPeriodS > 0) {
		return nil, fmt.Errorf("sim:tngd options %+v: cells 1..10⁶, adc bits 0..24, positive tau, link and period: %w", o, hal.ErrInvalid)
	}
	v := &Virtual{o: o, seed: seed, noise: rand.New(rand.NewPCG(seed, streamNoise)), lam: 1,
		x: make([]float64, o.Cells), g: make([]float64, o.Cells), z: make([]float64, o.Cells), tmp: make([]float64, o.Cells)}
	caps := hal.CapClock | hal.CapSimulated
	if o.NoiseV > 0 {
		caps |= hal.CapNoise
	}
	v.info = hal.Info{
		Model: "sim/tngd", Serial: fmt.Sprintf("SIM-TNGD-%d", seed), Firmware: "virtual v1",
		Cells: o.Cells, Topology: hal.Symmetric,
		// Dense couplings are not programmable here (see SetCouplings); the
		// range describes λ and the factored entries' reference.
		Coupling:        hal.Range{Min: -1e6, Max: 1e6},
		Bias:            hal.Converter{Range: hal.Range{Min: -o.BiasRangeV, Max: o.BiasRangeV}},
		ADC:             hal.Converter{Range: hal.Range{Min: -o.ADCRangeV, Max: o.ADCRangeV}, Bits: o.ADCBits},
		Tau:             seconds(o.TauS),
		Noise:           o.NoiseV,
		MinSamplePeriod: seconds(o.MinPeriodS),
		Caps:            caps,
	}
	if err := v.info.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

func openVirtual(q url.Values) (hal.Board, error) {
	var o VirtualOpts
	seed := uint64(1)
	for key, vals := range q {
		val := vals[len(vals)-1]
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fmt.Errorf("sim:tngd option %s=%q: not a number: %w", key, val, hal.ErrInvalid)
		}
		switch key {
		case "seed":
			seed = uint64(f)
		case "cells":
			o.Cells = int(f)
		case "noise":
			o.NoiseV = f
			if f == 0 {
				o.NoiseV = -1
			}
		case "tau":
			o.TauS = f
		case "adc_bits":
			o.ADCBits = int(f)
		case "link":
			o.LinkBytesPerS = f
		default:
			return nil, fmt.Errorf("sim:tngd: unknown option %q (known: seed, cells, noise, tau, adc_bits, link): %w", key, hal.ErrInvalid)
		}
	}
	if _, ok := q["adc_bits"]; !ok {
		o.ADCBits = DefaultVirtualOpts.ADCBits
	}
	return NewVirtual(o, seed)
}

// String describes the board.
func (v *Virtual) String() string {
	return fmt.Sprintf("sim:tngd (%d cells, seed %d)", v.o.Cells, v.seed)
}

// Info implements hal.Board.
func (v *Virtual) Info() hal.Info { return v.info }

// BoardTime implements hal.Clock.
func (v *Virtual) BoardTime() time.Duration { return v.now }

// Close implements hal.Board.
func (v *Virtual) Close() error { v.closed = true; return nil }

func (v *Virtual) check(ctx context.Context, op string) error {
	if v.closed {
		return fmt.Errorf("%s: %w", op, hal.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// SetCouplings implements hal.Board: the virtual SPU stores its couplings
// only in factored form, so a dense matrix is refused.
func (v *Virtual) SetCouplings(ctx context.Context, _ []float64) error {
	if err := v.check(ctx, "set couplings"); err != nil {
		return err
	}
	return fmt.Errorf("set couplings: sim:tngd takes factored couplings only (hal.Factored): %w", hal.ErrUnsupported)
}

// SetFactoredCouplings implements hal.Factored. It copies what it keeps.
func (v *Virtual) SetFactoredCouplings(ctx context.Context, f *hal.Factorization) error {
	if err := v.check(ctx, "set factored couplings"); err != nil {
		return err
	}
	if err := f.Validate(v.o.Cells); err != nil {
		return fmt.Errorf("set factored couplings: %w", err)
	}
	m, n, k := f.J.Rows, f.J.Cols, f.J.RowsPerSample
	cp := *f
	cp.J.Blocks = make([]hal.JacobianBlock, len(f.J.Blocks))
	for i, b := range f.J.Blocks {
		b.Signal = append([]float64(nil), b.Signal...)
		b.Input = append([]float64(nil), b.Input...)
		cp.J.Blocks[i] = b
	}
	cp.H = append([]float64(nil), f.H...)
	hh, err := blockSqrt(cp.H, k)
	if err != nil {
		return fmt.Errorf("set factored couplings: %w", err)
	}
	// G = s·H^{1/2} (J Jᵀ) H^{1/2}.
	jj := mat.NewDense(m, m, cp.J.Gram())
	hm := mat.NewDense(m, m, nil)
	for s := range f.J.Samples() {
		for a := range k {
			for c := range k {
				hm.Set(s*k+a, s*k+c, hh[s*k*k+a*k+c])
			}
		}
	}
	var t1, gd mat.Dense
	t1.Mul(hm, jj)
	gd.Mul(&t1, hm)
	gs := mat.NewSymDense(m, nil)
	for i := range m {
		for j := i; j < m; j++ {
			gs.SetSym(i, j, 0.5*f.Scale*(gd.At(i, j)+gd.At(j, i)))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(gs, true) {
		return fmt.Errorf("set factored couplings: eigendecomposition of the %d×%d dual Gram failed: %w", m, m, hal.ErrUnstable)
	}
	// Writing the factors takes link time; the board keeps relaxing on
	// the old couplings meanwhile.
	bytes := 2 * float64(m) * float64(m+2*n)
	if err := v.evolve(ctx, seconds(bytes/v.o.LinkBytesPerS)); err != nil {
		return fmt.Errorf("set factored couplings: %w", err)
	}
	v.fac, v.hh, v.n, v.m, v.lam = &cp, hh, n, m, f.Lambda
	v.s = eig.Values(nil)
	for i, s := range v.s {
		v.s[i] = math.Max(s, 0)
	}
	v.p = &mat.Dense{}
	eig.VectorsTo(v.p)
	v.ux, v.ug, v.uz, v.w = make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m)
	return nil
}

// blockSqrt returns the symmetric square roots of the r × r blocks of h.
func blockSqrt(h []float64, r int) ([]float64, error) {
	out := make([]float64, len(h))
	var eig mat.EigenSym
	var vec mat.Dense
	for s := 0; s*r*r < len(h); s++ {
		blk := h[s*r*r : (s+1)*r*r]
		if !eig.Factorize(mat.NewSymDense(r, append([]float64(nil), blk...)), true) {
			return nil, fmt.Errorf("H block %d: eigendecomposition failed: %w", s, hal.ErrInvalid)
		}
		vals := eig.Values(nil)
		eig.VectorsTo(&vec)
		for _, l := range vals {
			if l < -1e-9*math.Max(1, math.Abs(vals[len(vals)-1])) {
				return nil, fmt.Errorf("H block %d has eigenvalue %g < 0: A would not be stable: %w", s, l, hal.ErrUnstable)
			}
		}
		dst := out[s*r*r : (s+1)*r*r]
		for a := range r {
			for c := range r {
				acc := 0.0
				for e, l := range vals {
					if l > 0 {
						acc += vec.At(a, e) * math.Sqrt(l) * vec.At(c, e)
					}
				}
				dst[a*r+c] = acc
			}
		}
	}
	return out, nil
}

// SetBias implements hal.Board.
func (v *Virtual) SetBias(ctx context.Context, b []float64) error {
	if err := v.check(ctx, "set bias"); err != nil {
		return err
	}
	if err := hal.CheckVector("bias", b, v.o.Cells, v.info.Bias.Range); err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	if err := v.evolve(ctx, seconds(2*float64(v.o.Cells)/v.o.LinkBytesPerS)); err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	copy(v.g, b)
	return nil
}

// SetState implements hal.Board.
func (v *Virtual) SetState(ctx context.Context, x []float64) error {
	if err := v.check(ctx, "set state"); err != nil {
		return err
	}
	if err := hal.CheckVector("state", x, v.o.Cells, v.info.ADC.Range); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	v.now += seconds(2 * float64(v.o.Cells) / v.o.LinkBytesPerS)
	copy(v.x, x)
	return nil
}

// Run implements hal.Board.
func (v *Virtual) Run(ctx context.Context, d time.Duration) error {
	if err := v.check(ctx, "run"); err != nil {
		return err
	}
	if err := hal.CheckDuration(d); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return v.evolve(ctx, d)
}

// Sample implements hal.Board. Each sample also reads N values over the link.
func (v *Virtual) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	if err := v.check(ctx, "sample"); err != nil {
		return 0, err
	}
	period, err := hal.SamplePeriod(v.info, period)
	if err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
	k := v.o.Cells
	if len(dst) == 0 || len(dst)%k != 0 {
		return 0, fmt.Errorf("sample: dst has %d values, want a positive multiple of %d cells: %w", len(dst), k, hal.ErrDimension)
	}
	rows := len(dst) / k
	var sat []int
	lsb := v.info.ADC.LSB()
	for r := range rows {
		if err := v.evolve(ctx, period); err != nil {
			return r, fmt.Errorf("sample %d of %d: %w", r, rows, err)
		}
		row := dst[r*k : (r+1)*k]
		for i, x := range v.x {
			y := x
			if lsb > 0 {
				y = math.Round(x/lsb) * lsb
			}
			if y < -v.o.ADCRangeV || y > v.o.ADCRangeV {
				y = math.Max(-v.o.ADCRangeV, math.Min(v.o.ADCRangeV, y))
				if sat == nil {
					sat = make([]int, k)
				}
				sat[i]++
			}
			row[i] = y
		}
		v.now += seconds(2 * float64(k) / v.o.LinkBytesPerS)
	}
	if sat != nil {
		return rows, fmt.Errorf("sample: %w", &hal.SaturationError{Counts: sat, Samples: rows})
	}
	return rows, nil
}

// evolve applies the exact transition over d.
func (v *Virtual) evolve(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := d.Seconds() / v.o.TauS
	sig := v.o.NoiseV
	lam := v.lam
	// Scalar parts: e^{−λt}, (1 − e^{−λt})/λ, σ·sqrt((1 − e^{−2λt})/λ).
	f1 := func(a float64) float64 { return math.Exp(-a * t) }
	f2 := func(a float64) float64 { return -math.Expm1(-a*t) / a }
	f3 := func(a float64) float64 { return sig * math.Sqrt(-math.Expm1(-2*a*t)/a) }
	a1, a2, a3 := f1(lam), f2(lam), f3(lam)
	if sig > 0 {
		for i := range v.z {
			v.z[i] = v.noise.NormFloat64()
		}
	}
	x := v.tmp
	for i := range x {
		x[i] = a1*v.x[i] + a2*v.g[i]
		if sig > 0 {
			x[i] += a3 * v.z[i]
		}
	}
	if v.fac != nil {
		n, m := v.n, v.m
		v.mulU(v.ux, v.x[:n])
		v.mulU(v.ug, v.g[:n])
		if sig > 0 {
			v.mulU(v.uz, v.z[:n])
		}
		// w = P ψ(S) Pᵀ (…), each ψ from its f.
		var pux, pug, puz mat.VecDense
		pux.MulVec(v.p.T(), mat.NewVecDense(m, v.ux))
		pug.MulVec(v.p.T(), mat.NewVecDense(m, v.ug))
		if sig > 0 {
			puz.MulVec(v.p.T(), mat.NewVecDense(m, v.uz))
		}
		c := make([]float64, m)
		for i, s := range v.s {
			c[i] = psi(f1, lam, s)*pux.AtVec(i) + psi(f2, lam, s)*pug.AtVec(i)
			if sig > 0 {
				c[i] += psi(f3, lam, s) * puz.AtVec(i)
			}
		}
		var w mat.VecDense
		w.MulVec(v.p, mat.NewVecDense(m, c))
		back := make([]float64, n)
		v.mulUT(back, w.RawVector().Data)
		for i := range n {
			x[i] += back[i]
		}
	}
	v.x, v.tmp = x, v.x
	v.now += d
	return nil
}

// psi is (f(λ+σ) − f(λ))/σ, by a symmetric difference quotient at σ ≈ 0
// (where UᵀP's column vanishes anyway).
func psi(f func(float64) float64, lam, s float64) float64 {
	if s > 1e-9*lam {
		return (f(lam+s) - f(lam)) / s
	}
	h := 1e-6 * lam
	return (f(lam+h) - f(lam-h)) / (2 * h)
}

// mulU sets dst (m) to U v = s^{1/2} H^{1/2} J v.
func (v *Virtual) mulU(dst, x []float64) {
	f := v.fac
	jv := make([]float64, v.m)
	f.J.MulVec(jv, x)
	k := f.J.RowsPerSample
	sc := math.Sqrt(f.Scale)
	for s := 0; s*k < v.m; s++ {
		blk := v.hh[s*k*k : (s+1)*k*k]
		for a := range k {
			acc := 0.0
			for c := range k {
				acc += blk[a*k+c] * jv[s*k+c]
			}
			dst[s*k+a] = sc * acc
		}
	}
}

// mulUT sets dst (N) to Uᵀ y = s^{1/2} Jᵀ H^{1/2} y.
func (v *Virtual) mulUT(dst, y []float64) {
	f := v.fac
	k := f.J.RowsPerSample
	hy := make([]float64, v.m)
	sc := math.Sqrt(f.Scale)
	for s := 0; s*k < v.m; s++ {
		blk := v.hh[s*k*k : (s+1)*k*k]
		for a := range k {
			acc := 0.0
			for c := range k {
				acc += blk[a*k+c] * y[s*k+c]
			}
			hy[s*k+a] = sc * acc
		}
	}
	f.J.TransMulVec(dst, hy)
}
