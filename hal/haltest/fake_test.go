package haltest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// faults switch on deliberate contract violations of the fake board, so
// that the package's tests can show each check catches its violation.
type faults struct {
	closeNotIdempotent bool    // second Close returns an error
	usableAfterClose   bool    // methods keep working after Close
	silentClip         bool    // clips readings without reporting saturation
	noClip             bool    // reports saturation but delivers readings beyond the ADC range
	dropOnSaturation   bool    // returns n = 0 with the SaturationError
	ignoreCtx          bool    // Run and Sample never look at ctx
	lateCancel         bool    // Sample looks at ctx only after 3/4 of its samples
	noRangeCheck       bool    // programs out-of-range couplings and biases
	swapRowCol         bool    // RangeError with Row and Col swapped
	partialBias        bool    // programs bias entries before checking the rest
	noStabilityCheck   bool    // programs unstable couplings
	diagonalOnlyCheck  bool    // tests stability by the sign of the diagonal only
	dimAsInvalid       bool    // reports wrong lengths as ErrInvalid
	acceptNaN          bool    // programs NaN and Inf
	acceptNonPositive  bool    // Run accepts d ≤ 0
	columnMajor        bool    // writes samples cell by cell instead of row-major
	biasOffset         float64 // volts added to every programmed bias
	unstableInfo       bool    // Info().Serial changes with every call
	readOffset         float64 // volts added to readings after the ADC clipped them
}

// fakeBoard is a reference hal.Board: K cells integrated by Euler–Maruyama
// with steps of at most τ/100,
//
//	x ← x − (h/τ)(A x − b) + sqrt(2σ²h/τ)·ξ,
//
// node rails beyond the ADC range, a 12-bit bias DAC and a 12-bit ADC that clips and
// reports saturation, and a board clock. With zero faults it satisfies the
// whole contract.
type fakeBoard struct {
	info   hal.Info
	f      faults
	rail   float64
	a      []float64
	bias   []float64
	x      []float64
	rng    *rand.Rand
	closed bool
	now    time.Duration
	calls  int
}

var _ hal.Board = (*fakeBoard)(nil)
var _ hal.Clock = (*fakeBoard)(nil)

func fakeInfo() hal.Info {
	return hal.Info{
		Model:           "haltest/fake",
		Serial:          "fake-0001",
		Firmware:        "test",
		Cells:           4,
		Topology:        hal.General,
		Coupling:        hal.Range{Min: -2, Max: 2},
		CouplingStep:    1.0 / 256,
		Bias:            hal.Converter{Range: hal.Range{Min: -1, Max: 1}, Bits: 12},
		ADC:             hal.Converter{Range: hal.Range{Min: -1.2, Max: 1.2}, Bits: 12},
		Tau:             100 * time.Microsecond,
		Noise:           0.02,
		MinSamplePeriod: 5 * time.Microsecond,
		Caps:            hal.CapNoise | hal.CapSimulated,
	}
}

func newFake(seed uint64, f faults) *fakeBoard { return newFakeWith(fakeInfo(), seed, f) }

// newFakeWith returns a fake board described by in; its node rails lie 20 %
// of the ADC full scale beyond the ADC range.
func newFakeWith(in hal.Info, seed uint64, f faults) *fakeBoard {
	k := in.Cells
	return &fakeBoard{
		info: in, f: f,
		rail: math.Max(math.Abs(in.ADC.Min), math.Abs(in.ADC.Max)) + 0.2*(in.ADC.Max-in.ADC.Min),
		a:    testnum.Identity(k, 1),
		bias: make([]float64, k),
		x:    make([]float64, k),
		rng:  rand.New(rand.NewPCG(seed, 0x5eed)),
	}
}

func (b *fakeBoard) Info() hal.Info {
	in := b.info
	if b.f.unstableInfo {
		b.calls++
		in.Serial = fmt.Sprintf("fake-%d", b.calls)
	}
	return in
}

func (b *fakeBoard) BoardTime() (time.Duration, bool) { return b.now, true }

func (b *fakeBoard) checkOpen() error {
	if b.closed && !b.f.usableAfterClose {
		return fmt.Errorf("fake board: %w", hal.ErrClosed)
	}
	return nil
}

// filter turns a correct validation error into the faulty one, or nil when
// the fault lets the value through.
func (b *fakeBoard) filter(err error) error {
	var re *hal.RangeError
	switch {
	case err == nil:
		return nil
	case b.f.dimAsInvalid && errors.Is(err, hal.ErrDimension):
		return fmt.Errorf("bad length: %w", hal.ErrInvalid)
	case b.f.acceptNaN && errors.Is(err, hal.ErrInvalid):
		return nil
	case b.f.noRangeCheck && errors.As(err, &re):
		return nil
	case b.f.swapRowCol && errors.As(err, &re):
		sw := *re
		sw.Row, sw.Col = re.Col, re.Row
		return &sw
	case (b.f.noStabilityCheck || b.f.diagonalOnlyCheck) && errors.Is(err, hal.ErrUnstable):
		return nil
	}
	return err
}

func (b *fakeBoard) SetCouplings(ctx context.Context, a []float64) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if err := b.filter(hal.CheckCouplings(b.info, a)); err != nil {
		return err
	}
	k := b.info.Cells
	if b.f.diagonalOnlyCheck {
		for i := range k {
			if !(a[i*k+i] > 0) {
				return fmt.Errorf("diagonal %d: %w", i, hal.ErrUnstable)
			}
		}
	}
	if len(a) != k*k {
		return nil // a fault let a wrong length through: ignore it
	}
	step := b.info.CouplingStep
	for i, v := range a {
		if step > 0 {
			v = math.Round(v/step) * step
		}
		b.a[i] = v
	}
	b.now += 10 * time.Microsecond
	return nil
}

