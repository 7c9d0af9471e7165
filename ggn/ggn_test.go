package ggn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

func randVec(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// Shapes: two layers 3→4→2 with bias inputs and one uncovered column; a
// wider three-block one; and one of more than 16 rows per worker chunk, so
// Gram's parallel split runs.
var shapes = []struct {
	samples, k, cols int
	blocks           [][3]int
}{
	{3, 2, 4*4 + 2*5 + 1, [][3]int{{0, 4, 4}, {16, 2, 5}}},
	{7, 3, 200, [][3]int{{0, 4, 30}, {150, 3, 11}, {190, 1, 10}}},
	{40, 5, 12*21 + 5*13, [][3]int{{0, 12, 21}, {12 * 21, 5, 13}}},
	{9, 1, 30, [][3]int{{2, 4, 7}}},
}

func TestProductsAgainstNaiveAndDense(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range shapes {
		f := testnum.RandFactorization(r, sh.samples, sh.k, sh.cols, sh.blocks, 0.1)
		j := &f.J
		require.NoError(t, j.Validate())
		work := make([]float64, ggn.WorkLen(j))
		v, w := randVec(r, j.Cols), randVec(r, j.Rows)

		got, want := make([]float64, j.Rows), make([]float64, j.Rows)
		ggn.MulVec(got, j, v, work)
		naiveMulVec(j, want, v)
		assert.Less(t, testnum.RelErr(got, want), 1e-14, "J v %v", sh)
		var dv mat.VecDense
		dv.MulVec(denseFromDefinition(j), mat.NewVecDense(j.Cols, v))
		assert.Less(t, testnum.RelErr(got, dv.RawVector().Data), 1e-14, "J v against dense J %v", sh)

		gotT, wantT := make([]float64, j.Cols), make([]float64, j.Cols)
		ggn.MulTransVec(gotT, j, w, work)
		naiveMulTransVec(j, wantT, w)
		assert.Less(t, testnum.RelErr(gotT, wantT), 1e-14, "Jᵀ w %v", sh)
		var dtw mat.VecDense
		dtw.MulVec(denseFromDefinition(j).T(), mat.NewVecDense(j.Rows, w))
		assert.Less(t, testnum.RelErr(gotT, dtw.RawVector().Data), 1e-14, "Jᵀ w against dense J %v", sh)
		gemmMulTransVec(j, wantT, w)
		assert.Equal(t, wantT, gotT, "Jᵀ w bit for bit as the GEMM formulation %v", sh)

		d := make([]float64, j.Rows*j.Cols)
		ggn.Dense(d, j)
		assert.Equal(t, denseFromDefinition(j).RawMatrix().Data, d, "Dense %v", sh)
	}
	// Columns no block covers are zero in Jᵀw, whatever dst held.
	f := testnum.RandFactorization(r, 3, 2, 27, shapes[0].blocks, 0.1)
	dst := randVec(r, 27)
	ggn.MulTransVec(dst, &f.J, randVec(r, 6), make([]float64, ggn.WorkLen(&f.J)))
	assert.Zero(t, dst[26], "uncovered column")
}

// The per-product kernels do not allocate.
func TestProductsDoNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	sh := shapes[2]
	f := testnum.RandFactorization(r, sh.samples, sh.k, sh.cols, sh.blocks, 0.1)
	j := &f.J
	work := make([]float64, ggn.WorkLen(j))
	v, w := randVec(r, j.Cols), randVec(r, j.Rows)
	jv, jtw := make([]float64, j.Rows), make([]float64, j.Cols)
	assert.Zero(t, testing.AllocsPerRun(10, func() { ggn.MulVec(jv, j, v, work) }))
	assert.Zero(t, testing.AllocsPerRun(10, func() { ggn.MulTransVec(jtw, j, w, work) }))
}

// Gram agrees with the naive Gram, is exactly symmetric, and gives the
// same result with a reused workspace and a dirty destination.
func TestGram(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	var ws ggn.GramWork
	for _, sh := range shapes {
		f := testnum.RandFactorization(r, sh.samples, sh.k, sh.cols, sh.blocks, 0.1)
		m := f.J.Rows
		want := naiveGram(&f.J)
		got := randVec(r, m*m)
		for range 2 {
			ggn.Gram(got, &f.J, &ws)
			for i := range m {
				for j := range m {
					assert.InDelta(t, want[i*m+j], got[i*m+j], 1e-12*math.Abs(want[i*m+j])+1e-12)
					require.Equal(t, got[i*m+j], got[j*m+i], "exactly symmetric")
				}
			}
		}
	}
}

