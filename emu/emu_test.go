package emu

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/firmware"
	"github.com/spukit/spukit/firmware/proto"
	"github.com/spukit/spukit/hal"
	_ "github.com/spukit/spukit/sim"
)

// link is an in-memory byte link between a test "host" and the firmware.
type link struct{ toBoard, toHost []byte }

func (l *link) Read(p []byte) (int, error) {
	n := copy(p, l.toBoard)
	l.toBoard = l.toBoard[n:]
	return n, nil
}
func (l *link) Write(p []byte) (int, error) { l.toHost = append(l.toHost, p...); return len(p), nil }

type host struct {
	t   *testing.T
	fw  *firmware.Board
	l   *link
	dec proto.Decoder
	seq uint16
}

// call sends a request with the next seq and polls until the board has
// answered; it returns every packet received.
func (h *host) call(typ proto.Type, payload []byte) []proto.Packet {
	h.seq++
	return h.send(typ, h.seq, payload)
}

func (h *host) send(typ proto.Type, seq uint16, payload []byte) []proto.Packet {
	var dst [proto.MaxFrame]byte
	var scratch [proto.MaxPacket]byte
	n, err := proto.AppendFrame(dst[:], scratch[:], typ, seq, payload)
	require.NoError(h.t, err)
	h.l.toBoard = append(h.l.toBoard, dst[:n]...)
	require.NoError(h.t, h.fw.Poll())
	var out []proto.Packet
	for off := 0; off < len(h.l.toHost); {
		k, pkt, ok, err := h.dec.Feed(h.l.toHost[off:])
		require.NoError(h.t, err)
		off += k
		if ok {
			pkt.Payload = append([]byte(nil), pkt.Payload...)
			out = append(out, pkt)
		}
	}
	h.l.toHost = h.l.toHost[:0]
	return out
}

// The firmware, driven over the wire with converter codes, makes the
// simulator produce exactly the samples the simulator gives when driven
// directly with the same values: same seed, same physics, bit for bit.
func TestFirmwareOnSimIsBitIdentical(t *testing.T) {
	ctx := context.Background()
	const k, n = 8, 300
	period := 5 * time.Microsecond
	direct, err := hal.Open(ctx, "sim:proto8?seed=5")
	require.NoError(t, err)
	viaFW, err := hal.Open(ctx, "sim:proto8?seed=5")
	require.NoError(t, err)
	in := direct.Info()
	step := in.CouplingStep
	lsbB, lsbA := in.Bias.LSB(), in.ADC.LSB()

	// A tridiagonal SPD problem as codes, and the same values as volts.
	ccodes := make([]int16, k*k)
	a := make([]float64, k*k)
	for i := range k {
		ccodes[i*k+i] = 700
		if i > 0 {
			ccodes[i*k+i-1], ccodes[(i-1)*k+i] = -200, -200
		}
	}
	for i, c := range ccodes {
		a[i] = float64(c) * step
	}
	bcodes := make([]uint16, k)
	bias := make([]float64, k)
	for i := range k {
		bcodes[i] = uint16(32768 + 2000*i)
		bias[i] = in.Bias.Min + float64(bcodes[i])*lsbB
	}
	require.NoError(t, direct.SetCouplings(ctx, a))
	require.NoError(t, direct.SetBias(ctx, bias))
	require.NoError(t, direct.Run(ctx, time.Millisecond))
	want := make([]float64, n*k)
	_, err = direct.Sample(ctx, period, want)
	require.NoError(t, err)

	h := &host{t: t, l: &link{}}
	h.fw = firmware.New(Info(viaFW), NewFrontEnd(ctx, viaFW), h.l)
	r := h.call(proto.TypeHello, []byte{proto.Version})
	require.Equal(t, proto.TypeHello|proto.Response, r[0].Type)
	blk := []byte{0, 0, k, k}
	for _, c := range ccodes {
		blk = binary.LittleEndian.AppendUint16(blk, uint16(c))
	}
	require.Equal(t, proto.TypeSetCouplings|proto.Response, h.call(proto.TypeSetCouplings, blk)[0].Type)
	var bp []byte
	for _, c := range bcodes {
		bp = binary.LittleEndian.AppendUint16(bp, c)
	}
	require.Equal(t, proto.TypeSetBias|proto.Response, h.call(proto.TypeSetBias, bp)[0].Type)
	require.Equal(t, proto.TypeRun|proto.Response, h.call(proto.TypeRun, binary.LittleEndian.AppendUint64(nil, uint64(time.Millisecond)))[0].Type)

	req := binary.LittleEndian.AppendUint32(nil, n)
	req = binary.LittleEndian.AppendUint32(req, uint32(period.Nanoseconds()))
	req = binary.LittleEndian.AppendUint16(req, 4)
	sampleSeq := h.seq + 1
	got := make([]float64, 0, n*k)
	pkts := h.call(proto.TypeSample, req)
	for len(got) < n*k {
		require.NotEmpty(t, pkts)
		for _, p := range pkts {
			require.Equal(t, proto.TypeSampleData, p.Type)
			for off := 5; off < len(p.Payload); off += 2 {
				code := binary.LittleEndian.Uint16(p.Payload[off:])
				got = append(got, in.ADC.Min+float64(code)*lsbA)
			}
		}
		pkts = h.send(proto.TypeSampleAck, sampleSeq, binary.LittleEndian.AppendUint32(nil, uint32(len(got)/k)))
	}
	require.Len(t, pkts, 1)
	assert.Equal(t, proto.TypeSample|proto.Response, pkts[0].Type)
	for i := range want {
		require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "sample %d cell %d", i/k, i%k)
	}
	dt, dok := hal.BoardTime(direct)
	vt, vok := hal.BoardTime(viaFW)
	require.True(t, dok && vok, "simulators keep board time")
	assert.Equal(t, dt-time.Millisecond, vt-time.Millisecond,
		"same board time (no link time is modelled by the emulator's front end)")
}
