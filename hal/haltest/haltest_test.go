package haltest

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// TestRunFake runs the whole suite against the reference fake board.
func TestRunFake(t *testing.T) {
	seed := uint64(0)
	Run(t, func(t *testing.T) hal.Board {
		seed++
		return newFake(seed, faults{})
	})
}

// TestRunFakeVariants runs the suite against fakes that exercise the
// suite's branches for one cell, symmetric topology, unipolar ranges
// without negative couplings, continuous converters and no noise.
func TestRunFakeVariants(t *testing.T) {
	one := fakeInfo()
	one.Cells = 1

	sym := fakeInfo()
	sym.Cells = 3
	sym.Topology = hal.Symmetric

	uni := fakeInfo()
	uni.Coupling = hal.Range{Min: 0, Max: 1.25}
	uni.CouplingStep = 0
	uni.Bias = hal.Converter{Range: hal.Range{Min: 0, Max: 3.3}}
	uni.ADC = hal.Converter{Range: hal.Range{Min: 0, Max: 3.3}}
	uni.Noise = 0

	for name, in := range map[string]hal.Info{"one": one, "symmetric": sym, "unipolar": uni} {
		require.NoError(t, in.Validate())
		t.Run(name, func(t *testing.T) {
			Run(t, func(t *testing.T) hal.Board { return newFakeWith(in, 5, faults{}) })
		})
	}
}

// quick shrinks the cancellation checks so that a board that ignores its
// context is caught in a second or two. The margins are wall-clock
// ones, so they are sized for a loaded machine: the correct fake must
// answer a cancellation within cancelAfter + 4·prompt = 420 ms (it took
// 322 ms once under a load average of 13 on 2 cores, when prompt was
// 50 ms and the limit 220 ms), and the faulty fake's uncancelled Run of
// longRun = 15 s of board time takes 1–2.5 s, well beyond that limit
// (the 5 s run it had took 336 ms, too close to it).
var quick = config{
	memCap:      16 << 20,
	target:      10 * time.Second,
	cancelAfter: 20 * time.Millisecond,
	prompt:      100 * time.Millisecond,
	budget:      200 * time.Millisecond,
	longRun:     15 * time.Second,
}

// TestChecksCatchFaults shows that every check fails on a board with the
// contract violation it is meant to catch, and passes on the correct fake.
func TestChecksCatchFaults(t *testing.T) {
	cases := []struct {
		name  string
		f     faults
		check checkFunc
	}{
		{"Info/unstable", faults{unstableInfo: true}, checkInfo},
		{"Dimensions/asInvalid", faults{dimAsInvalid: true}, checkDimensions},
		{"NotFinite/acceptNaN", faults{acceptNaN: true}, checkNotFinite},
		{"OutOfRange/noCheck", faults{noRangeCheck: true}, checkOutOfRange},
		{"OutOfRange/swapRowCol", faults{swapRowCol: true}, checkOutOfRange},
		{"OutOfRange/partialBias", faults{partialBias: true}, checkOutOfRange},
		{"Unstable/noCheck", faults{noStabilityCheck: true}, checkUnstable},
		{"Unstable/diagonalOnly", faults{diagonalOnlyCheck: true}, checkUnstable},
		{"Arguments/nonPositiveRun", faults{acceptNonPositive: true}, checkArguments},
		{"CancelSample/ignoreCtx", faults{ignoreCtx: true}, checkCancelSample},
		{"CancelSample/lateCancel", faults{lateCancel: true}, checkCancelSample},
		{"CancelRun/ignoreCtx", faults{ignoreCtx: true}, checkCancelRun},
		{"PreCancelled/ignoreCtx", faults{ignoreCtx: true}, checkPreCancelled},
		{"Close/notIdempotent", faults{closeNotIdempotent: true}, checkClose},
		{"Close/usableAfterClose", faults{usableAfterClose: true}, checkClose},
		{"ADCRange/offsetAfterClip", faults{readOffset: 0.05}, checkADCRange},
		{"Saturation/silentClip", faults{silentClip: true}, checkSaturation},
		{"Saturation/noClip", faults{noClip: true}, checkSaturation},
		{"Saturation/dropSamples", faults{dropOnSaturation: true}, checkSaturation},
		{"Equilibrium/columnMajor", faults{columnMajor: true}, checkEquilibrium},
		{"Equilibrium/biasOffset", faults{biasOffset: 0.2}, checkEquilibrium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			require.NoError(t, tc.check(ctx, newFake(7, faults{}), quick), "the correct fake must pass")
			err := tc.check(ctx, newFake(7, tc.f), quick)
			require.Error(t, err, "the faulty fake must fail")
			var skip skipError
			assert.False(t, errors.As(err, &skip), "a fault must fail the check, not skip it: %v", err)
			t.Logf("caught: %v", err)
		})
	}
}

