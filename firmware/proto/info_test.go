package proto

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handInfo and handBytes are one INFO payload written out by hand from the
// table of docs/protocol.md §4.1 (little-endian; f32 bit patterns worked
// out on paper: 2 = 0x40000000, ±5 = 0x40A00000/0xC0A00000, ±2.5 =
// 0x40200000/0xC0200000, 0.5 = 0x3F000000), not from AppendInfo's output.
var (
	handInfo = Info{Version: 1, Firmware: "fw", Serial: "S1", Cells: 8, Symmetric: true,
		Caps: CapNoise | CapClock, CouplingMax: 2, CouplingBits: 10,
		BiasMin: -5, BiasMax: 5, BiasBits: 16, ADCMin: -2.5, ADCMax: 2.5, ADCBits: 12,
		TauNs: 100000, Noise: 0.5, MinPeriodNs: 5000}
	handBytes = []byte{
		0x01,           // protocol version
		0x02, 'f', 'w', // firmware version
		0x02, 'S', '1', // serial number
		0x08,                   // cells
		0x01,                   // topology: symmetric
		0x03,                   // capabilities: noise, clock
		0x00, 0x00, 0x00, 0x40, // coupling max 2
		0x0a,                   // coupling bits 10
		0x00, 0x00, 0xa0, 0xc0, // bias min −5 V
		0x00, 0x00, 0xa0, 0x40, // bias max 5 V
		0x10,                   // bias bits 16
		0x00, 0x00, 0x20, 0xc0, // ADC min −2.5 V
		0x00, 0x00, 0x20, 0x40, // ADC max 2.5 V
		0x0c,                   // ADC bits 12
		0xa0, 0x86, 0x01, 0x00, // τ 100000 ns
		0x00, 0x00, 0x00, 0x3f, // noise 0.5 V
		0x88, 0x13, 0x00, 0x00, // min sample period 5000 ns
	}
)

func TestInfoMatchesTheDocumentedLayout(t *testing.T) {
	assert.Equal(t, handBytes, AppendInfo(nil, handInfo))
	got, err := DecodeInfo(handBytes)
	require.NoError(t, err)
	assert.Equal(t, handInfo, got)
}

// The capability bits are those of docs/protocol.md §4.1.
func TestCapabilityBits(t *testing.T) {
	assert.Equal(t, Capability(0b0001), CapNoise)
	assert.Equal(t, Capability(0b0010), CapClock)
	assert.Equal(t, Capability(0b0100), CapSimulated)
	assert.Equal(t, Capability(0b1000), CapTemperature)
	c := CapNoise | CapSimulated
	assert.True(t, c.Has(CapNoise))
	assert.True(t, c.Has(CapNoise|CapSimulated))
	assert.False(t, c.Has(CapClock))
	assert.False(t, c.Has(CapNoise|CapClock), "only part of a set")
}

func randomInfo(r *rand.Rand) Info {
	str := func() string { return strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(MaxString+1)) }
	f := func() float32 { return float32(r.NormFloat64() * 10) }
	return Info{Version: uint8(r.UintN(256)), Firmware: str(), Serial: str(), Cells: 1 + r.IntN(MaxCells),
		Symmetric: r.IntN(2) == 0, Caps: Capability(r.UintN(256)), CouplingMax: f(), CouplingBits: uint8(r.UintN(256)),
		BiasMin: f(), BiasMax: f(), BiasBits: uint8(r.UintN(256)), ADCMin: f(), ADCMax: f(), ADCBits: uint8(r.UintN(256)),
		TauNs: r.Uint32(), Noise: f(), MinPeriodNs: r.Uint32()}
}

// Property: every Info whose strings fit round-trips, in at most
// MaxInfoSize bytes; later bytes are ignored and every shorter prefix is
// ErrShort.
func TestInfoRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		in := randomInfo(r)
		p := AppendInfo(nil, in)
		require.LessOrEqual(t, len(p), MaxInfoSize)
		got, err := DecodeInfo(p)
		require.NoError(t, err)
		require.Equal(t, in, got)
		got, err = DecodeInfo(append(p, 0xee, 0x01))
		require.NoError(t, err)
		require.Equal(t, in, got, "trailing bytes are ignored")
		n := r.IntN(len(p))
		_, err = DecodeInfo(p[:n])
		require.ErrorIs(t, err, ErrShort, "%d of %d bytes", n, len(p))
	}
	full := handInfo
	full.Firmware, full.Serial = strings.Repeat("f", MaxString), strings.Repeat("s", MaxString)
	assert.Len(t, AppendInfo(nil, full), MaxInfoSize)
}

// Strings longer than MaxString are cut to their first MaxString bytes.
func TestInfoCutsLongStrings(t *testing.T) {
	in := handInfo
	in.Serial = strings.Repeat("0123456789", 4)
	got, err := DecodeInfo(AppendInfo(nil, in))
	require.NoError(t, err)
	assert.Equal(t, in.Serial[:MaxString], got.Serial)
}

func TestAppendInfoDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, MaxInfoSize)
	allocs := testing.AllocsPerRun(100, func() { buf = AppendInfo(buf[:0], handInfo) })
	assert.Zero(t, allocs)
}

// FuzzDecodeInfo: any payload decodes without panicking or reading past
// its end, and what decodes encodes back to the bytes it was read from
// (but for a topology byte other than 0 and 1, which reads as general).
func FuzzDecodeInfo(f *testing.F) {
	f.Add(handBytes)
	f.Add([]byte{})
	f.Add([]byte{1, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		in, err := DecodeInfo(p)
		if err != nil || len(in.Firmware) > MaxString || len(in.Serial) > MaxString {
			return // too short, or strings AppendInfo would cut
		}
		q := AppendInfo(nil, in)
		require.LessOrEqual(t, len(q), len(p))
		topo := 4 + len(in.Firmware) + len(in.Serial)
		if p[topo] > TopologySymmetric {
			require.Equal(t, TopologyGeneral, q[topo])
			q[topo] = p[topo]
		}
		require.Equal(t, p[:len(q)], q)
	})
}
