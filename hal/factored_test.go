package hal_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// randJacobian draws two layers 3→4→2 with bias inputs: block 0 is
// 4×(3+1), block 1 is 2×(4+1), over 3 samples.
func randJacobian(r *rand.Rand) *hal.Jacobian {
	j := testnum.RandJacobian(r, 3, 2, 4*4+2*5+1, [][3]int{{0, 4, 4}, {16, 2, 5}})
	return &j
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

// Blocks must cover disjoint columns: a Gram matrix would drop an overlap's cross terms.
func TestJacobianOverlapRejected(t *testing.T) {
	j := randJacobian(rand.New(rand.NewPCG(3, 4)))
	j.Blocks[1].Col = 15 // block 0 covers [0, 16): one shared column
	err := j.Validate()
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), "block 1: columns [15, 25) overlap block 0's [0, 16)")
	j.Blocks[1].Col = 16
	require.NoError(t, j.Validate(), "adjacent blocks are fine")
}

// TestValidateSizeOverflow: sizes whose products wrap around int (2¹⁶ on
// 32-bit ARM, 2³² on amd64: big² = 2^IntSize ≡ 0) are refused. Before,
// Out·In = 0 passed the column check and Rows·Out = 0 (Samples·In = 0)
// matched empty slices, so a kernel would have indexed beyond them; and
// Samples·r·r = 0 matched an empty H.
func TestValidateSizeOverflow(t *testing.T) {
	big := 1 << (strconv.IntSize / 2)
	j := hal.Jacobian{Rows: big, Cols: 1, RowsPerSample: 1, Blocks: []hal.JacobianBlock{{Out: big, In: big}}}
	assert.ErrorIs(t, j.Validate(), hal.ErrDimension)
	j = hal.Jacobian{Rows: big, Cols: 4, RowsPerSample: 1, Blocks: []hal.JacobianBlock{{Out: big, In: 1}}}
	assert.ErrorIs(t, j.Validate(), hal.ErrDimension)
	f := hal.Factorization{J: hal.Jacobian{Rows: big, Cols: 1, RowsPerSample: big}, Lambda: 1}
	assert.ErrorIs(t, f.Validate(4), hal.ErrDimension, "samples × r × r wraps to 0 = len(H)")
}
