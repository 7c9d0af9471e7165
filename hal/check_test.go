package hal_test

import (
	"context"
	"errors"
	"math"
	"math/cmplx"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// info3 describes a 3-cell board with couplings in [-2, 2].
func info3(top hal.Topology) hal.Info {
	in := validInfo()
	in.Cells = 3
	in.Topology = top
	return in
}

func eye(k int) []float64 {
	a := make([]float64, k*k)
	for i := range k {
		a[i*k+i] = 1
	}
	return a
}

// cyclic returns the 3 × 3 matrix
//
//	[α 0 p]
//	[q α 0]
//	[0 r α]
//
// whose characteristic polynomial is (λ − α)³ = pqr, so its eigenvalues are
// α + m·ω^j with m = ∛(pqr) and ω = e^{2πi/3}: α + m and α − m/2 ± i·m·√3/2.
// With p, q, r not all equal it is not normal (it is D·C·D⁻¹ for a circulant
// C and a non-scalar diagonal D).
func cyclic(alpha, p, q, r float64) []float64 {
	return []float64{
		alpha, 0, p,
		q, alpha, 0,
		0, r, alpha,
	}
}

// isNormal reports whether A Aᵀ = Aᵀ A for a k × k row-major A.
func isNormal(a []float64, k int) bool {
	for i := range k {
		for j := range k {
			var aat, ata float64
			for l := range k {
				aat += a[i*k+l] * a[j*k+l]
				ata += a[l*k+i] * a[l*k+j]
			}
			if math.Abs(aat-ata) > 1e-12 {
				return false
			}
		}
	}
	return true
}

func TestCyclicFixture(t *testing.T) {
	// The closed form above, checked against the characteristic polynomial:
	// det(λI − A) = (λ − α)³ − pqr must vanish at each claimed eigenvalue.
	alpha, p, q, r := 0.45, 0.25, 2.0, 2.0
	m := math.Cbrt(p * q * r)
	omega := cmplx.Exp(complex(0, 2*math.Pi/3))
	for j := range 3 {
		lam := complex(alpha, 0) + complex(m, 0)*cmplx.Pow(omega, complex(float64(j), 0))
		d := (lam-complex(alpha, 0))*(lam-complex(alpha, 0))*(lam-complex(alpha, 0)) - complex(p*q*r, 0)
		assert.Less(t, cmplx.Abs(d), 1e-12)
	}
	assert.False(t, isNormal(cyclic(alpha, p, q, r), 3))
	assert.True(t, isNormal(cyclic(alpha, 1, 1, 1), 3), "circulant is normal")
}

func TestCheckCouplingsDimension(t *testing.T) {
	in := info3(hal.General)
	for _, n := range []int{0, 3, 8, 10, 16} {
		err := hal.CheckCouplings(in, make([]float64, n))
		assert.ErrorIs(t, err, hal.ErrDimension, "%d entries", n)
	}
	assert.ErrorIs(t, hal.CheckCouplings(in, nil), hal.ErrDimension)
}

func TestCheckCouplingsNotFinite(t *testing.T) {
	for _, top := range []hal.Topology{hal.General, hal.Symmetric} {
		in := info3(top)
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			for _, pos := range []int{0, 5, 8} {
				a := eye(3)
				a[pos] = bad
				err := hal.CheckCouplings(in, a)
				assert.ErrorIs(t, err, hal.ErrInvalid, "%v: A[%d] = %g", top, pos, bad)
				assert.NotErrorIs(t, err, hal.ErrOutOfRange, "%v: A[%d] = %g", top, pos, bad)
			}
		}
	}
}

func TestCheckCouplingsOutOfRange(t *testing.T) {
	in := info3(hal.General)
	for _, tc := range []struct {
		row, col int
		v        float64
	}{{1, 2, 2.5}, {2, 0, -3}, {0, 0, 2.0000001}, {2, 2, math.MaxFloat64}} {
		a := eye(3)
		a[tc.row*3+tc.col] = tc.v
		err := hal.CheckCouplings(in, a)
		require.ErrorIs(t, err, hal.ErrOutOfRange)
		var re *hal.RangeError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "coupling", re.What)
		assert.Equal(t, tc.row, re.Row)
		assert.Equal(t, tc.col, re.Col)
		assert.Equal(t, tc.v, re.Value)
		assert.Equal(t, -2.0, re.Min)
		assert.Equal(t, 2.0, re.Max)
		assert.Equal(t, "1/τ", re.Unit)
	}
}

func TestCheckCouplingsBoundsAreInclusive(t *testing.T) {
	// Upper triangular, so its eigenvalues are the diagonal: all 2.
	a := []float64{
		2, -2, 2,
		0, 2, -2,
		0, 0, 2,
	}
	assert.NoError(t, hal.CheckCouplings(info3(hal.General), a))
}

