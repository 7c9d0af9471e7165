package sim

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// quiet is a k-cell board with no noise and no non-ideality: every
// reading is then a deterministic function of the programmed values, so
// each non-ideality's effect is exact.
func quiet(k int) Profile {
	p := cleanProfile(k)
	p.NoiseV = 0
	return p
}

// settle programs A and b, relaxes for 100τ and returns one reading.
func settle(t *testing.T, p Profile, a, bias []float64) ([]float64, error) {
	t.Helper()
	b, err := New(p, 21)
	require.NoError(t, err)
	require.NoError(t, b.SetCouplings(ctx, a))
	require.NoError(t, b.SetBias(ctx, bias))
	require.NoError(t, b.Run(ctx, 100*b.info.Tau))
	out := make([]float64, p.Cells)
	_, err = b.Sample(ctx, 0, out)
	return out, err
}

func TestCouplingQuantisation(t *testing.T) {
	p := quiet(2)
	x, err := settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, 1))
	require.NoError(t, err)
	assert.InDeltaSlice(t, testnum.Constant(2, 1), x, 1e-12, "off: exact")

	p.Coupling.Bits = 4 // step 4/15: 1.0 is realised as code 4 = 16/15
	b, err := New(p, 1)
	require.NoError(t, err)
	assert.InDelta(t, 4.0/15, b.Info().CouplingStep, 1e-15)
	x, err = settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, 1))
	require.NoError(t, err)
	assert.InDeltaSlice(t, testnum.Constant(2, 15.0/16), x, 1e-12, "on: x = b/(16/15)")
}

func TestCouplingTolerance(t *testing.T) {
	p := quiet(4)
	p.Coupling.Tolerance = 0.01
	x, err := settle(t, p, testnum.Identity(4, 1), testnum.Constant(4, 1))
	require.NoError(t, err)
	moved := 0
	for _, v := range x {
		// x = 1/(1+δ), |δ| ≤ 1 %.
		assert.GreaterOrEqual(t, v, 1/1.01-1e-12)
		assert.LessOrEqual(t, v, 1/0.99+1e-12)
		if math.Abs(v-1) > 1e-6 {
			moved++
		}
	}
	assert.Equal(t, 4, moved, "every element has its own tolerance")
}

func TestCapacitorMismatchTiming(t *testing.T) {
	for _, tol := range []float64{0, 0.05} {
		p := quiet(4)
		p.CapacitorTolerance = tol
		b, err := New(p, 3)
		require.NoError(t, err)
		require.NoError(t, b.SetBias(ctx, testnum.Constant(4, 1)))
		require.NoError(t, b.SetState(ctx, testnum.Constant(4, 0)))
		require.NoError(t, b.Run(ctx, 100*time.Microsecond))
		out := make([]float64, 4)
		_, err = b.Sample(ctx, 5*time.Microsecond, out)
		require.NoError(t, err)
		for i, v := range out {
			// Step response of one RC cell: 1 − e^{−t/τ_i}, t = 105 µs.
			want := 1 - math.Exp(-105e-6/b.tr.tau[i])
			assert.InDelta(t, want, v, 1e-12)
			if tol == 0 {
				assert.InDelta(t, 1-math.Exp(-1.05), v, 1e-12, "off: nominal τ")
			} else {
				assert.Greater(t, math.Abs(v-(1-math.Exp(-1.05))), 1e-6, "on: cell %d has its own τ", i)
			}
		}
	}
}

