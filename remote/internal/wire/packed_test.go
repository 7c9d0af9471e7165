package wire

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
)

// bits returns the bit patterns of v, so that comparisons see NaN
// payloads and the sign of zero.
func bits(v []float64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = math.Float64bits(x)
	}
	return out
}

// TestVectorRoundTrip: a vector sent packed, with its run of trailing
// copies as a tail, decodes to the same bits (a NaN payload and −0
// included); a short run is sent whole; unpacked it is sent as it is.
func TestVectorRoundTrip(t *testing.T) {
	odd := math.Float64frombits(0x7ff8_0000_0000_1234) // a NaN with a payload
	v := append([]float64{1.5, math.Copysign(0, -1), odd, 3}, make([]float64, 100)...)
	for i := 4; i < len(v); i++ {
		v[i] = math.Copysign(0, -1)
	}
	r := VectorToPB(nil, v, true)
	// 100 trailing −0: the first sent, 99 as the tail.
	assert.Equal(t, int64(99), r.GetTail())
	assert.Len(t, r.GetVPacked(), 8*5)
	got, err := VectorFromPB("v", r, len(v))
	require.NoError(t, err)
	assert.Equal(t, bits(v), bits(got))

	short := []float64{1, 2, 2, 2}
	r = VectorToPB(nil, short, true)
	assert.Zero(t, r.GetTail(), "a run shorter than minTail is sent whole")
	got, err = VectorFromPB("v", r, 4)
	require.NoError(t, err)
	assert.Equal(t, short, got)

	r = VectorToPB(nil, v, false)
	assert.Equal(t, v, r.GetV(), "unpacked for an older server")
	assert.Zero(t, r.GetTail())
}

// TestVectorFromPBRefuses: a tail beyond the board's cells (checked
// before allocating), a tail with no value to repeat, both forms at once
// and ragged packed bytes are errors.
func TestVectorFromPBRefuses(t *testing.T) {
	for _, tc := range []struct {
		r    *boardpb.VectorRequest
		want error
		msg  string
	}{
		{&boardpb.VectorRequest{VPacked: Pack([]float64{1}), Tail: 1 << 60}, hal.ErrDimension, "1 values and a tail of 1152921504606846976, want at least 1 value and at most 8 in all"},
		{&boardpb.VectorRequest{VPacked: Pack([]float64{1}), Tail: -1}, hal.ErrDimension, "tail of -1"},
		{&boardpb.VectorRequest{Tail: 3}, hal.ErrDimension, "0 values and a tail of 3"},
		{&boardpb.VectorRequest{V: []float64{1}, VPacked: Pack([]float64{1})}, hal.ErrInvalid, "1 values and 8 packed bytes, want one of the two"},
		{&boardpb.VectorRequest{VPacked: make([]byte, 9)}, hal.ErrInvalid, "9 packed bytes, want a multiple of 8"},
	} {
		_, err := VectorFromPB("v", tc.r, 8)
		require.ErrorIs(t, err, tc.want, tc.msg)
		assert.ErrorContains(t, err, tc.msg)
	}
}