func TestCheckCouplingsSymmetry(t *testing.T) {
	asym := []float64{
		1, 0.5, 0,
		0.25, 1, 0,
		0, 0, 1,
	}
	err := hal.CheckCouplings(info3(hal.Symmetric), asym)
	require.ErrorIs(t, err, hal.ErrUnsupported)
	assert.NotErrorIs(t, err, hal.ErrUnstable)
	assert.NoError(t, hal.CheckCouplings(info3(hal.General), asym), "a General board takes it")

	sym := []float64{
		1, 0.5, 0,
		0.5, 1, 0.25,
		0, 0.25, 1,
	}
	assert.NoError(t, hal.CheckCouplings(info3(hal.Symmetric), sym))
}

func TestCheckCouplingsUnstable(t *testing.T) {
	cases := []struct {
		name string
		a    []float64
		k    int
	}{
		{"zero eigenvalue", []float64{1, 0, 0, 0, 0, 0, 0, 0, 1}, 3},
		{"negative eigenvalue", []float64{1, 0, 0, 0, -0.5, 0, 0, 0, 1}, 3},
		// eigenvalues 1 ± 1.5 = 2.5, −0.5; the diagonal alone looks fine
		{"symmetric indefinite", []float64{1, 1.5, 1.5, 1}, 2},
		// eigenvalues ±i: real part exactly 0
		{"pure rotation", []float64{0, 1, -1, 0}, 2},
		// non-normal, positive diagonal 0.45, eigenvalues 1.45 and −0.05 ± 0.866i
		{"non-normal complex pair", cyclic(0.45, 0.25, 2, 2), 3},
		{"zero matrix", make([]float64, 9), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := info3(hal.General)
			in.Cells = tc.k
			err := hal.CheckCouplings(in, tc.a)
			assert.ErrorIs(t, err, hal.ErrUnstable)
			assert.NotErrorIs(t, err, hal.ErrOutOfRange)
			assert.ErrorIs(t, hal.Stable(tc.a, tc.k), hal.ErrUnstable)
		})
	}
}

func TestStableMessageNamesEigenvalue(t *testing.T) {
	err := hal.Stable([]float64{1, 0, 0, 0, -0.5, 0, 0, 0, 1}, 3)
	require.ErrorIs(t, err, hal.ErrUnstable)
	assert.Contains(t, err.Error(), "-0.5")
}

func TestCheckCouplingsStableNonSymmetric(t *testing.T) {
	cases := []struct {
		name string
		a    []float64
		k    int
	}{
		// non-normal, positive diagonal 0.55, eigenvalues 1.55 and
		// 0.05 ± 0.866i; its symmetric part is indefinite, so a test through
		// the symmetric part would wrongly reject it
		{"non-normal complex pair", cyclic(0.55, 0.25, 2, 2), 3},
		// eigenvalues 1, 1; symmetric part [[1,1],[1,1]] is singular
		{"triangular", []float64{1, 2, 0, 1}, 2},
		// eigenvalues 1 ± 2i
		{"rotation", []float64{1, 2, -2, 1}, 2},
		{"identity", eye(3), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := info3(hal.General)
			in.Cells = tc.k
			assert.NoError(t, hal.CheckCouplings(in, tc.a))
			assert.NoError(t, hal.Stable(tc.a, tc.k))
		})
	}
	assert.False(t, isNormal(cyclic(0.55, 0.25, 2, 2), 3))
}

func TestCheckCouplingsLeavesInputAlone(t *testing.T) {
	a := cyclic(0.55, 0.25, 2, 2)
	orig := slices.Clone(a)
	require.NoError(t, hal.CheckCouplings(info3(hal.General), a))
	assert.Equal(t, orig, a)
}

func TestStableDimension(t *testing.T) {
	assert.ErrorIs(t, hal.Stable(nil, 0), hal.ErrDimension)
	assert.ErrorIs(t, hal.Stable([]float64{1, 0, 0}, 2), hal.ErrDimension)
	assert.NoError(t, hal.Stable([]float64{3}, 1))
	assert.ErrorIs(t, hal.Stable([]float64{-3}, 1), hal.ErrUnstable)
}

func TestCheckVector(t *testing.T) {
	r := hal.Range{Min: -1, Max: 1}
	assert.NoError(t, hal.CheckVector("bias", []float64{-1, 0, 1}, 3, r), "bounds are inclusive")

	for _, n := range []int{0, 2, 4} {
		assert.ErrorIs(t, hal.CheckVector("bias", make([]float64, n), 3, r), hal.ErrDimension, "%d entries", n)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		err := hal.CheckVector("bias", []float64{0, bad, 0}, 3, r)
		assert.ErrorIs(t, err, hal.ErrInvalid, "%g", bad)
		assert.NotErrorIs(t, err, hal.ErrOutOfRange, "%g", bad)
	}

	err := hal.CheckVector("state", []float64{0, 0.5, -1.5}, 3, r)
	require.ErrorIs(t, err, hal.ErrOutOfRange)
	var re *hal.RangeError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "state", re.What)
	assert.Equal(t, 2, re.Row)
	assert.Less(t, re.Col, 0, "a vector entry has no column")
	assert.Equal(t, -1.5, re.Value)
	assert.Equal(t, r.Min, re.Min)
	assert.Equal(t, r.Max, re.Max)
	assert.Equal(t, "V", re.Unit)
	assert.Contains(t, err.Error(), "state[2]")
}

