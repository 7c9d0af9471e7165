package proto

// Type is a message type. Requests have the top bit clear; the response to
// request T is T|Response, and an error response is TypeError.
type Type uint8

// Message types (see docs/protocol.md for payloads).
const (
	TypeHello        Type = 0x01 // → protocol version; ← Info
	TypeSetCouplings Type = 0x10 // → block of coupling codes
	TypeSetBias      Type = 0x11 // → bias DAC codes
	TypeSetState     Type = 0x12 // → state codes
	TypeRun          Type = 0x13 // → duration in ns
	TypeSample       Type = 0x14 // → count, period; ← SampleData chunks
	TypeReadTemp     Type = 0x15 // ← temperature
	TypeReset        Type = 0x16 // → nothing; board returns to power-up
	TypeStatus       Type = 0x17 // ← status flags, board time
	TypeSampleAck    Type = 0x18 // → next sample index wanted; no response
	// TypeSetCouplingsHold writes a block like TypeSetCouplings but does
	// not latch it: a matrix larger than one packet is sent as HOLD
	// blocks and a final SET_COUPLINGS, so the analog side switches (or
	// refuses) once, for the whole matrix.
	TypeSetCouplingsHold Type = 0x19
	TypeSampleData       Type = 0x20 // ← one chunk of samples (board → host)
	TypeError            Type = 0x7f // ← error code for the request with this seq

	// Response marks a response to the request type it is or-ed with.
	Response Type = 0x80
)

// IsResponse reports whether t is a response type.
func (t Type) IsResponse() bool { return t&Response != 0 }

// Code is an error code carried by a TypeError payload (one byte).
type Code uint8

// Error codes.
const (
	CodeOK          Code = 0
	CodeUnknownType Code = 1 // the request type is not known
	CodeBadLength   Code = 2 // the payload length is wrong for the type
	CodeOutOfRange  Code = 3 // a value is outside what the hardware realises
	CodeBusy        Code = 4 // a long operation is in progress
	CodeBadSequence Code = 5 // sequence number out of order
	CodeSaturated   Code = 6 // readings saturated (data still sent)
	CodeInternal    Code = 7
	CodeBadVersion  Code = 8 // protocol version not supported
	CodeBadFrame    Code = 9 // a frame failed COBS, length or CRC checks (sent with seq 0)
)
