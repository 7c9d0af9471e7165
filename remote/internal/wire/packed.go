package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
)

// PackedMinor is the first minor version whose peers read and write the
// packed fields: arrays of doubles as little-endian float64 bytes.
const PackedMinor = 3

// littleEndian: this machine stores a float64 as the packed fields do, so
// packing and unpacking are a view or a copy of the same bytes instead of
// a loop over the values (every platform spukit builds for: amd64, arm64,
// arm).
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Pack returns v as little-endian float64 bytes, 8 a value, each value's
// bits unchanged (the decoded values are bit-identical, NaN payloads and
// the sign of zero included). On a little-endian machine the result is a
// view of v's memory, not a copy: v must not change while it is in use.
func Pack(v []float64) []byte {
	if len(v) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 8*len(v))
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

// Unpack decodes the little-endian float64 values of b into dst, which
// must hold len(b)/8 of them; len(b) must be a multiple of 8.
func Unpack(dst []float64, b []byte) error {
	if len(b)%8 != 0 || len(dst) < len(b)/8 {
		return fmt.Errorf("packed values: %d bytes for %d values, want a multiple of 8 up to %d: %w", len(b), len(dst), 8*len(dst), hal.ErrInvalid)
	}
	if littleEndian {
		copy(Pack(dst[:len(b)/8]), b)
		return nil
	}
	for i := range len(b) / 8 {
		dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return nil
}

// Floats returns the doubles of a field sent either as repeated double
// (v) or packed: v when packed is empty, else packed decoded — a view of
// packed's memory where it is aligned on a little-endian machine (a
// received message's bytes are its own), else a copy of the length that
// arrived (which the message limit bounds). what names the field in the
// error when both are set or packed is not whole values.
func Floats(what string, v []float64, packed []byte) ([]float64, error) {
	if len(packed) == 0 {
		return v, nil
	}
	if len(v) != 0 {
		return nil, fmt.Errorf("%s: %d values and %d packed bytes, want one of the two: %w", what, len(v), len(packed), hal.ErrInvalid)
	}
	if len(packed)%8 != 0 {
		return nil, fmt.Errorf("%s: %d packed bytes, want a multiple of 8: %w", what, len(packed), hal.ErrInvalid)
	}
	p := unsafe.Pointer(unsafe.SliceData(packed))
	if littleEndian && uintptr(p)%unsafe.Alignof(float64(0)) == 0 {
		return unsafe.Slice((*float64)(p), len(packed)/8), nil
	}
	out := make([]float64, len(packed)/8)
	_ = Unpack(out, packed)
	return out, nil
}

// minTail is the shortest run of equal trailing values sent as a tail
// (VectorRequest.tail): shorter ones are not worth the copy.
const minTail = 64

// VectorToPB encodes v for call c: for a server of minor version ≥
// PackedMinor (packed), packed and with its run of trailing copies of one
// value (bit for bit) sent as a count, else as repeated doubles.
func VectorToPB(c *boardpb.Call, v []float64, packed bool) *boardpb.VectorRequest {
	if !packed {
		return &boardpb.VectorRequest{Call: c, V: v}
	}
	n := len(v)
	if n > 0 {
		last := math.Float64bits(v[n-1])
		for n > 1 && math.Float64bits(v[n-2]) == last {
			n--
		}
	}
	if len(v)-n < minTail {
		n = len(v)
	}
	return &boardpb.VectorRequest{Call: c, VPacked: Pack(v[:n]), Tail: int64(len(v) - n)}
}

// VectorFromPB decodes r's vector for a board of cells cells: repeated or
// packed, then its tail. A tail without a value to repeat, or one that
// makes the vector longer than the board (checked before anything is
// allocated: the count comes from the network), is an error; the board
// checks the length itself.
func VectorFromPB(what string, r *boardpb.VectorRequest, cells int) ([]float64, error) {
	v, err := Floats(what, r.GetV(), r.GetVPacked())
	if err != nil || r.GetTail() == 0 {
		return v, err
	}
	if t := r.GetTail(); len(v) == 0 || t < 0 || t > int64(cells-len(v)) {
		return nil, fmt.Errorf("%s: %d values and a tail of %d, want at least 1 value and at most %d in all: %w",
			what, len(v), t, cells, hal.ErrDimension)
	}
	out := make([]float64, len(v)+int(r.GetTail()))
	copy(out, v)
	for i := len(v); i < len(out); i++ {
		out[i] = v[len(v)-1]
	}
	return out, nil
}
