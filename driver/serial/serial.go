// Package serial is the host driver for SPU boards whose firmware speaks
// the wire protocol of docs/protocol.md over a serial port (USB CDC, UART).
// Importing it registers the "serial" scheme:
//
//	serial:///dev/ttyACM0?baud=921600
//
// The driver converts physical values to converter codes with the ranges
// the board reports in INFO, retries a request with the same sequence
// number when an answer does not arrive (the firmware's replay cache makes
// that safe), streams samples with credit flow control, and reports typed
// errors: hal.ErrTimeout after the retries, hal.ErrDisconnected when the
// port fails.
package serial

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/firmware/proto"
	"github.com/spukit/spukit/hal"
)

// Port is what the driver needs from a serial port; go.bug.st/serial's
// Port satisfies it. Read returns 0, nil when its timeout expires.
type Port interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadTimeout(t time.Duration) error
	Close() error
}

// Opts tune the driver; zero fields take DefaultOpts' values.
type Opts struct {
	// Timeout is how long a request waits for its answer before it is
	// resent (RUN waits its duration on top).
	Timeout time.Duration
	// Retries is how many times a request is resent before hal.ErrTimeout.
	Retries int
	// Window is the number of sample chunks in flight (1…4).
	Window int
}

// DefaultOpts are the defaults of docs/protocol.md §5.
var DefaultOpts = Opts{Timeout: 100 * time.Millisecond, Retries: 5, Window: 4}

// Dev is a board behind a serial port. It implements hal.Board and
// hal.Clock (reporting a clock when the firmware keeps one).
type Dev struct {
	port   Port
	opts   Opts
	info   hal.Info
	clock  bool          // the firmware keeps a board clock (INFO capability)
	last   time.Duration // the last board time read
	seq    uint16
	dec    proto.Decoder
	rx     [512]byte
	rxN    int // bytes in rx not yet fed
	rxOff  int
	closed bool
	resent int
	frame  [proto.MaxFrame]byte
	pkt    [proto.MaxPacket]byte
}

var (
	_ hal.Board = (*Dev)(nil)
	_ hal.Clock = (*Dev)(nil)
)

// New performs the HELLO handshake on port and returns the board. A board
// speaking another protocol version is an error naming both versions.
func New(ctx context.Context, port Port, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		if opts.Timeout > 0 {
			o.Timeout = opts.Timeout
		}
		if opts.Retries > 0 {
			o.Retries = opts.Retries
		}
		if opts.Window > 0 {
			o.Window = min(opts.Window, 4)
		}
	}
	d := &Dev{port: port, opts: o}
	// A lone delimiter flushes any half-received frame on the board.
	if _, err := port.Write([]byte{0}); err != nil {
		return nil, fmt.Errorf("serial: %v: %w", err, hal.ErrDisconnected)
	}
	p, err := d.request(ctx, proto.TypeHello, []byte{proto.Version}, 0)
	if err != nil {
		return nil, fmt.Errorf("serial: handshake: %w", err)
	}
	if err := d.parseInfo(p.Payload); err != nil {
		return nil, fmt.Errorf("serial: INFO: %w", err)
	}
	// hal's contract: a board opens at A = I, b = 0, whatever the last
	// session left in the firmware (it keeps its state across connections).
	if _, err := d.request(ctx, proto.TypeReset, nil, 0); err != nil {
		return nil, fmt.Errorf("serial: RESET to the power-up state on open: %w", err)
	}
	return d, nil
}

// BoardTime implements hal.Clock. When the firmware reports a board clock
// (INFO capability), it is the board's time since power-up, from a STATUS
// round trip, and ok; when the board does not answer (or is closed), the
// last time read: board time never goes back. Without one it is 0, false.
func (d *Dev) BoardTime() (time.Duration, bool) {
	if !d.clock {
		return 0, false
	}
	if d.closed {
		return d.last, true
	}
	p, err := d.request(context.Background(), proto.TypeStatus, nil, 0)
	if err != nil || len(p.Payload) < 9 {
		return d.last, true
	}
	t := time.Duration(binary.LittleEndian.Uint64(p.Payload[1:9]))
	d.last = max(d.last, t)
	return d.last, true
}

// String describes the board.
func (d *Dev) String() string {
	return fmt.Sprintf("serial board %s (%d cells)", d.info.Serial, d.info.Cells)
}

// Info implements hal.Board.
func (d *Dev) Info() hal.Info { return d.info }

// Resent counts requests and acknowledgements sent again after a timeout:
// a measure of the link's health.
func (d *Dev) Resent() int { return d.resent }

// Close implements hal.Board.
func (d *Dev) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	return d.port.Close()
}