// dac rounds v to the bias DAC's codes.
func (b *fakeBoard) dac(v float64) float64 {
	c := b.info.Bias
	if c.Bits == 0 {
		return v + b.f.biasOffset
	}
	code := math.Round((v - c.Min) / c.LSB())
	code = math.Max(0, math.Min(code, math.Exp2(float64(c.Bits))-1))
	return c.Min + code*c.LSB() + b.f.biasOffset
}

func (b *fakeBoard) SetBias(ctx context.Context, v []float64) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	k := b.info.Cells
	if b.f.partialBias {
		for i := 0; i < len(v) && i < k && b.info.Bias.Contains(v[i]); i++ {
			b.bias[i] = b.dac(v[i])
		}
	}
	if err := b.filter(hal.CheckVector("bias", v, k, b.info.Bias.Range)); err != nil {
		return err
	}
	for i := range min(k, len(v)) {
		b.bias[i] = b.dac(v[i])
	}
	b.now += 10 * time.Microsecond
	return nil
}

func (b *fakeBoard) SetState(ctx context.Context, v []float64) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	k := b.info.Cells
	if err := b.filter(hal.CheckVector("state", v, k, b.info.ADC.Range)); err != nil {
		return err
	}
	copy(b.x, v)
	b.now += 10 * time.Microsecond
	return nil
}

// advance integrates the board for d, checking ctx every 1024 steps.
func (b *fakeBoard) advance(ctx context.Context, d time.Duration) error {
	k := b.info.Cells
	tau := b.info.Tau.Seconds()
	steps := int(math.Ceil(float64(d) / float64(time.Microsecond)))
	h := d.Seconds() / float64(steps)
	g := h / tau
	sd := math.Sqrt(2 * b.info.Noise * b.info.Noise * g)
	ax := make([]float64, k)
	for s := range steps {
		if s%1024 == 1023 && !b.f.ignoreCtx {
			if err := ctx.Err(); err != nil {
				b.now += time.Duration(s) * time.Duration(h*float64(time.Second))
				return err
			}
		}
		for i := range k {
			var sum float64
			for j := range k {
				sum += b.a[i*k+j] * b.x[j]
			}
			ax[i] = sum
		}
		for i := range k {
			x := b.x[i] - g*(ax[i]-b.bias[i]) + sd*b.rng.NormFloat64()
			b.x[i] = math.Max(-b.rail, math.Min(x, b.rail))
		}
	}
	b.now += d
	return nil
}

func (b *fakeBoard) Run(ctx context.Context, d time.Duration) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if !b.f.acceptNonPositive {
		if err := hal.CheckDuration(d); err != nil {
			return err
		}
	}
	if d <= 0 {
		return nil
	}
	if !b.f.ignoreCtx {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fake run: %w", err)
		}
	}
	if err := b.advance(ctx, d); err != nil {
		return fmt.Errorf("fake run stopped: %w", err)
	}
	return nil
}

// adc reads v: clipped to the range and rounded to the nearest code.
func (b *fakeBoard) adc(v float64) (float64, bool) {
	c := b.info.ADC
	sat := v <= c.Min || v >= c.Max
	if b.f.noClip {
		return v, sat
	}
	r := math.Max(c.Min, math.Min(v, c.Max))
	if c.Bits > 0 {
		r = math.Min(c.Min+math.Round((r-c.Min)/c.LSB())*c.LSB(), c.Max)
	}
	return r + b.f.readOffset, sat
}

func (b *fakeBoard) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	if err := b.checkOpen(); err != nil {
		return 0, err
	}
	k := b.info.Cells
	if len(dst) == 0 || len(dst)%k != 0 {
		err := fmt.Errorf("sample buffer of %d values for %d cells: %w", len(dst), k, hal.ErrDimension)
		return 0, b.filter(err)
	}
	p, err := hal.SamplePeriod(b.info, period)
	if err != nil {
		return 0, err
	}
	if !b.f.ignoreCtx {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("fake sample: %w", err)
		}
	}
	n := len(dst) / k
	counts := make([]int, k)
	saturated := false
	for s := range n {
		sctx := ctx
		if b.f.lateCancel && s < 3*n/4 {
			sctx = context.Background()
		}
		if s > 0 {
			if err := b.advance(sctx, p); err != nil {
				return s, fmt.Errorf("fake sample: %w", err)
			}
		}
		if s%64 == 63 && !b.f.ignoreCtx && sctx.Err() != nil {
			err := sctx.Err()
			return s, fmt.Errorf("fake sample after %d samples: %w", s, err)
		}
		for i := range k {
			r, sat := b.adc(b.x[i])
			if sat {
				counts[i]++
				saturated = true
			}
			if b.f.columnMajor {
				dst[i*n+s] = r
			} else {
				dst[s*k+i] = r
			}
		}
	}
	if saturated && !b.f.silentClip {
		if b.f.dropOnSaturation {
			n = 0
		}
		return n, &hal.SaturationError{Counts: counts, Samples: n}
	}
	return n, nil
}

func (b *fakeBoard) Close() error {
	if b.closed && b.f.closeNotIdempotent {
		return errors.New("fake board: already closed")
	}
	b.closed = true
	return nil
}