// The Reopen check passes when opening again gives a board at A = I, b = 0
// and fails when the reopened board keeps the last session's couplings and
// bias (as a serial board's firmware did).
func TestReopenCatchesKeptState(t *testing.T) {
	ctx := t.Context()
	cfg := quick
	cfg.reopen = func() hal.Board { return newFake(8, faults{}) }
	require.NoError(t, checkReopen(ctx, newFake(7, faults{}), cfg), "the correct fake must pass")
	old := newFake(7, faults{})
	cfg.reopen = func() hal.Board {
		b := newFake(8, faults{})
		b.a, b.bias = old.a, old.bias
		return b
	}
	err := checkReopen(ctx, old, cfg)
	require.Error(t, err, "a board that keeps its state must fail")
	assert.Contains(t, err.Error(), "was the bias kept?")
	t.Logf("caught: %v", err)
}

// TestEquilibriumOffsetWithinTolerance shows that the equilibrium check
// accepts an uncalibrated board whose bias is off by 1 % of the ADC full
// scale (half the systematic allowance) and rejects one off by 4 %.
func TestEquilibriumOffsetWithinTolerance(t *testing.T) {
	in := fakeInfo()
	fs := in.ADC.Max - in.ADC.Min
	require.NoError(t, checkEquilibrium(t.Context(), newFake(3, faults{biasOffset: 0.01 * fs}), quick))
	require.Error(t, checkEquilibrium(t.Context(), newFake(3, faults{biasOffset: 0.04 * fs}), quick))
}

// TestRunSkips shows that a check returning a skipError skips the subtest
// and that the board is closed afterwards.
func TestRunSkips(t *testing.T) {
	var b *fakeBoard
	t.Run("inner", func(t *testing.T) {
		runCheck(t, func(t *testing.T) hal.Board {
			b = newFake(1, faults{})
			return b
		}, func(context.Context, hal.Board, config) error { return skipf("nothing to do") }, quick)
	})
	require.NotNil(t, b)
	assert.True(t, b.closed, "runCheck must close the board")
}

func TestSaturationPlan(t *testing.T) {
	t.Run("bias inside ADC range needs c < 1", func(t *testing.T) {
		in := fakeInfo() // bias ±1 V, ADC ±1.2 V, σ = 0.02 V
		c, bias, end, err := saturationPlan(in)
		require.NoError(t, err)
		assert.Equal(t, in.Bias.Max, bias)
		assert.Equal(t, in.ADC.Max, end)
		assert.Greater(t, c, 0.0)
		assert.Less(t, c, 1.0)
		// on the coupling grid
		assert.InDelta(t, 0, math.Remainder(c, in.CouplingStep), 1e-12)
		// equilibrium clearly beyond the ADC end: 5 % FS = 0.12 V and 6σ/√c
		x := bias / c
		assert.GreaterOrEqual(t, x, in.ADC.Max+0.12)
		assert.GreaterOrEqual(t, x, in.ADC.Max+6*in.Noise/math.Sqrt(c))
		// and not needlessly small: one grid step more would no longer do
		c2 := c + in.CouplingStep
		assert.Less(t, bias/c2, in.ADC.Max+math.Max(0.12, 6*in.Noise/math.Sqrt(c2)))
	})
	t.Run("bias beyond ADC range uses c = 1", func(t *testing.T) {
		in := fakeInfo()
		in.Bias.Range = hal.Range{Min: -2, Max: 2}
		c, bias, _, err := saturationPlan(in)
		require.NoError(t, err)
		assert.Equal(t, 1.0, c)
		assert.Equal(t, 2.0, bias)
	})
	t.Run("lower end when the bias DAC is negative only", func(t *testing.T) {
		in := fakeInfo()
		in.Bias.Range = hal.Range{Min: -1, Max: 0}
		c, bias, end, err := saturationPlan(in)
		require.NoError(t, err)
		assert.Equal(t, -1.0, bias)
		assert.Equal(t, in.ADC.Min, end)
		assert.LessOrEqual(t, bias/c, in.ADC.Min-0.12)
	})
	t.Run("impossible on a coarse coupling grid", func(t *testing.T) {
		in := fakeInfo()
		in.CouplingStep = 1 // c can only be 1, and 1 V/1 is inside ±1.2 V
		_, _, _, err := saturationPlan(in)
		var skip skipError
		require.ErrorAs(t, err, &skip)
	})
}

