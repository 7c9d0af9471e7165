package proto

import (
	"encoding/binary"
	"math"
)

// Capability is INFO's capability byte: one bit per fact the board reports
// about itself (docs/protocol.md §4.1). Bits not named here are reserved.
type Capability uint8

// Capability bits.
const (
	// CapNoise: the board injects calibrated noise of intensity Info.Noise.
	CapNoise Capability = 1 << 0
	// CapClock: the board keeps a clock; STATUS reports its board time.
	CapClock Capability = 1 << 1
	// CapSimulated: the board is a simulator, not hardware.
	CapSimulated Capability = 1 << 2
	// CapTemperature: the board has a temperature sensor (READ_TEMP).
	CapTemperature Capability = 1 << 3
)

// Has reports whether c includes all of d.
func (c Capability) Has(d Capability) bool { return c&d == d }

// Topology byte values of INFO.
const (
	TopologyGeneral   uint8 = 0
	TopologySymmetric uint8 = 1
)

// Info is the INFO payload, the response to HELLO (docs/protocol.md §4.1),
// in the wire's own units: converter ranges in volts and the coupling
// maximum in 1/τ as float32, times in ns.
type Info struct {
	// Version is the protocol version the board speaks.
	Version uint8
	// Firmware and Serial are sent as a one-byte length and at most
	// MaxString bytes: longer strings are cut to their first MaxString
	// bytes, so a serial must be unique within them.
	Firmware, Serial string
	// Cells is K, 1…MaxCells.
	Cells int
	// Symmetric: A must be symmetric (topology byte 1); else general (0).
	Symmetric bool
	// Caps are the capability bits.
	Caps Capability
	// CouplingMax bounds every coupling: the range is [−max, max] in 1/τ,
	// with magnitude codes of CouplingBits bits (step max/(2ᵇ − 1)).
	CouplingMax  float32
	CouplingBits uint8
	// The bias DAC and the ADC: range in volts and resolution.
	BiasMin, BiasMax float32
	BiasBits         uint8
	ADCMin, ADCMax   float32
	ADCBits          uint8
	// TauNs is the nominal cell time constant τ in ns.
	TauNs uint32
	// Noise is σ in volts.
	Noise float32
	// MinPeriodNs is the shortest sample period in ns.
	MinPeriodNs uint32
}

// MaxInfoSize is the largest INFO payload: 41 bytes of fixed fields and
// two strings of at most MaxString bytes.
const MaxInfoSize = 41 + 2*MaxString

// AppendInfo appends the INFO payload of in to dst, in the field order of
// docs/protocol.md §4.1, and returns the extended slice. It allocates
// nothing when dst has room for MaxInfoSize more bytes.
func AppendInfo(dst []byte, in Info) []byte {
	sym := TopologyGeneral
	if in.Symmetric {
		sym = TopologySymmetric
	}
	dst = append(dst, in.Version)
	dst = appendString(dst, in.Firmware)
	dst = appendString(dst, in.Serial)
	dst = append(dst, uint8(in.Cells), sym, uint8(in.Caps))
	dst = appendF32(dst, in.CouplingMax)
	dst = append(dst, in.CouplingBits)
	dst = appendF32(appendF32(dst, in.BiasMin), in.BiasMax)
	dst = append(dst, in.BiasBits)
	dst = appendF32(appendF32(dst, in.ADCMin), in.ADCMax)
	dst = append(dst, in.ADCBits)
	dst = binary.LittleEndian.AppendUint32(dst, in.TauNs)
	dst = appendF32(dst, in.Noise)
	return binary.LittleEndian.AppendUint32(dst, in.MinPeriodNs)
}

// DecodeInfo is the inverse of AppendInfo. A payload shorter than its
// fields is ErrShort; bytes after the last field are ignored (room for a
// later version to add fields). It does not check the version: the caller
// names both versions when they differ. Any topology byte but
// TopologySymmetric reads as general.
func DecodeInfo(p []byte) (Info, error) {
	r := reader{b: p}
	in := Info{Version: r.u8()}
	in.Firmware = r.str()
	in.Serial = r.str()
	in.Cells = int(r.u8())
	in.Symmetric = r.u8() == TopologySymmetric
	in.Caps = Capability(r.u8())
	in.CouplingMax = r.f32()
	in.CouplingBits = r.u8()
	in.BiasMin, in.BiasMax, in.BiasBits = r.f32(), r.f32(), r.u8()
	in.ADCMin, in.ADCMax, in.ADCBits = r.f32(), r.f32(), r.u8()
	in.TauNs = r.u32()
	in.Noise = r.f32()
	in.MinPeriodNs = r.u32()
	if r.bad {
		return Info{}, ErrShort
	}
	return in, nil
}

// appendString appends s as a one-byte length and at most MaxString bytes.
func appendString(dst []byte, s string) []byte {
	if len(s) > MaxString {
		s = s[:MaxString]
	}
	dst = append(dst, uint8(len(s)))
	return append(dst, s...)
}

func appendF32(dst []byte, f float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
}

// reader takes little-endian fields off a payload; past its end it
// returns zeros and sets bad.
type reader struct {
	b   []byte
	bad bool
}

// zeros stands in for fields past the end (n ≤ 255: a length byte).
var zeros [256]byte

func (r *reader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return zeros[:n]
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8    { return r.take(1)[0] }
func (r *reader) u32() uint32  { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *reader) f32() float32 { return math.Float32frombits(r.u32()) }
func (r *reader) str() string  { return string(r.take(int(r.u8()))) }
