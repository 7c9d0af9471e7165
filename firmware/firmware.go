// Package firmware is the board-side program of an SPU: it speaks the wire
// protocol (package proto, docs/protocol.md) and drives the analog front
// end through small interfaces, so the same code runs on a microcontroller
// (TinyGo: no fmt, reflect, os, net or encoding/json, no allocation per
// command — both enforced by tests) and on the host behind the simulator.
//
// Every command of docs/protocol.md is implemented, with sequence checking,
// the replay cache and SAMPLE streaming under credit flow control.
package firmware

import (
	"encoding/binary"

	"github.com/spukit/spukit/firmware/proto"
)

// FrontEnd is the analog hardware as the firmware sees it. Codes are raw
// converter codes; the firmware never does physics.
type FrontEnd interface {
	// SetCoupling programs element (row, col) with a signed magnitude code.
	SetCoupling(row, col int, code int16) error
	// LatchCouplings makes the elements written since the last latch take
	// effect together (a DAC's LDAC pulse); called after every block.
	LatchCouplings() error
	// SetBias programs every bias channel, then latches them together.
	SetBias(codes []uint16) error
	// ForceState drives node voltages to the given ADC-scale codes.
	ForceState(codes []uint16) error
	// Run lets the network evolve for ns nanoseconds.
	Run(ns uint64) error
	// Acquire waits one sample period of periodNs, converts every channel
	// into dst and sets bit i%8 of saturated[i/8] for every saturated
	// channel i (it never clears bits; the caller does).
	Acquire(periodNs uint64, dst []uint16, saturated []byte) error
	// Reset returns the analog side to power-up.
	Reset() error
	// Temperature returns the board temperature in centi-°C.
	Temperature() int16
	// Now returns the board clock in ns.
	Now() uint64
}

// Transport is the byte link (a UART or USB CDC endpoint).
type Transport interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
}

const replaySlots = 4

// AbortSample, sent as SAMPLE_ACK's index, stops a stream early.
const AbortSample = 0xFFFFFFFF

// MaxWindow is the most unacknowledged SAMPLE_DATA chunks the board keeps
// for retransmission (one MaxPayload buffer each).
const MaxWindow = 4

// sampling is an active SAMPLE request.
type sampling struct {
	active     bool
	seq        uint16
	count      uint32
	period     uint64
	window     uint32
	perChunk   uint32 // samples per chunk
	converted  uint32 // samples converted so far
	acked      uint32 // samples the host has acknowledged
	saturated  []byte // bitmap over all chunks, cell i in byte i/8
	chunkLen   [MaxWindow]int
	chunkFirst [MaxWindow]uint32
	chunks     [MaxWindow][proto.MaxPayload]byte
}

type replay struct {
	seq   uint16
	valid bool
	n     int
	frame [proto.MaxFrame]byte
}

// Board is the firmware's state. Create it with New; call Poll in the main
// loop. It allocates nothing after New.
type Board struct {
	info   proto.Info
	fe     FrontEnd
	tr     Transport
	dec    proto.Decoder
	rx     [256]byte
	out    [proto.MaxFrame]byte
	pkt    [proto.MaxPacket]byte
	resp   [proto.MaxPayload]byte
	codes  []uint16
	cache  [replaySlots]replay
	next   int // cache slot to overwrite
	last   uint16
	synced bool
	errs   uint16
	status uint8
	smp    sampling
	conv   []uint16
	satNow []byte // one reading's saturation bitmap
}

// New returns a board program for the given front end and link; HELLO
// answers with info (its Version set to proto.Version, the protocol this
// firmware speaks).
func New(info proto.Info, fe FrontEnd, tr Transport) *Board {
	info.Version = proto.Version
	nb := (info.Cells + 7) / 8
	b := &Board{info: info, fe: fe, tr: tr, codes: make([]uint16, info.Cells), conv: make([]uint16, info.Cells),
		satNow: make([]byte, nb)}
	b.smp.saturated = make([]byte, nb)
	return b
}

// Errors counts frames dropped or refused since power-up.
func (b *Board) Errors() uint16 { return b.errs }