func TestSamplePeriod(t *testing.T) {
	in := validInfo() // MinSamplePeriod 5 µs
	p, err := hal.SamplePeriod(in, 0)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Microsecond, p, "0 means the minimum")

	for _, ok := range []time.Duration{5 * time.Microsecond, 7 * time.Microsecond, time.Second} {
		p, err := hal.SamplePeriod(in, ok)
		require.NoError(t, err)
		assert.Equal(t, ok, p)
	}

	for _, bad := range []time.Duration{5*time.Microsecond - 1, time.Microsecond, -1, -time.Second} {
		_, err := hal.SamplePeriod(in, bad)
		require.ErrorIs(t, err, hal.ErrOutOfRange, "%v", bad)
		var re *hal.RangeError
		require.True(t, errors.As(err, &re))
		assert.Equal(t, bad.Seconds(), re.Value)
		assert.Equal(t, 5e-6, re.Min)
		assert.True(t, math.IsInf(re.Max, 1))
		assert.Equal(t, "s", re.Unit)
		assert.Less(t, re.Row, 0, "a scalar")
		assert.Less(t, re.Col, 0, "a scalar")
	}
}

func TestCheckDuration(t *testing.T) {
	for _, bad := range []time.Duration{0, -1, -time.Hour} {
		assert.ErrorIs(t, hal.CheckDuration(bad), hal.ErrInvalid, "%v", bad)
	}
	for _, ok := range []time.Duration{1, time.Microsecond, time.Hour} {
		assert.NoError(t, hal.CheckDuration(ok), "%v", ok)
	}
}

func TestSampleRows(t *testing.T) {
	n, err := hal.SampleRows(make([]float64, 24), 8)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, l := range []int{0, 7, 25} {
		_, err := hal.SampleRows(make([]float64, l), 8)
		require.ErrorIs(t, err, hal.ErrDimension, "len %d", l)
		assert.Contains(t, err.Error(), "want a positive multiple of 8 cells")
	}
}

// CheckUsable: closed first, then the context, each named by the operation.
func TestCheckUsable(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, hal.CheckUsable(ctx, "run", false))
	err := hal.CheckUsable(ctx, "run", true)
	require.ErrorIs(t, err, hal.ErrClosed)
	assert.Equal(t, "run: "+hal.ErrClosed.Error(), err.Error())
	done, cancel := context.WithCancel(ctx)
	cancel()
	err = hal.CheckUsable(done, "sample", false)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "sample: context canceled", err.Error())
	require.ErrorIs(t, hal.CheckUsable(done, "sample", true), hal.ErrClosed, "closed wins")
}

// SampleArgs is SamplePeriod then SampleRows for info.Cells cells.
func TestSampleArgs(t *testing.T) {
	in := hal.Info{Cells: 4, MinSamplePeriod: time.Microsecond}
	p, rows, err := hal.SampleArgs(in, 0, make([]float64, 12))
	require.NoError(t, err)
	assert.Equal(t, time.Microsecond, p)
	assert.Equal(t, 3, rows)
	p, rows, err = hal.SampleArgs(in, 5*time.Microsecond, make([]float64, 4))
	require.NoError(t, err)
	assert.Equal(t, 5*time.Microsecond, p)
	assert.Equal(t, 1, rows)
	_, _, err = hal.SampleArgs(in, time.Nanosecond, make([]float64, 5))
	var re *hal.RangeError
	require.ErrorAs(t, err, &re, "the period is checked first")
	_, _, err = hal.SampleArgs(in, 0, make([]float64, 5))
	require.ErrorIs(t, err, hal.ErrDimension)
	assert.Contains(t, err.Error(), "want a positive multiple of 4 cells")
}

// SampleStart is CheckUsable for "sample", then SampleArgs prefixed
// "sample: ".
func TestSampleStart(t *testing.T) {
	ctx := context.Background()
	in := hal.Info{Cells: 4, MinSamplePeriod: time.Microsecond}
	p, rows, err := hal.SampleStart(ctx, in, false, 0, make([]float64, 12))
	require.NoError(t, err)
	assert.Equal(t, time.Microsecond, p)
	assert.Equal(t, 3, rows)
	_, _, err = hal.SampleStart(ctx, in, true, 0, make([]float64, 5))
	require.ErrorIs(t, err, hal.ErrClosed, "the board's state is checked before the arguments")
	assert.Equal(t, "sample: "+hal.ErrClosed.Error(), err.Error())
	_, _, err = hal.SampleStart(ctx, in, false, 0, make([]float64, 5))
	require.ErrorIs(t, err, hal.ErrDimension)
	_, _, want := hal.SampleArgs(in, 0, make([]float64, 5))
	assert.Equal(t, "sample: "+want.Error(), err.Error())
}
