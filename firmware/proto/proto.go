// Package proto is the wire format between an SPU board's firmware and its
// host driver (docs/protocol.md is the specification; this package is its
// reference implementation).
//
// A packet is a 6-byte header, a payload of at most MaxPayload bytes and a
// CRC-32C of both, COBS-encoded and terminated by a 0x00 delimiter:
//
//	COBS( version | type | seq (u16 LE) | length (u16 LE) | payload | crc32c (u32 LE) ) 0x00
//
// Everything here is allocation-free and TinyGo-friendly: encoders and the
// decoder write into caller-provided buffers, and no length read from the
// wire can make them allocate or index out of bounds (DecodeInfo, used by
// hosts, allocates only the strings it returns). The package imports only
// encoding/binary, errors, hash/crc32 and math.
//
// INFO, the board's description, is encoded by AppendInfo and decoded by
// DecodeInfo (info.go), with its capability bits named (CapNoise, …).
package proto

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Version is the protocol version this package speaks.
const Version = 1

// Sizes and limits.
const (
	HeaderSize = 6
	CRCSize    = 4
	// MaxPayload bounds a packet's payload: a sample chunk of 60 samples ×
	// 8 channels × 2 bytes fits with room to spare.
	MaxPayload = 1024
	// MaxPacket is the largest packet before COBS encoding.
	MaxPacket = HeaderSize + MaxPayload + CRCSize
	// MaxFrame is the largest encoded frame including the delimiter: COBS
	// adds one byte per 254 and one more.
	MaxFrame = MaxPacket + MaxPacket/254 + 2
	// MaxCells is the most cells a board can have: K is one byte in INFO
	// and in coupling blocks.
	MaxCells = 255
	// MaxString is the most bytes of INFO's firmware version and serial
	// number strings (each is sent as a one-byte length and the bytes).
	// A board's serial must be unique within its first MaxString bytes.
	MaxString = 32
)

// Errors. Decoding errors are values so that firmware can count them
// without allocating.
var (
	ErrShort     = errors.New("proto: buffer too small")
	ErrTooLarge  = errors.New("proto: payload larger than MaxPayload")
	ErrFraming   = errors.New("proto: malformed COBS frame")
	ErrCRC       = errors.New("proto: CRC mismatch")
	ErrLength    = errors.New("proto: length field disagrees with the frame")
	ErrVersion   = errors.New("proto: unsupported protocol version")
	ErrTruncated = errors.New("proto: frame shorter than a header and CRC")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is a packet's header.
type Header struct {
	Version uint8
	Type    Type
	Seq     uint16
	Length  uint16 // payload bytes
}

// Packet is a decoded packet; Payload aliases the decoder's buffer.
type Packet struct {
	Header
	Payload []byte
}

// AppendFrame encodes one packet into dst (which must have room for
// MaxFrame bytes, or at least the encoded size) and returns the frame's
// length, delimiter included. scratch (≥ MaxPacket bytes) holds the raw
// packet while it is COBS-encoded.
func AppendFrame(dst, scratch []byte, typ Type, seq uint16, payload []byte) (int, error) {
	if len(payload) > MaxPayload {
		return 0, ErrTooLarge
	}
	n := HeaderSize + len(payload) + CRCSize
	if len(scratch) < n {
		return 0, ErrShort
	}
	raw := scratch[:n]
	raw[0] = Version
	raw[1] = byte(typ)
	binary.LittleEndian.PutUint16(raw[2:], seq)
	binary.LittleEndian.PutUint16(raw[4:], uint16(len(payload)))
	copy(raw[HeaderSize:], payload)
	binary.LittleEndian.PutUint32(raw[n-CRCSize:], crc32.Checksum(raw[:n-CRCSize], castagnoli))
	m, err := cobsEncode(dst, raw)
	if err != nil {
		return 0, err
	}
	if m >= len(dst) {
		return 0, ErrShort
	}
	dst[m] = 0
	return m + 1, nil
}

// cobsEncode writes the COBS encoding of src (no delimiter) into dst.
func cobsEncode(dst, src []byte) (int, error) {
	if len(dst) < len(src)+len(src)/254+1 {
		return 0, ErrShort
	}
	code, codeAt, out := byte(1), 0, 1
	for _, b := range src {
		if b == 0 {
			dst[codeAt] = code
			code, codeAt = 1, out
			out++
			continue
		}
		dst[out] = b
		out++
		code++
		if code == 0xff {
			dst[codeAt] = code
			code, codeAt = 1, out
			out++
		}
	}
	dst[codeAt] = code
	return out, nil
}

// cobsDecode decodes src (one frame without its delimiter) in place into
// dst and returns the decoded length.
func cobsDecode(dst, src []byte) (int, error) {
	out := 0
	for i := 0; i < len(src); {
		code := int(src[i])
		if code == 0 || i+code > len(src) {
			return 0, ErrFraming
		}
		i++
		for j := 1; j < code; j++ {
			if out >= len(dst) {
				return 0, ErrShort
			}
			dst[out] = src[i]
			out++
			i++
		}
		if code < 0xff && i < len(src) {
			if out >= len(dst) {
				return 0, ErrShort
			}
			dst[out] = 0
			out++
		}
	}
	return out, nil
}

// Decoder splits a byte stream into packets. It owns a fixed buffer of
// MaxFrame bytes; frames longer than that are discarded whole (ErrTooLarge)
// and decoding resynchronises at the next delimiter. The zero value is
// ready to use.
type Decoder struct {
	buf     [MaxFrame]byte
	n       int
	discard bool
}

// Feed consumes bytes from p until a frame completes. It returns how many
// bytes it consumed, the packet when a frame completed (Payload aliases the
// decoder's buffer until the next Feed) and any frame error. With ok false
// and err nil, all of p was consumed without completing a frame.
func (d *Decoder) Feed(p []byte) (consumed int, pkt Packet, ok bool, err error) {
	for i, b := range p {
		if b != 0 {
			if d.n >= len(d.buf) {
				d.discard = true
				continue
			}
			d.buf[d.n] = b
			d.n++
			continue
		}
		// Delimiter: a frame is complete.
		n, discard := d.n, d.discard
		d.n, d.discard = 0, false
		if discard {
			return i + 1, Packet{}, false, ErrTooLarge
		}
		if n == 0 {
			continue // stray delimiter: keep-alive or resync
		}
		pkt, err := parse(d.buf[:n])
		return i + 1, pkt, err == nil, err
	}
	return len(p), Packet{}, false, nil
}

// parse COBS-decodes a frame in place and checks length, CRC and version.
func parse(frame []byte) (Packet, error) {
	m, err := cobsDecode(frame, frame)
	if err != nil {
		return Packet{}, err
	}
	raw := frame[:m]
	if len(raw) < HeaderSize+CRCSize {
		return Packet{}, ErrTruncated
	}
	want := binary.LittleEndian.Uint32(raw[len(raw)-CRCSize:])
	if crc32.Checksum(raw[:len(raw)-CRCSize], castagnoli) != want {
		return Packet{}, ErrCRC
	}
	h := Header{Version: raw[0], Type: Type(raw[1]), Seq: binary.LittleEndian.Uint16(raw[2:]), Length: binary.LittleEndian.Uint16(raw[4:])}
	if int(h.Length) != len(raw)-HeaderSize-CRCSize {
		return Packet{}, ErrLength
	}
	if h.Version != Version {
		return Packet{Header: h}, ErrVersion
	}
	return Packet{Header: h, Payload: raw[HeaderSize : HeaderSize+int(h.Length)]}, nil
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