func TestBiasDAC(t *testing.T) {
	p := quiet(2)
	x, err := settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, 0.01))
	require.NoError(t, err)
	assert.InDeltaSlice(t, testnum.Constant(2, 0.01), x, 1e-12, "continuous DAC: exact")

	p.Bias = DACProfile{MinV: -5, MaxV: 5, Bits: 8} // LSB = 10/256 ≈ 39 mV
	x, err = settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, 0.01))
	require.NoError(t, err)
	assert.InDeltaSlice(t, testnum.Constant(2, 0), x, 1e-12, "0.01 V rounds to code 128 = 0 V")

	p.Bias = DACProfile{MinV: -5, MaxV: 5, GainError: 0.01, OffsetV: 0.01}
	x, err = settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, 2))
	require.NoError(t, err)
	for _, v := range x {
		// The gain pivots about zero-scale, −5 V: |Δ| ≤ 7 V·1 % + 10 mV.
		assert.LessOrEqual(t, math.Abs(v-2), 7*0.01+0.01+1e-12)
		assert.Greater(t, math.Abs(v-2), 1e-6, "gain and offset errors move the bias")
	}
}

// The bias DAC's gain error pivots about zero-scale (code 0, which the
// level shift puts at MinV), not about 0 V: with gain errors alone the
// zero-scale output is exact, and outputs keep their ratios measured from
// MinV, (x(v) − MinV)/(x(u) − MinV) = (v − MinV)/(u − MinV), whatever the
// drawn gain. Pivoting about 0 V put zero-scale at MinV·(1+gain), up to
// 50 mV off here.
func TestBiasGainPivot(t *testing.T) {
	p := quiet(2)
	p.Bias = DACProfile{MinV: -5, MaxV: 5, GainError: 0.01}
	at := func(v float64) []float64 {
		x, err := settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, v))
		require.NoError(t, err)
		return x
	}
	zero, mid, top := at(-5), at(0), at(4)
	for i := range zero {
		assert.InDelta(t, -5, zero[i], 1e-12, "cell %d: zero-scale", i)
		assert.InDelta(t, 9.0/5, (top[i]+5)/(mid[i]+5), 1e-12, "cell %d: ratios about zero-scale", i)
		assert.Greater(t, math.Abs(top[i]-4), 1e-4, "cell %d: the gain error is there", i)
	}
}

// Temperature moves the bias through its gain tempco about zero-scale
// (not at all at code 0; by at most (v − MinV)·tc·|ΔT| at v) and through
// its offset tempco (by at most tc·|ΔT| at every code).
func TestBiasTempco(t *testing.T) {
	shift := func(dac DACProfile, v float64) (dx, dT float64) {
		p := quiet(2)
		p.Bias = dac
		p.Thermal = ThermalProfile{AmbientC: 25, StdC: 5, CorrTimeS: 600, UpdateS: 10}
		b, err := New(p, 3)
		require.NoError(t, err)
		require.NoError(t, b.SetBias(ctx, testnum.Constant(2, v)))
		read := func() float64 {
			require.NoError(t, b.Run(ctx, time.Hour))
			x := make([]float64, 2)
			_, err := b.Sample(ctx, 0, x)
			require.NoError(t, err)
			return x[0]
		}
		x0, t0 := read(), b.Temperature()
		x1, t1 := read(), b.Temperature()
		return x1 - x0, t1 - t0
	}
	gain := DACProfile{MinV: -5, MaxV: 5, GainTempcoPPM: 100}
	dx, dT := shift(gain, -5)
	assert.InDelta(t, 0, dx, 1e-12, "gain tempco at zero-scale")
	dx, dT = shift(gain, 4)
	require.Greater(t, math.Abs(dT), 0.1, "the temperature moved")
	assert.Greater(t, math.Abs(dx), 1e-7)
	assert.LessOrEqual(t, math.Abs(dx), 9*100e-6*math.Abs(dT)+1e-12)
	off := DACProfile{MinV: -5, MaxV: 5, OffsetTempcoV: 1e-4}
	for _, v := range []float64{-5, 4} {
		dx, dT = shift(off, v)
		assert.Greater(t, math.Abs(dx), 1e-7, "offset tempco at %g V", v)
		assert.LessOrEqual(t, math.Abs(dx), 1e-4*math.Abs(dT)+1e-12, "offset tempco at %g V", v)
	}
}

