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

func codeOf(v float64, c hal.Converter) uint16 {
	top := math.Exp2(float64(c.Bits)) - 1
	return uint16(math.Min(math.Max(math.Round((v-c.Min)/c.LSB()), 0), top))
}

// SetCouplings implements hal.Board: checked like every board, quantised
// to the board's step, sent in row blocks that fit a packet, all but the
// last held and latched together by the last.
func (d *Dev) SetCouplings(ctx context.Context, a []float64) error {
	if err := d.check(ctx, "set couplings"); err != nil {
		return err
	}
	if err := hal.CheckCouplings(d.info, a); err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	k := d.info.Cells
	rows := max(1, (proto.MaxPayload-4)/(2*k))
	for r0 := 0; r0 < k; r0 += rows {
		r := min(rows, k-r0)
		p := []byte{byte(r0), 0, byte(r), byte(k)}
		for _, v := range a[r0*k : (r0+r)*k] {
			p = binary.LittleEndian.AppendUint16(p, uint16(int16(math.Round(v/d.info.CouplingStep))))
		}
		// Every block but the last is held: the board latches (or
		// refuses) the whole matrix once, so a refusal changes nothing.
		typ := proto.TypeSetCouplingsHold
		if r0+r >= k {
			typ = proto.TypeSetCouplings
		}
		if _, err := d.request(ctx, typ, p, 0); err != nil {
			return fmt.Errorf("set couplings rows %d–%d: %w", r0, r0+r-1, err)
		}
	}
	return nil
}

