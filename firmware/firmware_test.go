package firmware

import (
	"encoding/binary"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/firmware/proto"
)

// fakeFE records what the firmware asks of the analog side.
type fakeFE struct {
	latches   int
	couplings map[[2]int]int16
	bias      []uint16
	state     []uint16
	ran       uint64
	calls     int
	resets    int
	conv      int
}

func (f *fakeFE) SetCoupling(r, c int, v int16) error {
	f.calls++
	f.couplings[[2]int{r, c}] = v
	return nil
}
func (f *fakeFE) LatchCouplings() error       { f.latches++; return nil }
func (f *fakeFE) SetBias(c []uint16) error    { f.calls++; copy(f.bias, c); return nil }
func (f *fakeFE) ForceState(c []uint16) error { f.calls++; copy(f.state, c); return nil }
func (f *fakeFE) Run(ns uint64) error         { f.calls++; f.ran += ns; return nil }
func (f *fakeFE) Acquire(ns uint64, dst []uint16, sat []byte) error {
	f.ran += ns
	for i := range dst {
		f.conv++
		dst[i] = uint16(f.conv)
		if f.conv == 42 {
			sat[i/8] |= 1 << (i % 8) // one saturated reading, to see it reported
		}
	}
	return nil
}
func (f *fakeFE) Reset() error       { f.resets++; return nil }
func (f *fakeFE) Temperature() int16 { return 2512 }
func (f *fakeFE) Now() uint64        { return 123456789 }

// pipe is an in-memory link: the test writes requests into in, the board
// writes responses into out.
type pipe struct {
	in  []byte
	out []byte
}

func (p *pipe) Read(b []byte) (int, error) {
	n := copy(b, p.in)
	p.in = p.in[n:]
	return n, nil
}
func (p *pipe) Write(b []byte) (int, error) { p.out = append(p.out, b...); return len(b), nil }

var testInfo = proto.Info{Firmware: "fw 0.1", Serial: "B-0007", Cells: 4, Caps: proto.CapNoise | proto.CapClock, CouplingMax: 2, CouplingBits: 10,
	BiasMin: -5, BiasMax: 5, BiasBits: 16, ADCMin: -5, ADCMax: 5, ADCBits: 16, TauNs: 100000, Noise: 0.01, MinPeriodNs: 5000}

func newBoard() (*Board, *fakeFE, *pipe) {
	fe := &fakeFE{couplings: map[[2]int]int16{}, bias: make([]uint16, 4), state: make([]uint16, 4)}
	p := &pipe{}
	return New(testInfo, fe, p), fe, p
}

// exchange sends one request and returns the board's decoded responses.
func exchange(t *testing.T, b *Board, p *pipe, typ proto.Type, seq uint16, payload []byte) []proto.Packet {
	t.Helper()
	var dst [proto.MaxFrame]byte
	var scratch [proto.MaxPacket]byte
	n, err := proto.AppendFrame(dst[:], scratch[:], typ, seq, payload)
	require.NoError(t, err)
	p.in = append(p.in, dst[:n]...)
	p.out = p.out[:0]
	require.NoError(t, b.Poll())
	return decodeAll(t, p.out)
}

// decodeAll decodes every packet in the board's output, each with its own
// copy of the payload.
func decodeAll(t *testing.T, wire []byte) []proto.Packet {
	t.Helper()
	var d proto.Decoder
	var out []proto.Packet
	for off := 0; off < len(wire); {
		k, pkt, ok, err := d.Feed(wire[off:])
		require.NoError(t, err)
		off += k
		if ok {
			pkt.Payload = append([]byte(nil), pkt.Payload...)
			out = append(out, pkt)
		}
	}
	return out
}

func TestHelloAndInfo(t *testing.T) {
	b, _, p := newBoard()
	r := exchange(t, b, p, proto.TypeHello, 7, []byte{proto.Version})
	require.Len(t, r, 1)
	assert.Equal(t, proto.TypeHello|proto.Response, r[0].Type)
	assert.Equal(t, uint16(7), r[0].Seq)
	pl := r[0].Payload
	assert.Equal(t, byte(proto.Version), pl[0])
	assert.Equal(t, "fw 0.1", string(pl[2:2+pl[1]]))
	off := 2 + int(pl[1])
	assert.Equal(t, "B-0007", string(pl[off+1:off+1+int(pl[off])]))
	off += 1 + int(pl[off])
	assert.Equal(t, byte(4), pl[off], "cells")
	got, err := proto.DecodeInfo(pl)
	require.NoError(t, err)
	want := testInfo
	want.Version = proto.Version
	assert.Equal(t, want, got)

	r = exchange(t, b, p, proto.TypeHello, 8, []byte{proto.Version + 1})
	require.Len(t, r, 1)
	assert.Equal(t, proto.TypeError, r[0].Type)
	assert.Equal(t, []byte{byte(proto.CodeBadVersion), byte(proto.TypeHello), proto.Version}, r[0].Payload,
		"the board names its own version")
}