// parseInfo sets d.info and d.clock from an INFO payload.
func (d *Dev) parseInfo(p []byte) error {
	in, err := proto.DecodeInfo(p)
	if err != nil {
		return fmt.Errorf("payload of %d bytes is too short: %w", len(p), hal.ErrInvalid)
	}
	if in.Version != proto.Version {
		return fmt.Errorf("board speaks protocol %d, this driver %d: %w", in.Version, proto.Version, hal.ErrUnsupported)
	}
	var hc hal.Capability
	if in.Caps.Has(proto.CapNoise) {
		hc |= hal.CapNoise
	}
	if in.Caps.Has(proto.CapSimulated) {
		hc |= hal.CapSimulated
	}
	d.clock = in.Caps.Has(proto.CapClock)
	t := hal.General
	if in.Symmetric {
		t = hal.Symmetric
	}
	cmax := float64(in.CouplingMax)
	d.info = hal.Info{
		Model: "serial", Serial: in.Serial, Firmware: in.Firmware, Cells: in.Cells, Topology: t,
		Coupling:     hal.Range{Min: -cmax, Max: cmax},
		CouplingStep: cmax / (math.Exp2(float64(in.CouplingBits)) - 1),
		Bias:         hal.Converter{Range: hal.Range{Min: float64(in.BiasMin), Max: float64(in.BiasMax)}, Bits: int(in.BiasBits)},
		ADC:          hal.Converter{Range: hal.Range{Min: float64(in.ADCMin), Max: float64(in.ADCMax)}, Bits: int(in.ADCBits)},
		Tau:          time.Duration(in.TauNs), Noise: float64(in.Noise), MinSamplePeriod: time.Duration(in.MinPeriodNs), Caps: hc,
	}
	return d.info.Validate()
}

func (d *Dev) check(ctx context.Context, op string) error {
	return hal.CheckUsable(ctx, op, d.closed)
}

func (d *Dev) nextSeq() uint16 {
	d.seq++
	if d.seq == 0 {
		d.seq = 1
	}
	return d.seq
}

func (d *Dev) send(typ proto.Type, seq uint16, payload []byte) error {
	n, err := proto.AppendFrame(d.frame[:], d.pkt[:], typ, seq, payload)
	if err != nil {
		return err
	}
	if _, err := d.port.Write(d.frame[:n]); err != nil {
		return fmt.Errorf("%v: %w", err, hal.ErrDisconnected)
	}
	return nil
}

// errTimedOut is an internal marker: nothing arrived before the deadline.
var errTimedOut = errors.New("timed out")

// receive returns the next packet, waiting until deadline.
func (d *Dev) receive(ctx context.Context, deadline time.Time) (proto.Packet, error) {
	for {
		for d.rxOff < d.rxN {
			used, pkt, ok, err := d.dec.Feed(d.rx[d.rxOff:d.rxN])
			d.rxOff += used
			if ok && err == nil {
				return pkt, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return proto.Packet{}, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return proto.Packet{}, errTimedOut
		}
		if err := d.port.SetReadTimeout(min(left, 50*time.Millisecond)); err != nil {
			return proto.Packet{}, fmt.Errorf("%v: %w", err, hal.ErrDisconnected)
		}
		n, err := d.port.Read(d.rx[:])
		if err != nil {
			return proto.Packet{}, fmt.Errorf("%v: %w", err, hal.ErrDisconnected)
		}
		d.rxN, d.rxOff = n, 0
	}
}

// request sends a request and waits for its response, resending it with the
// same sequence number on timeout. extra lengthens the wait (RUN).
func (d *Dev) request(ctx context.Context, typ proto.Type, payload []byte, extra time.Duration) (proto.Packet, error) {
	seq := d.nextSeq()
	if typ == proto.TypeHello {
		d.seq = seq
	}
	for try := 0; try <= d.opts.Retries; try++ {
		if try > 0 {
			d.resent++
		}
		if err := d.send(typ, seq, payload); err != nil {
			return proto.Packet{}, err
		}
		deadline := time.Now().Add(d.opts.Timeout + extra)
		for {
			p, err := d.receive(ctx, deadline)
			if errors.Is(err, errTimedOut) {
				break
			}
			if err != nil {
				return proto.Packet{}, err
			}
			if p.Seq != seq {
				continue // a late answer to an earlier try or request
			}
			if p.Type == proto.TypeError {
				return p, remoteError(p.Payload)
			}
			if p.Type == typ|proto.Response {
				return p, nil
			}
		}
	}
	return proto.Packet{}, fmt.Errorf("no answer to request type %#x after %d tries of %v: %w", uint8(typ), d.opts.Retries+1, d.opts.Timeout+extra, hal.ErrTimeout)
}

// remoteError maps an ERROR payload to a hal sentinel.
func remoteError(p []byte) error {
	if len(p) < 3 {
		return fmt.Errorf("malformed ERROR: %w", hal.ErrInvalid)
	}
	code, detail := proto.Code(p[0]), p[2]
	switch code {
	case proto.CodeOutOfRange:
		if detail == 0xff {
			return fmt.Errorf("board refused the coupling matrix as realised (unstable after quantisation): %w", hal.ErrUnstable)
		}
		return fmt.Errorf("board: value out of range (detail %d): %w", detail, hal.ErrOutOfRange)
	case proto.CodeBadLength:
		return fmt.Errorf("board: bad payload length: %w", hal.ErrDimension)
	case proto.CodeBadVersion:
		return fmt.Errorf("board speaks protocol %d, this driver %d: %w", detail, proto.Version, hal.ErrUnsupported)
	case proto.CodeUnknownType:
		return fmt.Errorf("board does not know this request: %w", hal.ErrUnsupported)
	case proto.CodeBusy:
		return fmt.Errorf("board busy: %w", hal.ErrUnsupported)
	}
	return fmt.Errorf("board error code %d (detail %d): %w", code, detail, hal.ErrInvalid)
}