func (d *Dev) setVector(ctx context.Context, op, what string, typ proto.Type, v []float64, c hal.Converter) error {
	if err := d.check(ctx, op); err != nil {
		return err
	}
	if err := hal.CheckVector(what, v, d.info.Cells, c.Range); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	p := make([]byte, 0, 2*len(v))
	for _, x := range v {
		p = binary.LittleEndian.AppendUint16(p, codeOf(x, c))
	}
	if _, err := d.request(ctx, typ, p, 0); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// SetBias implements hal.Board.
func (d *Dev) SetBias(ctx context.Context, b []float64) error {
	return d.setVector(ctx, "set bias", "bias", proto.TypeSetBias, b, d.info.Bias)
}

// SetState implements hal.Board.
func (d *Dev) SetState(ctx context.Context, x []float64) error {
	return d.setVector(ctx, "set state", "state", proto.TypeSetState, x, d.info.ADC)
}

// Run implements hal.Board.
func (d *Dev) Run(ctx context.Context, dur time.Duration) error {
	if err := d.check(ctx, "run"); err != nil {
		return err
	}
	if err := hal.CheckDuration(dur); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if _, err := d.request(ctx, proto.TypeRun, binary.LittleEndian.AppendUint64(nil, uint64(dur)), dur); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// Sample implements hal.Board: SAMPLE, then chunks acknowledged as they
// arrive in order; a missing chunk is asked for again by repeating the
// acknowledgement (docs/protocol.md §4.6).
func (d *Dev) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	period, rows, err := hal.SampleStart(ctx, d.info, d.closed, period, dst)
	if err != nil {
		return 0, err
	}
	k := d.info.Cells
	req := binary.LittleEndian.AppendUint32(nil, uint32(rows))
	req = binary.LittleEndian.AppendUint32(req, uint32(period.Nanoseconds()))
	req = binary.LittleEndian.AppendUint16(req, uint16(d.opts.Window))
	seq := d.nextSeq()
	if err := d.send(proto.TypeSample, seq, req); err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
	perChunk := (proto.MaxPayload - 5) / (2 * k)
	chunkTime := time.Duration(perChunk) * period
	next, tries := 0, 0
	for {
		deadline := time.Now().Add(d.opts.Timeout + 4*chunkTime)
		p, err := d.receive(ctx, deadline)
		if errors.Is(err, errTimedOut) {
			d.resent++
			if tries++; tries > d.opts.Retries {
				return next, fmt.Errorf("sample: no data after %d tries at sample %d of %d: %w", tries, next, rows, hal.ErrTimeout)
			}
			if err := d.resendSample(seq, req, next); err != nil {
				return next, fmt.Errorf("sample: %w", err)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				d.abort(seq)
			}
			return next, fmt.Errorf("sample %d of %d: %w", next, rows, err)
		}
		if p.Seq != seq {
			continue
		}
		switch p.Type {
		case proto.TypeError:
			return next, fmt.Errorf("sample: %w", remoteError(p.Payload))
		case proto.TypeSample | proto.Response:
			if next < rows {
				continue // a stale summary cannot come before our data
			}
			return rows, saturation(p.Payload, k, rows)
		case proto.TypeSampleData:
			n, ok, err := d.takeChunk(p.Payload, dst, next, rows)
			if err != nil {
				return next, err
			}
			if !ok {
				continue
			}
			next += n
			tries = 0
			if err := d.send(proto.TypeSampleAck, seq, binary.LittleEndian.AppendUint32(nil, uint32(next))); err != nil {
				return next, fmt.Errorf("sample: %w", err)
			}
		}
	}
}

// resendSample repeats what a timeout may have lost: the SAMPLE request
// while no data has come, else the acknowledgement of the next samples
// wanted.
func (d *Dev) resendSample(seq uint16, req []byte, next int) error {
	if next == 0 {
		return d.send(proto.TypeSample, seq, req)
	}
	return d.send(proto.TypeSampleAck, seq, binary.LittleEndian.AppendUint32(nil, uint32(next)))
}

// takeChunk converts a SAMPLE_DATA payload into volts in dst when it holds
// the next samples wanted and returns how many it held. ok is false for a
// malformed chunk, or one out of order or a duplicate, which is ignored:
// the acknowledgement asks again.
func (d *Dev) takeChunk(p []byte, dst []float64, next, rows int) (n int, ok bool, err error) {
	k := d.info.Cells
	if len(p) < 5 || (len(p)-5)%(2*k) != 0 {
		return 0, false, nil
	}
	first := int(binary.LittleEndian.Uint32(p))
	if first != next {
		return 0, false, nil
	}
	n = (len(p) - 5) / (2 * k)
	if first+n > rows {
		return 0, false, fmt.Errorf("sample: board sent samples beyond %d: %w", rows, hal.ErrInvalid)
	}
	lsb := d.info.ADC.LSB()
	for i := range n * k {
		code := binary.LittleEndian.Uint16(p[5+2*i:])
		dst[first*k+i] = d.info.ADC.Min + float64(code)*lsb
	}
	return n, true, nil
}

// saturation turns the SAMPLE summary's per-channel bitmap into a
// *hal.SaturationError (per-reading counts are not on the wire: a set bit
// counts as one).
func saturation(p []byte, k, rows int) error {
	if len(p) < 5 {
		return fmt.Errorf("sample: short summary: %w", hal.ErrInvalid)
	}
	var counts []int
	for i := range k {
		if 5+i/8 < len(p) && p[5+i/8]&(1<<(i%8)) != 0 {
			if counts == nil {
				counts = make([]int, k)
			}
			counts[i] = 1
		}
	}
	if counts != nil {
		return fmt.Errorf("sample: %w", &hal.SaturationError{Counts: counts, Samples: rows})
	}
	return nil
}

// abort stops a stream the caller cancelled, so the board takes requests
// again: an abort acknowledgement, then the summary is awaited briefly.
func (d *Dev) abort(seq uint16) {
	for range d.opts.Retries {
		if d.send(proto.TypeSampleAck, seq, binary.LittleEndian.AppendUint32(nil, abortSample)) != nil {
			return
		}
		deadline := time.Now().Add(d.opts.Timeout)
		for {
			p, err := d.receive(context.Background(), deadline)
			if err != nil {
				break
			}
			if p.Seq == seq && (p.Type == proto.TypeSample|proto.Response || p.Type == proto.TypeError) {
				return
			}
		}
	}
}

// abortSample is firmware.AbortSample (the driver does not import firmware).
const abortSample = 0xFFFFFFFF