// A dense J is one block with Out = 1, Signal all ones and Input = J: its
// Gram is J Jᵀ in closed form.
func TestGramDenseSpecialCase(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const m, n = 5, 8
	in := randVec(r, m*n)
	ones := make([]float64, m)
	for i := range ones {
		ones[i] = 1
	}
	j := &hal.Jacobian{Rows: m, Cols: n, RowsPerSample: 1,
		Blocks: []hal.JacobianBlock{{Col: 0, Out: 1, In: n, Signal: ones, Input: in}}}
	got := make([]float64, m*m)
	ggn.Gram(got, j, &ggn.GramWork{})
	var want mat.Dense
	jd := mat.NewDense(m, n, in)
	want.Mul(jd, jd.T())
	assert.Less(t, testnum.RelErr(got, want.RawMatrix().Data), 1e-15)
}

func TestSqrtH(t *testing.T) {
	var ws ggn.SqrtWork
	// Closed form: [[2,1],[1,2]]² = [[5,4],[4,5]]; diag(9, 0, 4) → diag(3, 0, 2).
	got := make([]float64, 4)
	require.True(t, ggn.SqrtH(got, []float64{5, 4, 4, 5}, 2, &ws))
	for i, w := range []float64{2, 1, 1, 2} {
		assert.InDelta(t, w, got[i], 1e-15)
	}
	got = make([]float64, 9)
	require.True(t, ggn.SqrtH(got, []float64{9, 0, 0, 0, 0, 0, 0, 0, 4}, 3, &ws))
	for i, w := range []float64{3, 0, 0, 0, 0, 0, 0, 0, 2} {
		assert.InDelta(t, w, got[i], 1e-15)
	}
	// One row per sample: square roots, negative round-off clipped to 0.
	got = make([]float64, 3)
	require.True(t, ggn.SqrtH(got, []float64{0.25, -1e-18, 4}, 1, &ws))
	assert.Equal(t, []float64{0.5, 0, 2}, got)

	// Softmax Hessians: H^{1/2} squares to H, matches the old loops (its
	// upper triangle bit for bit) and is exactly symmetric.
	r := rand.New(rand.NewPCG(8, 8))
	for _, k := range []int{2, 3, 10} {
		f := testnum.RandFactorization(r, 6, k, 10, [][3]int{{0, 2, 5}}, 0.1)
		hh := make([]float64, len(f.H))
		require.True(t, ggn.SqrtH(hh, f.H, k, &ws))
		for s := range 6 {
			blk, h := hh[s*k*k:(s+1)*k*k], f.H[s*k*k:(s+1)*k*k]
			var sq mat.Dense
			sq.Mul(mat.NewDense(k, k, blk), mat.NewDense(k, k, blk))
			assert.Less(t, testnum.RelErr(sq.RawMatrix().Data, h), 1e-14, "H^{1/2}² = H, k = %d", k)
			want := make([]float64, k*k)
			require.True(t, naiveSymSqrt(want, h, k))
			for a := range k {
				for c := range k {
					require.Equal(t, blk[a*k+c], blk[c*k+a], "symmetric")
					if c >= a {
						require.Equal(t, want[a*k+c], blk[a*k+c], "upper triangle as the old loops, k = %d", k)
					} else {
						assert.InDelta(t, want[a*k+c], blk[a*k+c], 1e-15)
					}
				}
			}
		}
	}
}

// U = √s·H^{1/2}·J, compared densely; a reused destination gives the same.
func TestU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var ws ggn.SqrtWork
	for _, sh := range shapes {
		f := testnum.RandFactorization(r, sh.samples, sh.k, sh.cols, sh.blocks, 0.1)
		k, b := sh.k, sh.samples
		hh := make([]float64, len(f.H))
		require.True(t, ggn.SqrtH(hh, f.H, k, &ws))
		blk := mat.NewDense(b*k, b*k, nil)
		for s := range b {
			for a := range k {
				for c := range k {
					blk.Set(s*k+a, s*k+c, math.Sqrt(f.Scale)*hh[s*k*k+a*k+c])
				}
			}
		}
		var want mat.Dense
		want.Mul(blk, denseFromDefinition(&f.J))
		var u hal.Jacobian
		for range 2 {
			ggn.U(&u, &f.J, hh, f.Scale)
			require.NoError(t, u.Validate())
			got := make([]float64, u.Rows*u.Cols)
			ggn.Dense(got, &u)
			assert.Less(t, testnum.RelErr(got, want.RawMatrix().Data), 1e-14, "U %v", sh)
		}
	}
}

