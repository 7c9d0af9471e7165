package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/spukit/spukit/remote/boardpb"
	_ "github.com/spukit/spukit/sim" // registers sim:
)

// sampleStream is a Board_SampleServer that drops what it is sent.
type sampleStream struct {
	grpc.ServerStream
	ctx    context.Context
	sent   int
	firsts []int64   // each chunk's first sample
	values []float64 // the values sent unpacked
}

func (s *sampleStream) Context() context.Context { return s.ctx }
func (s *sampleStream) Send(c *boardpb.SampleChunk) error {
	s.sent += len(c.GetValues())
	s.values = append(s.values, c.GetValues()...)
	s.firsts = append(s.firsts, c.GetFirst())
	return nil
}

// acquireStream is a Board_AcquireServer that drops what is sent.
type acquireStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *acquireStream) Context() context.Context         { return s.ctx }
func (s *acquireStream) Send(*boardpb.AcquireReply) error { return nil }

// FuzzRequests decodes arbitrary bytes as each board request and hands
// it to the server under a valid lease: a malformed request must be an
// error, never a panic or an allocation sized by a claimed length (the
// fuzzer's memory limit catches those).
func FuzzRequests(f *testing.F) {
	s, err := New(context.Background(), Options{URI: "sim:proto8?seed=1", MaxSampleValues: 1 << 16, LeaseTTL: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(f, err)
	defer s.Close()
	le, err := s.leases.acquire(context.Background(), "fuzz", "", false, nil)
	require.NoError(f, err)
	seeds := []proto.Message{
		&boardpb.SetCouplingsRequest{A: make([]float64, 64)},
		&boardpb.VectorRequest{V: []float64{0.1, 0, 0, 0, 0, 0, 0, 0}},
		&boardpb.RunRequest{DurationNs: 1000},
		&boardpb.SampleRequest{Samples: 3, PeriodNs: 5000},
		&boardpb.SetFactoredCouplingsRequest{Rows: 2, Cols: 2, RowsPerSample: 1, H: []float64{1, 1}, Lambda: 1,
			Blocks: []*boardpb.JacobianBlock{{Out: 1, In: 2, Signal: []float64{1, 1}, Input: []float64{1, 2, 3, 4}}}},
		&boardpb.RunRequest{Call: &boardpb.Call{Lease: "nope", Seq: 9}, DurationNs: 1000},
		&boardpb.AcquireRequest{Client: "fuzz", RequestId: "0123456789abcdef"},
		// v1.3: packed arrays, a vector's tail, packed samples.
		&boardpb.SetCouplingsRequest{APacked: make([]byte, 8*64)},
		&boardpb.VectorRequest{VPacked: make([]byte, 8), Tail: 7},
		&boardpb.SampleRequest{Samples: 3, PeriodNs: 5000, Packed: true},
		&boardpb.SetFactoredCouplingsRequest{Rows: 2, Cols: 2, RowsPerSample: 1, HPacked: make([]byte, 16), Lambda: 1,
			Blocks: []*boardpb.JacobianBlock{{Out: 1, In: 2, SignalPacked: make([]byte, 16), InputPacked: make([]byte, 32)}}},
	}
	kinds := []uint8{0, 1, 2, 3, 4, 5, 6, 0, 1, 3, 4} // each seed's request kind (below)
	for i, m := range seeds {
		raw, err := proto.Marshal(m)
		require.NoError(f, err)
		f.Add(kinds[i], raw)
	}
	var seq uint64
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		defer func() {
			// A call must end soon after its context: a slow one is a hang.
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("kind %d took %v", kind%7, d)
			}
		}()
		seq++
		call := &boardpb.Call{Lease: le.id, Seq: seq}
		switch kind % 7 {
		case 0:
			r := &boardpb.SetCouplingsRequest{}
			if proto.Unmarshal(raw, r) == nil {
				r.Call = call
				_, _ = s.SetCouplings(ctx, r)
			}
		case 1:
			r := &boardpb.VectorRequest{}
			if proto.Unmarshal(raw, r) == nil {
				r.Call = call
				_, _ = s.SetBias(ctx, r)
				_, _ = s.SetState(ctx, r)
			}
		case 2:
			r := &boardpb.RunRequest{}
			if proto.Unmarshal(raw, r) == nil {
				r.Call = call
				r.DurationNs %= int64(10 * time.Millisecond) // bound the fuzzer's time, not the server's
				_, _ = s.Run(ctx, r)
			}
		case 3:
			r := &boardpb.SampleRequest{}
			if proto.Unmarshal(raw, r) == nil {
				r.Call = call
				r.PeriodNs %= int64(time.Millisecond)
				_ = s.Sample(r, &sampleStream{ctx: ctx})
			}
		case 4:
			r := &boardpb.SetFactoredCouplingsRequest{}
			if proto.Unmarshal(raw, r) == nil {
				r.Call = call
				_, _ = s.SetFactoredCouplings(ctx, r)
			}
		case 5:
			// Requests under no or a wrong lease and stale sequence numbers.
			r := &boardpb.RunRequest{}
			if proto.Unmarshal(raw, r) == nil {
				_, _ = s.Run(ctx, r)
				_, _ = s.Renew(ctx, &boardpb.RenewRequest{Lease: r.GetCall().GetLease()})
				_, _ = s.Temperature(ctx, &boardpb.TemperatureRequest{Call: r.GetCall()})
				_, _ = s.BoardTime(ctx, &boardpb.BoardTimeRequest{Call: r.GetCall()})
			}
		case 6:
			// Acquire while the fuzzer holds the board: busy at once
			// (waiting would only time out), whatever the request id.
			r := &boardpb.AcquireRequest{}
			if proto.Unmarshal(raw, r) == nil {
				r.Wait = false
				_ = s.Acquire(r, &acquireStream{ctx: ctx})
			}
		}
	})
}