// A retried request (same seq) is answered from the replay cache and not
// executed again; an out-of-order seq is refused and not executed.
func TestReplayAndSequence(t *testing.T) {
	b, fe, p := newBoard()
	exchange(t, b, p, proto.TypeHello, 1, []byte{proto.Version})
	run := binary.LittleEndian.AppendUint64(nil, 5000)
	first := exchange(t, b, p, proto.TypeRun, 2, run)
	require.Len(t, first, 1)
	assert.Equal(t, proto.TypeRun|proto.Response, first[0].Type)
	assert.Equal(t, uint64(5000), fe.ran)
	again := exchange(t, b, p, proto.TypeRun, 2, run)
	assert.Equal(t, first, again, "same response")
	assert.Equal(t, uint64(5000), fe.ran, "executed once")

	r := exchange(t, b, p, proto.TypeRun, 9, run)
	require.Len(t, r, 1)
	assert.Equal(t, proto.TypeError, r[0].Type)
	assert.Equal(t, byte(proto.CodeBadSequence), r[0].Payload[0])
	assert.Equal(t, uint64(5000), fe.ran, "not executed")
	// The refused seq is not cached: when its turn comes it executes.
	for s := uint16(3); s <= 9; s++ {
		r = exchange(t, b, p, proto.TypeRun, s, run)
		require.Equal(t, proto.TypeRun|proto.Response, r[0].Type, "seq %d", s)
	}
	assert.Equal(t, uint64(8*5000), fe.ran)

	b2, fe2, p2 := newBoard()
	r = exchange(t, b2, p2, proto.TypeRun, 1, run)
	assert.Equal(t, byte(proto.CodeBadSequence), r[0].Payload[0], "nothing before HELLO")
	assert.Zero(t, fe2.ran)
}

// The host's count wraps from 65535 to 1, skipping 0 (docs/protocol.md §3):
// the board expects 1 after 65535, so a session can run past 65 535
// requests (a tiled TNGD epoch sends millions).
func TestSequenceWrapsSkippingZero(t *testing.T) {
	b, fe, p := newBoard()
	exchange(t, b, p, proto.TypeHello, 0xFFFE, []byte{proto.Version})
	run := binary.LittleEndian.AppendUint64(nil, 5000)
	for _, s := range []uint16{0xFFFF, 1, 2} {
		r := exchange(t, b, p, proto.TypeRun, s, run)
		require.Len(t, r, 1)
		require.Equal(t, proto.TypeRun|proto.Response, r[0].Type, "seq %d", s)
	}
	assert.Equal(t, uint64(3*5000), fe.ran)
}

// A HELLO starts a new session: the replay cache of the old one is
// forgotten, so a new session's request that reuses a seq is executed, not
// answered with the old session's cached response (a reopened port would
// otherwise get "OK" for couplings it never programmed).
func TestHelloForgetsReplayCache(t *testing.T) {
	b, fe, p := newBoard()
	exchange(t, b, p, proto.TypeHello, 0, []byte{proto.Version})
	bias := make([]byte, 2*4)
	r := exchange(t, b, p, proto.TypeSetBias, 1, bias)
	require.Equal(t, proto.TypeSetBias|proto.Response, r[0].Type)
	// The host reopens the port and numbers from 1 again.
	exchange(t, b, p, proto.TypeHello, 0, []byte{proto.Version})
	run := binary.LittleEndian.AppendUint64(nil, 5000)
	r = exchange(t, b, p, proto.TypeRun, 1, run)
	require.Len(t, r, 1)
	assert.Equal(t, proto.TypeRun|proto.Response, r[0].Type, "executed, not the cached SET_BIAS answer")
	assert.Equal(t, uint64(5000), fe.ran)
}