// The bias DAC's white output noise, density e (V/√Hz, one-sided), drives
// an uncoupled cell like injected noise: the cell is a one-pole low-pass of
// noise bandwidth 1/(4τ), so its rms is e·√(1/(4τ)) = 1 µV/√Hz·√2500 Hz =
// 50 µV. Readings 10τ apart are independent (correlation e⁻¹⁰); the SE of
// a Gaussian sample standard deviation is σ/sqrt(2n).
func TestBiasNoise(t *testing.T) {
	p := quiet(1)
	p.Bias.NoiseVRtHz = 1e-6
	b, err := New(p, 8)
	require.NoError(t, err)
	require.NoError(t, b.Run(ctx, 10*time.Millisecond))
	const n = 20000
	out := make([]float64, n)
	_, err = b.Sample(ctx, 10*b.info.Tau, out)
	require.NoError(t, err)
	var s2 float64
	for _, v := range out {
		s2 += v * v
	}
	want := 1e-6 * math.Sqrt(1/(4*p.TauS))
	assert.InDelta(t, want, math.Sqrt(s2/n), 5*want/math.Sqrt(2*n))
}

// The INL bow stays within its bound and reaches a sizeable part of it
// somewhere in a sweep of codes.
func TestBiasINL(t *testing.T) {
	for _, inl := range []float64{0, 3} {
		p := quiet(1)
		p.Bias = DACProfile{MinV: -5, MaxV: 5, Bits: 16, INLLSB: inl}
		lsb := 10 / 65536.0
		b, err := New(p, 4)
		require.NoError(t, err)
		worst := 0.0
		for v := -4.9; v < 4.9; v += 0.37 {
			require.NoError(t, b.SetBias(ctx, []float64{v}))
			require.NoError(t, b.Run(ctx, 5*time.Millisecond))
			out := []float64{0}
			_, err := b.Sample(ctx, 0, out)
			require.NoError(t, err)
			code := math.Round((v + 5) / lsb)
			dev := (out[0] - (-5 + code*lsb)) / lsb
			worst = math.Max(worst, math.Abs(dev))
		}
		if inl == 0 {
			assert.Less(t, worst, 1e-6)
		} else {
			assert.LessOrEqual(t, worst, inl+1e-6)
			assert.Greater(t, worst, inl/3, "INL visible")
		}
	}
}

func TestADCQuantisationAndErrors(t *testing.T) {
	p := quiet(2)
	p.ADC.MinV, p.ADC.MaxV, p.ADC.Bits = -5, 5, 10
	lsb := 10 / 1024.0
	x, err := settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, 0.123))
	require.NoError(t, err)
	for _, v := range x {
		code := (v + 5) / lsb
		assert.InDelta(t, math.Round(code), code, 1e-9, "readings sit on codes")
		assert.InDelta(t, 0.123, v, lsb/2+1e-12)
	}

	p = quiet(2)
	p.ADC.OffsetV, p.ADC.GainError = 0.01, 0.01
	x, err = settle(t, p, testnum.Identity(2, 1), testnum.Constant(2, 1))
	require.NoError(t, err)
	for _, v := range x {
		assert.LessOrEqual(t, math.Abs(v-1), 0.02+1e-12)
		assert.Greater(t, math.Abs(v-1), 1e-6, "offset and gain move readings")
	}
}

func TestADCNoise(t *testing.T) {
	for _, sd := range []float64{0, 1e-3} {
		p := quiet(1)
		p.ADC.NoiseV = sd
		b, err := New(p, 5)
		require.NoError(t, err)
		require.NoError(t, b.SetBias(ctx, []float64{1}))
		require.NoError(t, b.Run(ctx, 10*time.Millisecond))
		const n = 20000
		out := make([]float64, n)
		_, err = b.Sample(ctx, 0, out)
		require.NoError(t, err)
		var s, s2 float64
		for _, v := range out {
			s += v - 1
			s2 += (v - 1) * (v - 1)
		}
		std := math.Sqrt(s2 / n)
		// SE of a Gaussian sample standard deviation: σ/sqrt(2n).
		assert.InDelta(t, sd, std, 5*sd/math.Sqrt(2*n)+1e-12)
	}
}