// Poll reads what the link has and answers every complete request. It
// returns the transport's read error, if any.
func (b *Board) Poll() error {
	n, err := b.tr.Read(b.rx[:])
	for off := 0; off < n; {
		used, pkt, ok, ferr := b.dec.Feed(b.rx[off:n])
		off += used
		switch {
		case ferr == proto.ErrVersion:
			b.errs++
			b.sendError(pkt.Seq, pkt.Type, proto.CodeBadVersion, proto.Version, false)
		case ferr != nil:
			// Its seq cannot be trusted, so the answer carries seq 0, which
			// hosts never use: a diagnostic, not a reply to retry on.
			b.errs++
			b.sendError(0, 0, proto.CodeBadFrame, 0, false)
		case ok:
			b.handle(pkt)
		}
	}
	b.pump()
	return err
}

// startSample begins a SAMPLE request; chunks go out from pump.
func (b *Board) startSample(seq uint16, pl []byte) (proto.Code, uint8) {
	if len(pl) != 10 {
		return proto.CodeBadLength, 0
	}
	count := binary.LittleEndian.Uint32(pl)
	period := uint64(binary.LittleEndian.Uint32(pl[4:]))
	window := uint32(binary.LittleEndian.Uint16(pl[8:]))
	if count == 0 || period < uint64(b.info.MinPeriodNs) || window == 0 {
		return proto.CodeOutOfRange, 0
	}
	s := &b.smp
	sat := s.saturated
	clear(sat)
	*s = sampling{active: true, seq: seq, count: count, period: period, window: min(window, MaxWindow),
		perChunk: uint32((proto.MaxPayload - 5) / (2 * b.info.Cells)), saturated: sat}
	b.status |= 1
	return proto.CodeOK, 0
}

// ack handles SAMPLE_ACK: it frees acknowledged chunks and, when the host
// asks again for a sample it already had sent, resends from there.
func (b *Board) ack(pl []byte) {
	s := &b.smp
	if !s.active || len(pl) != 4 {
		b.errs++
		return
	}
	next := binary.LittleEndian.Uint32(pl)
	if next == AbortSample {
		// The host gave up (cancelled): stop converting, report what the
		// host acknowledged.
		s.count = s.acked
		b.finishSample()
		return
	}
	if next > s.converted || next < s.acked {
		b.errs++
		return
	}
	if next == s.acked && next < s.converted {
		// A repeated ack: the host is missing the chunk at next.
		for i := range s.window {
			if s.chunkLen[i] > 0 && s.chunkFirst[i] >= next {
				b.resend(i)
			}
		}
		return
	}
	s.acked = next
	for i := range s.window {
		if s.chunkLen[i] > 0 && s.chunkFirst[i] < next {
			s.chunkLen[i] = 0
		}
	}
	if s.acked == s.count {
		b.finishSample()
	}
}

func (b *Board) resend(i uint32) {
	s := &b.smp
	n, err := proto.AppendFrame(b.out[:], b.pkt[:], proto.TypeSampleData, s.seq, s.chunks[i][:s.chunkLen[i]])
	if err == nil {
		b.tr.Write(b.out[:n])
	}
}

// pump converts and sends chunks while the window has room.
func (b *Board) pump() {
	s := &b.smp
	if !s.active {
		return
	}
	for s.converted < s.count {
		slot := -1
		for i := range s.window {
			if s.chunkLen[i] == 0 {
				slot = int(i)
				break
			}
		}
		if slot < 0 {
			return // window full: wait for acks
		}
		n := min(s.perChunk, s.count-s.converted)
		buf := s.chunks[slot][:]
		binary.LittleEndian.PutUint32(buf, s.converted)
		var flags byte
		off := 5
		for range n {
			clear(b.satNow)
			if err := b.fe.Acquire(s.period, b.conv, b.satNow); err != nil {
				b.errs++
			}
			for i, m := range b.satNow {
				if m != 0 {
					flags |= 1
					s.saturated[i] |= m
				}
			}
			for _, c := range b.conv {
				binary.LittleEndian.PutUint16(buf[off:], c)
				off += 2
			}
		}
		buf[4] = flags
		s.chunkFirst[slot], s.chunkLen[slot] = s.converted, off
		s.converted += n
		b.resend(uint32(slot))
	}
}