func TestCommands(t *testing.T) {
	b, fe, p := newBoard()
	exchange(t, b, p, proto.TypeHello, 1, []byte{proto.Version})
	block := []byte{1, 2, 2, 1} // rows 1–2, column 2
	neg := int16(-300)
	block = binary.LittleEndian.AppendUint16(block, uint16(neg))
	block = binary.LittleEndian.AppendUint16(block, 1023)
	r := exchange(t, b, p, proto.TypeSetCouplings, 2, block)
	require.Equal(t, proto.TypeSetCouplings|proto.Response, r[0].Type)
	assert.Equal(t, int16(-300), fe.couplings[[2]int{1, 2}])
	assert.Equal(t, int16(1023), fe.couplings[[2]int{2, 2}])

	calls := fe.calls
	bad := []byte{0, 0, 1, 1}
	bad = binary.LittleEndian.AppendUint16(bad, 1024) // beyond 10 bits
	r = exchange(t, b, p, proto.TypeSetCouplings, 3, bad)
	assert.Equal(t, []byte{byte(proto.CodeOutOfRange), byte(proto.TypeSetCouplings), 0}, r[0].Payload)
	r = exchange(t, b, p, proto.TypeSetCouplings, 4, []byte{3, 3, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0})
	assert.Equal(t, byte(proto.CodeOutOfRange), r[0].Payload[0], "block beyond the matrix")
	assert.Equal(t, calls, fe.calls, "refused blocks change nothing")

	bias := []byte{}
	for i := range 4 {
		bias = binary.LittleEndian.AppendUint16(bias, uint16(1000*i))
	}
	exchange(t, b, p, proto.TypeSetBias, 5, bias)
	assert.Equal(t, []uint16{0, 1000, 2000, 3000}, fe.bias)
	exchange(t, b, p, proto.TypeSetState, 6, bias)
	assert.Equal(t, []uint16{0, 1000, 2000, 3000}, fe.state)
	r = exchange(t, b, p, proto.TypeSetBias, 7, bias[:6])
	assert.Equal(t, byte(proto.CodeBadLength), r[0].Payload[0])

	r = exchange(t, b, p, proto.TypeReadTemp, 8, nil)
	assert.Equal(t, int16(2512), int16(binary.LittleEndian.Uint16(r[0].Payload)))
	r = exchange(t, b, p, proto.TypeStatus, 9, nil)
	assert.Equal(t, uint64(123456789), binary.LittleEndian.Uint64(r[0].Payload[1:]))
	exchange(t, b, p, proto.TypeReset, 10, nil)
	assert.Equal(t, 1, fe.resets)
	r = exchange(t, b, p, proto.Type(0x55), 11, nil)
	assert.Equal(t, byte(proto.CodeUnknownType), r[0].Payload[0])
}

func TestGarbageIsCountedAndDiagnosed(t *testing.T) {
	b, _, p := newBoard()
	p.in = []byte{1, 2, 3, 0, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0}
	require.NoError(t, b.Poll())
	assert.Equal(t, uint16(2), b.Errors())
	got := decodeAll(t, p.out)
	require.Len(t, got, 2, "one diagnostic per bad frame")
	for _, g := range got {
		assert.Equal(t, proto.TypeError, g.Type)
		assert.Equal(t, uint16(0), g.Seq, "seq 0: not a reply to any request")
		assert.Equal(t, byte(proto.CodeBadFrame), g.Payload[0])
	}
}