func TestADCSaturation(t *testing.T) {
	p := quiet(2)
	p.ADC.MinV, p.ADC.MaxV = -5, 5
	x, err := settle(t, p, testnum.Identity(2, 1), []float64{8, 1})
	var se *hal.SaturationError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, hal.ErrSaturated)
	assert.Equal(t, []int{1, 0}, se.Counts)
	assert.InDeltaSlice(t, []float64{5, 1}, x, 1e-12, "samples delivered, the saturated one at the range end")

	p.ADC.Bits = 16
	_, err = settle(t, p, testnum.Identity(2, 1), []float64{1, -8})
	require.ErrorAs(t, err, &se)
	assert.Equal(t, []int{0, 1}, se.Counts)
}

func TestRails(t *testing.T) {
	p := quiet(2)
	x, err := settle(t, p, testnum.Identity(2, 1), []float64{2, 0.5})
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{2, 0.5}, x, 1e-12, "no rails: linear")

	p.RailV = 1
	x, err = settle(t, p, testnum.Identity(2, 1), []float64{2, 0.5})
	var se *hal.SaturationError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, []int{1, 0}, se.Counts, "the railed node is reported")
	assert.InDeltaSlice(t, []float64{1, 0.5}, x, 1e-12)
}

func TestChannelSkew(t *testing.T) {
	const period = 50 * time.Microsecond
	for _, mux := range []bool{false, true} {
		p := quiet(3)
		p.ADC.Multiplexed = mux
		p.ADC.ChannelSkewS = 10e-6
		p.ADC.MinPeriodS = 50e-6
		b, err := New(p, 6)
		require.NoError(t, err)
		require.NoError(t, b.SetBias(ctx, testnum.Constant(3, 1)))
		require.NoError(t, b.SetState(ctx, testnum.Constant(3, 0)))
		out := make([]float64, 3)
		_, err = b.Sample(ctx, period, out)
		require.NoError(t, err)
		for i, v := range out {
			at := period.Seconds()
			if mux {
				// Channel i is converted i·skew after channel 0, and the
				// last channel at the end of the period.
				at = period.Seconds() - 2*10e-6 + float64(i)*10e-6
			}
			assert.InDelta(t, 1-math.Exp(-at/100e-6), v, 1e-12, "mux=%v cell %d", mux, i)
		}
	}
}

// Drift: over simulated hours, temperature (tempco × a temperature walk)
// and ageing move the solution only when they are switched on.
func TestDrift(t *testing.T) {
	measure := func(p Profile) (before, after []float64) {
		b, err := New(p, 7)
		require.NoError(t, err)
		require.NoError(t, b.SetBias(ctx, testnum.Constant(3, 1)))
		require.NoError(t, b.Run(ctx, 10*time.Millisecond))
		before = make([]float64, 3)
		_, err = b.Sample(ctx, 0, before)
		require.NoError(t, err)
		require.NoError(t, b.Run(ctx, 3*time.Hour))
		after = make([]float64, 3)
		_, err = b.Sample(ctx, 0, after)
		require.NoError(t, err)
		now, _ := b.BoardTime()
		assert.Equal(t, 3*time.Hour, (now - 10*time.Millisecond - 10*time.Microsecond).Round(time.Millisecond))
		return before, after
	}
	p := quiet(3)
	before, after := measure(p)
	assert.InDeltaSlice(t, before, after, 1e-12, "no drift when off")

	p.Coupling.TempcoPPM = 35
	p.Thermal = ThermalProfile{AmbientC: 25, StdC: 2, CorrTimeS: 600, UpdateS: 10}
	before, after = measure(p)
	for i := range before {
		// x = 1/(1 + tc·ΔT) with |tc| ≤ 35 ppm/°C and |ΔT| ≲ 5σ = 10 °C.
		rel := math.Abs(after[i]/before[i] - 1)
		assert.Greater(t, rel, 1e-7, "temperature moved cell %d", i)
		assert.Less(t, rel, 35e-6*10)
	}
}