func TestLevels(t *testing.T) {
	in := fakeInfo() // window [-1, 1]: levels 0.5 … −0.5
	lv, err := levels(in)
	require.NoError(t, err)
	require.Len(t, lv, 4)
	want := []float64{0.5, 0.5 / 3, -0.5 / 3, -0.5}
	assert.InDeltaSlice(t, want, lv, 1e-12)

	in.Bias.Range = hal.Range{Min: 2, Max: 3} // no overlap with the ADC
	_, err = levels(in)
	var skip skipError
	require.ErrorAs(t, err, &skip)
}

func TestContainsNumber(t *testing.T) {
	assert.True(t, containsNumber("value = 3.375 V", 3.375))
	assert.True(t, containsNumber("range [-1.2, 1.2]", -1.2))
	assert.True(t, containsNumber("x = 0.333 V", 1.0/3), "%.3g form")
	assert.False(t, containsNumber("value = 3.4 V", 3.375))
	assert.False(t, containsNumber("value = 2 V", 3))
}

func TestWantRange(t *testing.T) {
	r := hal.Range{Min: -2, Max: 2}
	good := &hal.RangeError{What: "coupling", Row: 3, Col: 0, Value: 3.375, Min: -2, Max: 2, Unit: "1/τ"}
	require.NoError(t, wantRange("op", good, "coupling", 3, 0, false, 3.375, r))
	require.NoError(t, wantRange("op", good, "coupling", 0, 3, true, 3.375, r), "transposed entry on a symmetric board")
	assert.Error(t, wantRange("op", good, "coupling", 0, 3, false, 3.375, r), "transposed entry on a general board")
	assert.Error(t, wantRange("op", good, "bias", 3, 0, false, 3.375, r), "wrong quantity")
	assert.Error(t, wantRange("op", good, "coupling", 3, 0, false, 3.5, r), "wrong value")
	assert.Error(t, wantRange("op", good, "coupling", 3, 0, false, 3.375, hal.Range{Min: -1, Max: 2}), "wrong range")
	assert.Error(t, wantRange("op", nil, "coupling", 3, 0, false, 3.375, r), "no error")
	assert.Error(t, wantRange("op", hal.ErrOutOfRange, "coupling", 3, 0, false, 3.375, r), "bare sentinel")

	vec := &hal.RangeError{What: "bias", Row: 2, Col: -1, Value: -2.625, Min: -1, Max: 1, Unit: "V"}
	require.NoError(t, wantRange("op", vec, "bias", 2, -1, false, -2.625, hal.Range{Min: -1, Max: 1}))
	assert.Error(t, wantRange("op", vec, "bias", 1, -1, false, -2.625, hal.Range{Min: -1, Max: 1}), "wrong index")

	// a message that hides the value fails although the fields are right
	hidden := hiddenRange{good}
	assert.Error(t, wantRange("op", hidden, "coupling", 3, 0, false, 3.375, r))
}

// hiddenRange wraps a RangeError behind a message that omits the numbers.
type hiddenRange struct{ e *hal.RangeError }

func (h hiddenRange) Error() string { return "coupling out of range" }
func (h hiddenRange) Unwrap() error { return h.e }

func TestBeyond(t *testing.T) {
	assert.Equal(t, 3.375, beyond(2, true))
	assert.Equal(t, 3.375, beyond(1.5, true))
	assert.Equal(t, -3.625, beyond(-2, false))
	assert.Equal(t, -1.625, beyond(0, false))
}

// streamFake adds hal.Streamer to the fake: it samples in one call, then
// reports progress(n/2) — honestly, or (mode "changes") changing a sample
// it reported, or (mode "all") reporting every sample as progress.
type streamFake struct {
	*fakeBoard
	mode string
}

func (s streamFake) SampleStream(ctx context.Context, period time.Duration, dst []float64, progress func(int)) (int, error) {
	n, err := s.Sample(ctx, period, dst)
	if progress == nil || n < 2 {
		return n, err
	}
	switch s.mode {
	case "all":
		progress(n)
	default:
		progress(n / 2)
	}
	if s.mode == "changes" {
		dst[0]++
	}
	return n, err
}

// TestCheckStream: the Stream check passes an honest streamer and catches
// one that changes a reported sample or reports the whole call as
// progress; a board without the capability skips it.
func TestCheckStream(t *testing.T) {
	ctx := t.Context()
	require.NoError(t, checkStream(ctx, streamFake{newFake(1, faults{}), ""}, quick))
	err := checkStream(ctx, streamFake{newFake(1, faults{}), "changes"}, quick)
	assert.ErrorContains(t, err, "changed after progress")
	err = checkStream(ctx, streamFake{newFake(1, faults{}), "all"}, quick)
	assert.ErrorContains(t, err, "want growing counts below")
	var skip skipError
	assert.ErrorAs(t, checkStream(ctx, newFake(1, faults{}), quick), &skip)
}