// No allocation per command: a prepared request stream is polled
// repeatedly (the replay cache answers after the first).
func TestNoAllocationPerCommand(t *testing.T) {
	b, _, p := newBoard()
	exchange(t, b, p, proto.TypeHello, 1, []byte{proto.Version})
	var dst [proto.MaxFrame]byte
	var scratch [proto.MaxPacket]byte
	payload := make([]byte, 8)
	n, err := proto.AppendFrame(dst[:], scratch[:], proto.TypeSetBias, 2, payload)
	require.NoError(t, err)
	p.out = make([]byte, 0, 1<<16)
	allocs := testing.AllocsPerRun(200, func() {
		p.in = dst[:n]
		p.out = p.out[:0]
		if err := b.Poll(); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

// The firmware must build for a microcontroller: only these imports.
func TestImportsAreTinyGoFriendly(t *testing.T) {
	allowed := map[string]bool{"encoding/binary": true, "errors": true, "hash/crc32": true, "math": true,
		"github.com/spukit/spukit/firmware/proto": true}
	for _, dir := range []string{".", "proto"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				assert.True(t, allowed[path], "%s imports %s", f, path)
			}
		}
	}
}

// SAMPLE streams chunks within the credit window, resends on a repeated
// ack or a retried SAMPLE, and ends with a summary once all is acknowledged.
func TestSampleStreaming(t *testing.T) {
	b, fe, p := newBoard()
	exchange(t, b, p, proto.TypeHello, 1, []byte{proto.Version})
	req := binary.LittleEndian.AppendUint32(nil, 300) // samples
	req = binary.LittleEndian.AppendUint32(req, 5000) // period ns
	req = binary.LittleEndian.AppendUint16(req, 2)    // window
	r := exchange(t, b, p, proto.TypeSample, 2, req)
	// 4 cells: (1024 − 5)/8 = 127 samples per chunk; window 2 → 2 chunks.
	require.Len(t, r, 2)
	for i, c := range r {
		assert.Equal(t, proto.TypeSampleData, c.Type)
		assert.Equal(t, uint16(2), c.Seq)
		assert.Equal(t, uint32(127*i), binary.LittleEndian.Uint32(c.Payload))
		assert.Len(t, c.Payload, 5+127*4*2)
	}
	assert.Equal(t, byte(1), r[0].Payload[4], "chunk 0 holds the saturated reading")
	assert.Equal(t, uint16(1), binary.LittleEndian.Uint16(r[0].Payload[5:]), "first code")
	assert.Equal(t, uint64(254*5000), fe.ran, "one period per sample")

	// Busy: other requests are refused while streaming.
	r = exchange(t, b, p, proto.TypeRun, 3, binary.LittleEndian.AppendUint64(nil, 1))
	assert.Equal(t, byte(proto.CodeBusy), r[0].Payload[0])

	ack := func(n uint32) []proto.Packet {
		return exchange(t, b, p, proto.TypeSampleAck, 2, binary.LittleEndian.AppendUint32(nil, n))
	}
	// A repeated ack of 0 (the host lost chunk 0) resends both chunks.
	r = ack(0)
	require.Len(t, r, 2)
	assert.Equal(t, uint32(0), binary.LittleEndian.Uint32(r[0].Payload))
	// A retried SAMPLE (same seq) also resends, and does not restart.
	r = exchange(t, b, p, proto.TypeSample, 2, req)
	require.Len(t, r, 2)
	// Ack chunk 0: chunk 2 (samples 254–299) goes out.
	r = ack(127)
	require.Len(t, r, 1)
	assert.Equal(t, uint32(254), binary.LittleEndian.Uint32(r[0].Payload))
	assert.Len(t, r[0].Payload, 5+46*4*2)
	assert.Empty(t, ack(254), "window has room, nothing left to convert")
	r = ack(300)
	require.Len(t, r, 1)
	assert.Equal(t, proto.TypeSample|proto.Response, r[0].Type)
	assert.Equal(t, uint32(300), binary.LittleEndian.Uint32(r[0].Payload))
	assert.Equal(t, byte(1<<1), r[0].Payload[5], "reading 42 is cell 1 of sample 10")
	assert.Equal(t, 300*4, fe.conv, "every sample converted exactly once")

	// The summary was lost? A repeated final ack gets it again.
	assert.Equal(t, r, ack(300))
	// After the stream the board takes commands again; a retried SAMPLE
	// gets the cached summary, not a new acquisition.
	again := exchange(t, b, p, proto.TypeSample, 2, req)
	assert.Equal(t, r, again)
	assert.Equal(t, 300*4, fe.conv)
	r = exchange(t, b, p, proto.TypeRun, 3, binary.LittleEndian.AppendUint64(nil, 1))
	assert.Equal(t, proto.TypeRun|proto.Response, r[0].Type)
}

// FuzzFirmware: any byte stream — valid frames, corrupted ones, garbage —
// leaves the board answering: it never panics, and a HELLO afterwards still
// gets INFO.
func FuzzFirmware(f *testing.F) {
	var dst [proto.MaxFrame]byte
	var sc [proto.MaxPacket]byte
	for _, c := range []struct {
		typ proto.Type
		pl  []byte
	}{{proto.TypeHello, []byte{proto.Version}}, {proto.TypeRun, make([]byte, 8)}, {proto.TypeSetCouplings, []byte{0, 0, 1, 1, 1, 0}},
		{proto.TypeSample, []byte{10, 0, 0, 0, 0x88, 0x13, 0, 0, 2, 0}}, {proto.TypeSampleAck, []byte{5, 0, 0, 0}}} {
		n, err := proto.AppendFrame(dst[:], sc[:], c.typ, 1, c.pl)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), dst[:n]...))
	}
	// HELLO, then a SAMPLE left streaming: the next HELLO must still work.
	n1, _ := proto.AppendFrame(dst[:], sc[:], proto.TypeHello, 1, []byte{proto.Version})
	seed := append([]byte(nil), dst[:n1]...)
	n2, _ := proto.AppendFrame(dst[:], sc[:], proto.TypeSample, 2, []byte{200, 0, 0, 0, 0x88, 0x13, 0, 0, 1, 0})
	f.Add(append(seed, dst[:n2]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, _, p := newBoard()
		p.in = data
		for len(p.in) > 0 {
			if err := b.Poll(); err != nil {
				t.Fatal(err)
			}
		}
		n, err := proto.AppendFrame(dst[:], sc[:], proto.TypeHello, 9, []byte{proto.Version})
		if err != nil {
			t.Fatal(err)
		}
		p.out = p.out[:0]
		p.in = append([]byte{0}, dst[:n]...) // a delimiter ends any half frame
		for len(p.in) > 0 {
			if err := b.Poll(); err != nil {
				t.Fatal(err)
			}
		}
		var d proto.Decoder
		for off := 0; off < len(p.out); {
			k, pkt, ok, _ := d.Feed(p.out[off:])
			off += k
			if ok && pkt.Seq == 9 && pkt.Type == proto.TypeHello|proto.Response {
				return
			}
		}
		t.Fatalf("no INFO after the stream (%d bytes out)", len(p.out))
	})
}

