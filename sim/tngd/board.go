package tngd

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim/internal/phys"
)

// Board is the large virtual SPU: a hal.Board, hal.Factored and hal.Clock
// whose cells follow dx = −(A x − b) dt/τ + sqrt(2κ₀/τ) dW with
// A = λI + UᵀU, U = sqrt(Scale)·H^{1/2}J realised from the programmed
// factors. Between two instants it applies the exact transition through the
// push-through identity f(λI + UᵀU) = f(λ)I + Uᵀψ(UUᵀ)U (see the package doc):
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
type Board struct {
	p     Profile
	info  hal.Info
	seed  uint64
	noise *rand.Rand

	closed  bool
	now     time.Duration // board clock
	pending time.Duration // analog time not yet applied to x

	x, xn    []float64 // state, next state
	biasProg []float64 // programmed (quantised) bias values = realised bias
	z        []float64 // standard normals of one transition

	// ADC filter states (nil without a filter, filter.go): output v and
	// u = v̇/ω per cell, their next values, and two more normals per cell.
	fv, fu, fvn, fun, z2, z3 []float64

	lam  float64
	prog *program

	ka, kb krylov       // Lanczos scratch, reused across programmings
	spare  []float64    // a free m × m buffer for the next G
	gramWS ggn.GramWork // scratch of ggn.Gram
	sqrtWS ggn.SqrtWork // scratch of ggn.SqrtH

	// Converter constants: step and top code (0 when continuous).
	biasLSB, biasTop, adcLSB, adcTop float64

	stats Stats
}

// program is one realised programming.
type program struct {
	u    hal.Jacobian // U: signals already carry sqrt(Scale)·H^{1/2}
	n, m int
	lam  float64
	g    []float64 // G = U Uᵀ, m × m row-major

	ug      []float64 // U b, valid while ugValid
	ugValid bool

	filterPsi map[time.Duration]*filterPsi // with an ADC filter (filter.go)

	eig      *gramEig
	eigPsi   map[time.Duration]*eigPsi
	products int // products with G spent by Lanczos on this programming

	// scratch
	ux, ur, uz, out, coef, work, back []float64
}

var (
	_ hal.Board    = (*Board)(nil)
	_ hal.Factored = (*Board)(nil)
	_ hal.Clock    = (*Board)(nil)
)

// New builds a virtual SPU from a profile. The seed plays the part of
// the serial number: it fixes the element mismatch and the noise stream.
func New(p Profile, seed uint64) (*Board, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Method == "" {
		p.Method = "auto"
	}
	n := p.Cells
	b := &Board{
		p:        p,
		seed:     seed,
		noise:    rand.New(rand.NewPCG(seed, phys.StreamNoise)),
		x:        make([]float64, n),
		xn:       make([]float64, n),
		biasProg: make([]float64, n),
		z:        make([]float64, n),
		lam:      1, // power-up: A = I
	}
	if p.ADCFilterHz > 0 {
		b.fv, b.fu, b.fvn, b.fun = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		b.z2, b.z3 = make([]float64, n), make([]float64, n)
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
		Tau:             phys.Seconds(p.TauS),
		Noise:           p.NoiseV,
		MinSamplePeriod: phys.Seconds(p.MinPeriodS),
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
func (b *Board) String() string {
	return fmt.Sprintf("sim:tngd (%d cells, seed %d)", b.p.Cells, b.seed)
}

// Info implements hal.Board.
func (b *Board) Info() hal.Info { return b.info }

// Profile returns the profile the board was built from.
func (b *Board) Profile() Profile { return b.p }

// BoardTime implements hal.Clock: a simulator always keeps board time.
func (b *Board) BoardTime() (time.Duration, bool) { return b.now, true }

// Stats returns the numerical work done so far.
func (b *Board) Stats() Stats { return b.stats }

// Close implements hal.Board.
func (b *Board) Close() error {
	b.closed = true
	return nil
}

func (b *Board) check(ctx context.Context, op string) error {
	return hal.CheckUsable(ctx, op, b.closed)
}

// linkTime is the board time to move n 16-bit values over the link.
func (b *Board) linkTime(n float64) time.Duration {
	if b.p.LinkBytesPerS == 0 {
		return 0
	}
	return phys.Seconds(n * bytesPerValue / b.p.LinkBytesPerS)
}

// busy advances the clock by d while the link or the ADC is busy: the
// state holds, or under FreeRun keeps evolving (applied lazily).
func (b *Board) busy(d time.Duration) {
	b.now += d
	if b.p.FreeRun {
		b.pending += d
	}
}

// SetCouplings implements hal.Board. The virtual SPU stores its couplings
// only in factored form: a dense matrix is ErrUnsupported.
func (b *Board) SetCouplings(ctx context.Context, _ []float64) error {
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
func (b *Board) SetFactoredCouplings(ctx context.Context, f *hal.Factorization) error {
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
	if f.J.Rows > maxRows {
		return fmt.Errorf("%s: %d rows (batch × outputs): the simulator keeps the dense %d×%d Gram matrix and takes at most %d rows: %w",
			op, f.J.Rows, f.J.Rows, f.J.Rows, maxRows, hal.ErrUnsupported)
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

// biasValue is the bias DAC's output for a requested v (range-checked by
// the caller): the nearest code as on hal.Converter, or v when continuous.
func (b *Board) biasValue(v float64) float64 {
	if b.biasLSB == 0 {
		return v
	}
	lsb := b.biasLSB
	code := math.Min(math.Max(math.Round((v-b.info.Bias.Min)/lsb), 0), b.biasTop)
	return b.info.Bias.Min + code*lsb
}

// SetBias implements hal.Board. Only values whose DAC code changes cross
// the link.
func (b *Board) SetBias(ctx context.Context, v []float64) error {
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
func (b *Board) SetState(ctx context.Context, x []float64) error {
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
	if b.fv != nil { // the filters settle on the forced state
		copy(b.fv, x)
		clear(b.fu)
	}
	return nil
}

// Run implements hal.Board. It advances the clock by d and records d of
// analog evolution, applied as one exact transition when the state is next
// needed; so a cancelled ctx can only stop the later evaluation, and that
// leaves the board usable with the interval still pending.
func (b *Board) Run(ctx context.Context, d time.Duration) error {
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
func (b *Board) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	return b.SampleStream(ctx, period, dst, nil)
}

// SampleStream implements hal.Streamer: Sample, telling progress after
// every sample.
func (b *Board) SampleStream(ctx context.Context, period time.Duration, dst []float64, progress func(int)) (int, error) {
	period, rows, err := hal.SampleStart(ctx, b.info, b.closed, period, dst)
	if err != nil {
		return 0, err
	}
	k := b.p.Cells
	var sat []int
	readout := phys.Seconds(b.p.ADCConvS) + b.linkTime(float64(k))
	for r := range rows {
		if r > 0 && progress != nil {
			progress(r)
		}
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
		read := b.x
		if b.fv != nil {
			read = b.fv // the ADC reads the filter's output
		}
		for i, x := range read {
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
func (b *Board) read(x float64) (float64, bool) {
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