// Ageing is bounded and decelerating, with a sign per part: element e has
// drifted by r_e·t0·ln(1 + t/t0) after t hours, |r_e| ≤ ageing_per_hour.
// On a quiet board with A = I and b = 1 a cell reads x_i = 1/(1 + d_i), so
// d_i = 1/x_i − 1 exactly. From 1 h to 3 h at t0 = 1 h the drift grows by
// ln 4/ln 2 = 2, not 3 as linear ageing would; drift updates every second
// put the readings' ageing time within 1 s of the board time, a relative
// error of at most (1 s/3 h)/ln 4 ≈ 7·10⁻⁵ in the ratio. Of 8 cells some
// age up and some down (all one way had probability 2⁻⁷ for this seed's
// draw; the old model aged all upward).
func TestAgeing(t *testing.T) {
	p := quiet(8)
	p.Coupling.AgeingPerHour, p.Coupling.AgeingKneeH = 1e-3, 1
	p.Thermal.UpdateS = 1
	b, err := New(p, 7)
	require.NoError(t, err)
	require.NoError(t, b.SetBias(ctx, testnum.Constant(8, 1)))
	drift := func(run time.Duration) []float64 {
		require.NoError(t, b.Run(ctx, run))
		x := make([]float64, 8)
		_, err := b.Sample(ctx, 0, x)
		require.NoError(t, err)
		for i, v := range x {
			x[i] = 1/v - 1
		}
		return x
	}
	d1 := drift(time.Hour)
	d3 := drift(2 * time.Hour)
	up, down := 0, 0
	for i := range d1 {
		require.NotZero(t, d1[i])
		assert.InEpsilon(t, math.Log(4)/math.Log(2), d3[i]/d1[i], 1e-3, "cell %d: drift from 1 h to 3 h", i)
		assert.LessOrEqual(t, math.Abs(d3[i]), 1e-3*math.Log(4)*(1+1e-3), "cell %d: bound r·t0·ln(1+t/t0)", i)
		if d1[i] > 0 {
			up++
		} else {
			down++
		}
	}
	assert.Positive(t, up, "some parts age up")
	assert.Positive(t, down, "some parts age down")
}

func TestBoardClock(t *testing.T) {
	p := quiet(2)
	p.Timing = TimingProfile{CouplingWriteS: 10e-6, CouplingSettleS: 2e-6, BiasWriteS: 5e-6, BiasSettleS: 3e-6, StateSetS: 50e-6}
	b, err := New(p, 8)
	require.NoError(t, err)
	step := func(f func() error) time.Duration {
		t0, _ := b.BoardTime()
		require.NoError(t, f())
		t1, _ := b.BoardTime()
		return t1 - t0
	}
	a := testnum.Identity(2, 1)
	assert.Zero(t, step(func() error { return b.SetCouplings(ctx, a) }), "unchanged elements are not rewritten")
	a[1], a[2] = -0.5, -0.5
	assert.Equal(t, 22*time.Microsecond, step(func() error { return b.SetCouplings(ctx, a) }), "2 writes + settle")
	assert.Equal(t, 8*time.Microsecond, step(func() error { return b.SetBias(ctx, []float64{1, 0}) }), "1 write + settle")
	assert.Equal(t, 50*time.Microsecond, step(func() error { return b.SetState(ctx, []float64{0, 0}) }))
	assert.Equal(t, 3*time.Millisecond, step(func() error { return b.Run(ctx, 3*time.Millisecond) }))
	assert.Equal(t, 70*time.Microsecond, step(func() error {
		_, err := b.Sample(ctx, 7*time.Microsecond, make([]float64, 20))
		return err
	}))
}