// finishSample sends (and caches) the SAMPLE response.
func (b *Board) finishSample() {
	s := &b.smp
	r := b.resp[:0]
	r = binary.LittleEndian.AppendUint32(r, s.count)
	r = append(r, 0)
	r = append(r, s.saturated...)
	for _, m := range s.saturated {
		if m != 0 {
			b.status |= 2
		}
	}
	b.status &^= 1
	s.active = false
	b.respond(s.seq, proto.TypeSample|proto.Response, r, true)
}

func (b *Board) handle(p proto.Packet) {
	if p.Type.IsResponse() {
		b.errs++
		return
	}
	if p.Type == proto.TypeSampleAck && b.smp.active {
		b.ack(p.Payload) // acks carry the SAMPLE's seq and get no response
		return
	}
	if b.smp.active && p.Type == proto.TypeSample && p.Seq == b.smp.seq {
		// A retried SAMPLE while it streams: resend what is unacknowledged.
		for i := range b.smp.window {
			if b.smp.chunkLen[i] > 0 {
				b.resend(i)
			}
		}
		return
	}
	for i := range b.cache {
		c := &b.cache[i]
		if c.valid && c.seq == p.Seq && p.Type != proto.TypeHello {
			b.tr.Write(c.frame[:c.n]) // a retry: answer again, never execute twice
			return
		}
	}
	if p.Type == proto.TypeSampleAck {
		b.errs++ // an ack for no stream and no cached summary
		return
	}
	if p.Type != proto.TypeHello && (!b.synced || p.Seq != nextSeq(b.last)) {
		b.errs++
		// Not cached: the request was not accepted, and a later request
		// may legitimately carry this seq.
		b.sendError(p.Seq, p.Type, proto.CodeBadSequence, 0, false)
		return
	}
	if p.Type == proto.TypeHello {
		// A new session (the host restarted or reopened the port): drop the
		// stream and forget the replay cache, whose seqs belong to the old
		// session — the new one numbers from its HELLO again, and a cached
		// answer would be replayed for a request never executed.
		b.smp.active = false
		b.status &^= 1
		for i := range b.cache {
			b.cache[i].valid = false
		}
	}
	if b.smp.active && p.Type != proto.TypeStatus {
		b.sendError(p.Seq, p.Type, proto.CodeBusy, 0, false)
		return
	}
	b.last, b.synced = p.Seq, true
	if p.Type == proto.TypeSample {
		if code, detail := b.startSample(p.Seq, p.Payload); code != proto.CodeOK {
			b.sendError(p.Seq, p.Type, code, detail, true)
		}
		return
	}
	n, code, detail := b.execute(p)
	if code != proto.CodeOK {
		b.sendError(p.Seq, p.Type, code, detail, true)
		return
	}
	b.respond(p.Seq, p.Type|proto.Response, b.resp[:n], true)
}

// execute runs one request and writes its response payload into b.resp.
func (b *Board) execute(p proto.Packet) (int, proto.Code, uint8) {
	pl := p.Payload
	switch p.Type {
	case proto.TypeHello:
		if len(pl) != 1 {
			return 0, proto.CodeBadLength, 0
		}
		if pl[0] != proto.Version {
			return 0, proto.CodeBadVersion, proto.Version
		}
		return b.encodeInfo(), proto.CodeOK, 0
	case proto.TypeSetCouplings, proto.TypeSetCouplingsHold:
		return b.setCouplings(p.Type == proto.TypeSetCouplingsHold, pl)
	case proto.TypeSetBias, proto.TypeSetState:
		return b.setCodes(p.Type == proto.TypeSetState, pl)
	case proto.TypeRun:
		if len(pl) != 8 {
			return 0, proto.CodeBadLength, 0
		}
		if b.fe.Run(binary.LittleEndian.Uint64(pl)) != nil {
			return 0, proto.CodeInternal, 0
		}
		return 0, proto.CodeOK, 0
	case proto.TypeReadTemp:
		if len(pl) != 0 {
			return 0, proto.CodeBadLength, 0
		}
		binary.LittleEndian.PutUint16(b.resp[:], uint16(b.fe.Temperature()))
		return 2, proto.CodeOK, 0
	case proto.TypeReset:
		if len(pl) != 0 {
			return 0, proto.CodeBadLength, 0
		}
		if b.fe.Reset() != nil {
			return 0, proto.CodeInternal, 0
		}
		return 0, proto.CodeOK, 0
	case proto.TypeStatus:
		if len(pl) != 0 {
			return 0, proto.CodeBadLength, 0
		}
		b.resp[0] = b.status
		binary.LittleEndian.PutUint64(b.resp[1:], b.fe.Now())
		binary.LittleEndian.PutUint16(b.resp[9:], b.errs)
		return 11, proto.CodeOK, 0
	}
	return 0, proto.CodeUnknownType, 0
}