// A 40-cell board reports saturation of cell 37 in the fifth bitmap byte
// (the bitmap was once a uint32 and lost cells beyond 31).
func TestSaturationBeyond32Cells(t *testing.T) {
	info := testInfo
	info.Cells = 40
	fe := &fakeFE{couplings: map[[2]int]int16{}, bias: make([]uint16, 40), state: make([]uint16, 40)}
	fe.conv = 42 - 38 // reading 42 is cell 37 of the first sample
	p := &pipe{}
	b := New(info, fe, p)
	exchange(t, b, p, proto.TypeHello, 1, []byte{proto.Version})
	req := binary.LittleEndian.AppendUint32(nil, 1)
	req = binary.LittleEndian.AppendUint32(req, 5000)
	req = binary.LittleEndian.AppendUint16(req, 1)
	r := exchange(t, b, p, proto.TypeSample, 2, req)
	require.Len(t, r, 1)
	assert.Equal(t, byte(1), r[0].Payload[4], "the chunk is flagged")
	r = exchange(t, b, p, proto.TypeSampleAck, 2, binary.LittleEndian.AppendUint32(nil, 1))
	require.Len(t, r, 1)
	// count (4 bytes), code (1), then ⌈40/8⌉ = 5 bitmap bytes.
	assert.Equal(t, []byte{0, 0, 0, 0, 1 << 5}, r[0].Payload[5:10], "cell 37 = byte 4, bit 5")
}

// A HOLD block is stored but not latched; the SET_COUPLINGS that follows
// latches both at once.
func TestSetCouplingsHold(t *testing.T) {
	b, fe, p := newBoard()
	exchange(t, b, p, proto.TypeHello, 1, []byte{proto.Version})
	block := func(r0 byte, v int16) []byte {
		pl := []byte{r0, 0, 1, 4} // one row of 4
		for range 4 {
			pl = binary.LittleEndian.AppendUint16(pl, uint16(v))
		}
		return pl
	}
	r := exchange(t, b, p, proto.TypeSetCouplingsHold, 2, block(0, 7))
	require.Len(t, r, 1)
	assert.Equal(t, proto.TypeSetCouplingsHold|proto.Response, r[0].Type)
	assert.Equal(t, 0, fe.latches, "held, not latched")
	assert.Equal(t, int16(7), fe.couplings[[2]int{0, 3}])
	r = exchange(t, b, p, proto.TypeSetCouplings, 3, block(1, -5))
	require.Len(t, r, 1)
	assert.Equal(t, 1, fe.latches, "one latch for both blocks")
	assert.Equal(t, int16(-5), fe.couplings[[2]int{1, 0}])
}