// Programming is not instantaneous: while elements are written the board
// keeps relaxing on its old settings.
func TestEvolvesWhileProgramming(t *testing.T) {
	p := quiet(1)
	p.Timing.BiasWriteS = 100e-6 // one τ
	b, err := New(p, 9)
	require.NoError(t, err)
	require.NoError(t, b.SetState(ctx, []float64{1}))
	require.NoError(t, b.SetBias(ctx, []float64{3}))
	// During the write the cell decays toward the old bias 0: e^{-1}; then
	// it relaxes toward 3 for one 5 µs sample period.
	out := []float64{0}
	_, err = b.Sample(ctx, 5*time.Microsecond, out)
	require.NoError(t, err)
	e := math.Exp(-0.05)
	assert.InDelta(t, math.Exp(-1)*e+3*(1-e), out[0], 1e-12)
}

func TestUnstableAfterQuantisation(t *testing.T) {
	p := quiet(1)
	p.Coupling.Bits = 3 // step 4/7: 0.25 rounds to 0
	b, err := New(p, 1)
	require.NoError(t, err)
	err = b.SetCouplings(ctx, []float64{0.25})
	require.ErrorIs(t, err, hal.ErrUnstable)
	assert.Contains(t, err.Error(), "quantisation")
	assert.True(t, errors.Is(b.SetCouplings(ctx, []float64{-1}), hal.ErrUnstable))
}

// Part tolerances can make a marginally stable nominal matrix unstable in
// the realised board. The simulator must then report hal.ErrUnstable (no
// rails) or saturate at the rails, never panic or return NaN.
func TestRealisedUnstable(t *testing.T) {
	a := []float64{1, 0.99, 0.99, 1} // eigenvalues 0.01 and 1.99
	for _, rails := range []float64{0, 12} {
		p := quiet(2)
		p.Coupling.Tolerance = 0.05
		p.RailV = rails
		found := false
		for seed := uint64(1); seed < 100 && !found; seed++ {
			b, err := New(p, seed)
			require.NoError(t, err)
			require.NoError(t, b.SetCouplings(ctx, a))
			if hal.Stable(b.m.RawMatrix().Data, 2) == nil {
				continue
			}
			found = true
			require.NoError(t, b.SetBias(ctx, []float64{1, 0}))
			err = b.Run(ctx, time.Hour)
			out := make([]float64, 2)
			if rails == 0 {
				require.ErrorIs(t, err, hal.ErrUnstable)
				_, err = b.Sample(ctx, 0, out)
				require.ErrorIs(t, err, hal.ErrUnstable, "the fault latches")
				require.NoError(t, b.SetState(ctx, []float64{0, 0}))
				_, err = b.Sample(ctx, 0, out)
				require.NoError(t, err, "forcing the state clears it")
				continue
			}
			require.NoError(t, err)
			_, err = b.Sample(ctx, 0, out)
			require.ErrorIs(t, err, hal.ErrSaturated, "nodes sit at the rails")
			for _, v := range out {
				assert.False(t, math.IsNaN(v))
			}
		}
		require.True(t, found, "some seed realises an unstable matrix")
	}
}

// Couplings that are stable as given but singular once rounded to the
// 10-bit step (1.9 and 1.9 − 1.9·10⁻⁶ share a code) are refused naming the
// resolution and the condition number, not only the eigenvalue.
func TestSetCouplingsTooIllConditioned(t *testing.T) {
	b, err := New(builtins["proto8"], 1)
	require.NoError(t, err)
	a := make([]float64, 64)
	for i := range 8 {
		a[i*8+i] = 1.9
	}
	a[1], a[8] = 1.9*(1-1e-6), 1.9*(1-1e-6)
	err = b.SetCouplings(ctx, a)
	require.ErrorIs(t, err, hal.ErrUnstable)
	assert.ErrorContains(t, err, "too ill-conditioned to program with 10-bit couplings (condition number 2e+06)")
}