// setCouplings runs SET_COUPLINGS (hold: SET_COUPLINGS_HOLD): a block of
// coupling codes, checked whole before any is written, then latched unless
// held.
func (b *Board) setCouplings(hold bool, pl []byte) (int, proto.Code, uint8) {
	k := b.info.Cells
	if len(pl) < 4 {
		return 0, proto.CodeBadLength, 0
	}
	r0, c0, rows, cols := int(pl[0]), int(pl[1]), int(pl[2]), int(pl[3])
	if len(pl) != 4+2*rows*cols {
		return 0, proto.CodeBadLength, 0
	}
	if r0+rows > k || c0+cols > k {
		return 0, proto.CodeOutOfRange, 0
	}
	limit := int(1)<<b.info.CouplingBits - 1
	for i := range rows * cols {
		v := int(int16(binary.LittleEndian.Uint16(pl[4+2*i:])))
		if v > limit || -v > limit {
			return 0, proto.CodeOutOfRange, uint8(i)
		}
	}
	for i := range rows * cols {
		v := int16(binary.LittleEndian.Uint16(pl[4+2*i:]))
		if err := b.fe.SetCoupling(r0+i/cols, c0+i%cols, v); err != nil {
			return 0, proto.CodeInternal, 0
		}
	}
	if hold {
		return 0, proto.CodeOK, 0 // latched by the final SET_COUPLINGS
	}
	if b.fe.LatchCouplings() != nil {
		// The analog side refused the matrix (e.g. unstable).
		return 0, proto.CodeOutOfRange, 0xff
	}
	return 0, proto.CodeOK, 0
}

// setCodes runs SET_BIAS (state false) or SET_STATE (state true): one DAC
// code per cell.
func (b *Board) setCodes(state bool, pl []byte) (int, proto.Code, uint8) {
	k := b.info.Cells
	if len(pl) != 2*k {
		return 0, proto.CodeBadLength, 0
	}
	for i := range k {
		b.codes[i] = binary.LittleEndian.Uint16(pl[2*i:])
	}
	if state {
		if b.fe.ForceState(b.codes) != nil {
			return 0, proto.CodeInternal, 0
		}
		return 0, proto.CodeOK, 0
	}
	if b.fe.SetBias(b.codes) != nil {
		return 0, proto.CodeInternal, 0
	}
	return 0, proto.CodeOK, 0
}

// encodeInfo writes INFO into b.resp (proto.MaxInfoSize fits a payload).
func (b *Board) encodeInfo() int {
	return len(proto.AppendInfo(b.resp[:0], b.info))
}

func (b *Board) sendError(seq uint16, typ proto.Type, code proto.Code, detail uint8, cache bool) {
	b.resp[0], b.resp[1], b.resp[2] = byte(code), byte(typ), detail
	b.respond(seq, proto.TypeError, b.resp[:3], cache)
}

// respond frames a response and sends it; cache keeps it for retries of an
// accepted request.
func (b *Board) respond(seq uint16, typ proto.Type, payload []byte, cache bool) {
	if !cache {
		n, err := proto.AppendFrame(b.out[:], b.pkt[:], typ, seq, payload)
		if err == nil {
			b.tr.Write(b.out[:n])
		}
		return
	}
	c := &b.cache[b.next]
	n, err := proto.AppendFrame(c.frame[:], b.pkt[:], typ, seq, payload)
	if err != nil {
		b.errs++
		return
	}
	c.seq, c.n, c.valid = seq, n, true
	b.next = (b.next + 1) % replaySlots
	b.tr.Write(c.frame[:n])
}

// nextSeq is the sequence number the request after seq must carry: seq + 1
// mod 2¹⁶, skipping 0, which hosts never use (docs/protocol.md §3). Plain
// seq + 1 refused every request after the 65 535th of a session.
func nextSeq(seq uint16) uint16 {
	if seq == 0xFFFF {
		return 1
	}
	return seq + 1
}