// Curvature gives λI + s·JᵀHJ as the naive column-by-column loops do, in
// the leading block of a wider matrix whose other entries it leaves alone.
func TestCurvature(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	var ws ggn.SqrtWork
	for _, sh := range shapes {
		f := testnum.RandFactorization(r, sh.samples, sh.k, sh.cols, sh.blocks, 0.1)
		n, stride := f.J.Cols, f.J.Cols+3
		hh := make([]float64, len(f.H))
		require.True(t, ggn.SqrtH(hh, f.H, sh.k, &ws))
		var u hal.Jacobian
		ggn.U(&u, &f.J, hh, f.Scale)
		got := make([]float64, stride*stride)
		got[n] = 7 // outside the leading block
		ggn.Curvature(got, stride, &u, f.Lambda, make([]float64, u.Rows*u.Cols))
		want := naiveCurvature(f, stride)
		for i := range n {
			for c := range n {
				assert.InDelta(t, want[i*stride+c], got[i*stride+c], 1e-12, "F[%d][%d] %v", i, c, sh)
				require.Equal(t, got[i*stride+c], got[c*stride+i], "symmetric")
			}
		}
		assert.Equal(t, 7.0, got[n])
	}
}

// Shape mismatches are programming errors: they panic, as in gonum.
func TestShapePanics(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	f := testnum.RandFactorization(r, 3, 2, 27, shapes[0].blocks, 0.1)
	j := &f.J
	work := make([]float64, ggn.WorkLen(j))
	assert.PanicsWithValue(t, "ggn: dst has length 5, want 6", func() { ggn.MulVec(make([]float64, 5), j, make([]float64, 27), work) })
	assert.PanicsWithValue(t, "ggn: v has length 26, want 27", func() { ggn.MulVec(make([]float64, 6), j, make([]float64, 26), work) })
	assert.PanicsWithValue(t, "ggn: work has length 3, want at least 12", func() { ggn.MulTransVec(make([]float64, 27), j, make([]float64, 6), work[:3]) })
	assert.Panics(t, func() { ggn.Gram(make([]float64, 35), j, &ggn.GramWork{}) })
	assert.Panics(t, func() { ggn.SqrtH(make([]float64, 7), make([]float64, 7), 2, &ggn.SqrtWork{}) })
	assert.Panics(t, func() { ggn.U(&hal.Jacobian{}, j, make([]float64, 3), 1) })
	assert.Panics(t, func() { ggn.Curvature(make([]float64, 27*27), 26, j, 1, make([]float64, 6*27)) })
	bad := *j
	bad.Blocks = append([]hal.JacobianBlock(nil), j.Blocks...)
	bad.Blocks[1].Signal = bad.Blocks[1].Signal[1:]
	assert.Panics(t, func() { ggn.MulVec(make([]float64, 6), &bad, make([]float64, 27), work) })
}

// At the paper's MNIST shape (784-32-10, batch 64), with some zero weights,
// MulTransVec is bit for bit the GEMM formulation (whose In columns GEMM
// splits into blocks, and on which gonum may run goroutines).
func TestMulTransVecMatchesGemmAtMNISTShape(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	f := testnum.RandFactorization(r, 64, 10, 32*785+10*33, [][3]int{{0, 32, 785}, {32 * 785, 10, 33}}, 0.1)
	work := make([]float64, ggn.WorkLen(&f.J))
	got, want := make([]float64, f.J.Cols), make([]float64, f.J.Cols)
	for i := range 4 {
		w := randVec(r, f.J.Rows)
		for q := range w {
			if i%2 == 1 && r.Float64() < 0.3 {
				w[q] = 0
			}
		}
		ggn.MulTransVec(got, &f.J, w, work)
		gemmMulTransVec(&f.J, want, w)
		require.Equal(t, want, got)
	}
}

// Dense and Curvature do not allocate either.
func TestDenseKernelsDoNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	sh := shapes[1]
	f := testnum.RandFactorization(r, sh.samples, sh.k, sh.cols, sh.blocks, 0.1)
	j := &f.J
	d := make([]float64, j.Rows*j.Cols)
	fd := make([]float64, j.Cols*j.Cols)
	assert.Zero(t, testing.AllocsPerRun(5, func() { ggn.Dense(d, j) }))
	assert.Zero(t, testing.AllocsPerRun(5, func() { ggn.Curvature(fd, j.Cols, j, 0.1, d) }))
}
