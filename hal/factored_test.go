package hal_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// dense builds J entry by entry from the definition in the Jacobian doc.
func dense(j *hal.Jacobian) [][]float64 {
	out := make([][]float64, j.Rows)
	for r := range out {
		out[r] = make([]float64, j.Cols)
		for _, b := range j.Blocks {
			for p := range b.Out {
				for q := range b.In {
					out[r][b.Col+p*b.In+q] += b.Signal[r*b.Out+p] * b.Input[(r/j.RowsPerSample)*b.In+q]
				}
			}
		}
	}
	return out
}

func randJacobian(r *rand.Rand) *hal.Jacobian {
	// Two layers 3→4→2 with bias inputs: block 0 is 4×(3+1), block 1 is 2×(4+1).
	const samples, outs = 3, 2
	j := &hal.Jacobian{Rows: samples * outs, Cols: 4*4 + 2*5 + 1, RowsPerSample: outs}
	for _, sz := range [][3]int{{0, 4, 4}, {16, 2, 5}} {
		b := hal.JacobianBlock{Col: sz[0], Out: sz[1], In: sz[2],
			Signal: make([]float64, j.Rows*sz[1]), Input: make([]float64, samples*sz[2])}
		for i := range b.Signal {
			b.Signal[i] = r.NormFloat64()
		}
		for i := range b.Input {
			b.Input[i] = r.NormFloat64()
		}
		j.Blocks = append(j.Blocks, b)
	}
	return j
}

func TestJacobianProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	j := randJacobian(r)
	require.NoError(t, j.Validate())
	d := dense(j)
	v := make([]float64, j.Cols)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	w := make([]float64, j.Rows)
	for i := range w {
		w[i] = r.NormFloat64()
	}
	jv := make([]float64, j.Rows)
	j.MulVec(jv, v)
	for row := range d {
		want := 0.0
		for c, x := range d[row] {
			want += x * v[c]
		}
		assert.InDelta(t, want, jv[row], 1e-12)
	}
	jtw := make([]float64, j.Cols)
	j.TransMulVec(jtw, w)
	for c := range j.Cols {
		want := 0.0
		for row := range d {
			want += d[row][c] * w[row]
		}
		assert.InDelta(t, want, jtw[c], 1e-12)
	}
	assert.Zero(t, jtw[j.Cols-1], "uncovered column")
}

func TestFactorizationValidate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	j := randJacobian(r)
	f := &hal.Factorization{J: *j, H: make([]float64, 3*4), Scale: 1.0 / 3, Lambda: 0.01}
	require.NoError(t, f.Validate(j.Cols))
	require.ErrorIs(t, f.Validate(j.Cols-1), hal.ErrDimension)
	f.Lambda = 0
	require.ErrorIs(t, f.Validate(j.Cols), hal.ErrUnstable)
	f.Lambda = 0.01
	f.H = f.H[:5]
	require.ErrorIs(t, f.Validate(j.Cols), hal.ErrDimension)
	f.H = make([]float64, 12)
	f.J.Blocks[1].Input[0] = nan()
	require.ErrorIs(t, f.Validate(j.Cols), hal.ErrInvalid)
	f.J.Blocks[1].Input = f.J.Blocks[1].Input[1:]
	require.ErrorIs(t, f.Validate(j.Cols), hal.ErrDimension)
}

func nan() float64 { z := 0.0; return z / z }

func TestJacobianGram(t *testing.T) {
	j := randJacobian(rand.New(rand.NewPCG(5, 6)))
	d := dense(j)
	g := j.Gram()
	for r := range j.Rows {
		for c := range j.Rows {
			want := 0.0
			for k := range j.Cols {
				want += d[r][k] * d[c][k]
			}
			assert.InDelta(t, want, g[r*j.Rows+c], 1e-12)
		}
	}
}

// Blocks must cover disjoint columns: Gram would drop an overlap's cross terms.
func TestJacobianOverlapRejected(t *testing.T) {
	j := randJacobian(rand.New(rand.NewPCG(3, 4)))
	j.Blocks[1].Col = 15 // block 0 covers [0, 16): one shared column
	err := j.Validate()
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), "block 1: columns [15, 25) overlap block 0's [0, 16)")
	j.Blocks[1].Col = 16
	require.NoError(t, j.Validate(), "adjacent blocks are fine")
}