// ADC read noise has its own random stream: for one seed, switching it on
// adds independent N(0, s²) readings to the same circuit noise realisation.
// With a continuous, exact ADC the difference of the two runs' readings is
// then the read noise alone: its standard deviation is s (standard error
// s/sqrt(2n) for n readings) and no reading differs by more than 6s
// (P ≈ 2·10⁻⁹ each). Drawing both from one stream, as before, shifted the
// circuit's noise and left differences of the order of σ = 10 mV ≫ s.
func TestADCNoiseOwnStream(t *testing.T) {
	const s = 1e-4
	read := func(adcNoise float64) []float64 {
		p := cleanProfile(3)
		p.ADC.NoiseV = adcNoise
		b, err := New(p, 9)
		require.NoError(t, err)
		require.NoError(t, b.SetCouplings(ctx, symA.RawMatrix().Data))
		require.NoError(t, b.SetBias(ctx, testBias))
		out := make([]float64, 3*2000)
		_, err = b.Sample(ctx, 0, out)
		require.NoError(t, err)
		return out
	}
	off, on := read(0), read(s)
	var s2 float64
	for i := range off {
		d := on[i] - off[i]
		require.Less(t, math.Abs(d), 6*s, "reading %d: the circuit noise changed", i)
		s2 += d * d
	}
	n := float64(len(off))
	assert.InDelta(t, s, math.Sqrt(s2/n), 5*s/math.Sqrt(2*n))
}

// A rheostat coupling (the feedback resistor of the coupling amplifier)
// is linear in its resistance code·R_AB/2^bits + R_W (AD5293 Rev. D,
// "Programming the variable resistor"): its grid stays uniform, step
// Max/(2^bits − 1), and the wiper resistance adds R_W/R_step codes to the
// magnitude, R_step = 100 kΩ/1024 = 97.66 Ω, so 60…100 Ω gives 0.614…1.024
// codes, with the polarity switch's sign, and on a zero entry a stray +R_W
// coupling. On a quiet board x = A⁻¹b exactly, so the readings for
// b = e₀ and b = e₁ are the columns of A⁻¹: inverting them gives the
// realised A.
func TestRheostatWiper(t *testing.T) {
	p := quiet(2)
	p.Coupling = CouplingProfile{Max: 2, Bits: 10, RheostatOhm: 100e3, WiperMinOhm: 60, WiperMaxOhm: 100}
	step := 2.0 / 1023
	lo, hi := 60*1024/100e3, 100*1024/100e3
	realised := func(a01, a00 float64) *mat.Dense {
		a := []float64{a00 * step, a01 * step, 0, 512 * step}
		inv := mat.NewDense(2, 2, nil)
		for j := range 2 {
			bias := []float64{0, 0}
			bias[j] = 1
			x, err := settle(t, p, a, bias)
			require.NoError(t, err)
			inv.SetCol(j, x)
		}
		var out mat.Dense
		require.NoError(t, out.Inverse(inv))
		return &out
	}
	r300, r700 := realised(0, 300), realised(0, 700)
	assert.InDelta(t, 400*step, r700.At(0, 0)-r300.At(0, 0), 1e-12, "uniform grid")
	w00 := r300.At(0, 0)/step - 300
	assert.True(t, w00 >= lo && w00 <= hi, "wiper offset %.3f codes within %.3f…%.3f", w00, lo, hi)
	w01 := r300.At(0, 1) / step
	assert.True(t, w01 >= lo && w01 <= hi, "a zero entry is a stray +R_W coupling: %.3f codes", w01)
	w10 := r300.At(1, 0) / step
	assert.True(t, w10 >= lo && w10 <= hi, "a zero entry is a stray +R_W coupling: %.3f codes", w10)
	neg := realised(-200, 300)
	assert.InDelta(t, -(200+w01)*step, neg.At(0, 1), 1e-12, "negative entry: the magnitude grows by R_W too")
}
