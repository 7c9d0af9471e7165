package server

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spukit/spukit/remote/boardpb"
)

// TestSampleRefusedSendsNothing: a Sample refused for its sequence number
// (0, or older than the lease's last call) streams no values: it must not
// replay the samples recorded for another call.
func TestSampleRefusedSendsNothing(t *testing.T) {
	s, err := New(t.Context(), Options{URI: "sim:proto8?seed=1", LeaseTTL: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer s.Close()
	le, err := s.leases.acquire(t.Context(), "test", "", false, nil)
	require.NoError(t, err)
	sample := func(seq uint64) (int, error) {
		st := &sampleStream{ctx: context.Background()}
		err := s.Sample(&boardpb.SampleRequest{Call: &boardpb.Call{Lease: le.id, Seq: seq}, Samples: 3, PeriodNs: 5000}, st)
		return st.sent, err
	}
	n, err := sample(2)
	require.NoError(t, err)
	require.Equal(t, 3*8, n)
	n, err = sample(2) // a retry replays the record
	require.NoError(t, err)
	assert.Equal(t, 3*8, n)
	for seq, code := range map[uint64]codes.Code{1: codes.FailedPrecondition, 0: codes.InvalidArgument} {
		n, err = sample(seq)
		assert.Equal(t, code, status.Code(err), "seq %d: %v", seq, err)
		assert.Zero(t, n, "seq %d streamed the record of call 2", seq)
	}
}

// TestSampleResume: a retried Sample streams its record from resume_from
// (the samples the first attempt did not deliver), and from 0 when
// resume_from is beyond the record.
func TestSampleResume(t *testing.T) {
	s := newTestServer(t, time.Hour)
	le, err := s.leases.acquire(t.Context(), "test", "", false, nil)
	require.NoError(t, err)
	sample := func(from int64) []int64 {
		st := &sampleStream{ctx: context.Background()}
		req := &boardpb.SampleRequest{Call: &boardpb.Call{Lease: le.id, Seq: 1}, Samples: 5, PeriodNs: 5000, ResumeFrom: from}
		require.NoError(t, s.Sample(req, st))
		return st.firsts
	}
	assert.Equal(t, []int64{0}, sample(3), "a first run ignores resume_from")
	assert.Equal(t, []int64{3}, sample(3))
	assert.Equal(t, []int64{0}, sample(6), "beyond the record")
}

// timedStream records when each chunk was sent.
type timedStream struct {
	sampleStream
	at []time.Time
}

func (s *timedStream) Send(c *boardpb.SampleChunk) error {
	s.at = append(s.at, time.Now())
	return s.sampleStream.Send(c)
}

// TestSampleStreamsWhileSampling: on a board that reports its progress
// (sim), the first chunk leaves while the board is still sampling — well
// before the call ends — and every sample arrives in order.
func TestSampleStreamsWhileSampling(t *testing.T) {
	s := newTestServer(t, time.Hour)
	s.opts.ChunkValues = 8 << 10 // 1024 samples of 8 cells a message
	le, err := s.leases.acquire(t.Context(), "test", "", false, nil)
	require.NoError(t, err)
	const n = 100_000
	st := &timedStream{sampleStream: sampleStream{ctx: context.Background()}}
	start := time.Now()
	require.NoError(t, s.Sample(&boardpb.SampleRequest{Call: &boardpb.Call{Lease: le.id, Seq: 1}, Samples: n}, st))
	took := time.Since(start)
	require.Equal(t, n*8, st.sent)
	for i, f := range st.firsts {
		require.Equal(t, int64(i*1024), f)
	}
	// One message's worth is ~1 % of the call: the first leaves long
	// before half of it has passed unless the stream waits for the end.
	assert.Less(t, st.at[0].Sub(start), took/2, "first chunk after %v of %v", st.at[0].Sub(start), took)
}

// TestFeedWakesPerChunk: the board reports progress every 64 samples, but
// the sender is woken only when the chunk it waits for is complete or the
// call has ended (a wake-up per report was a goroutine hand-off every 64
// samples), and a report that completes the chunk is never lost.
func TestFeedWakesPerChunk(t *testing.T) {
	woken := func(f *feed) bool {
		select {
		case <-f.wake:
			return true
		default:
			return false
		}
	}
	f := newFeed()
	n, done := f.get(256)
	require.Equal(t, 0, n)
	require.False(t, done)
	for _, p := range []int{64, 128, 192} {
		f.set(p, false)
		assert.False(t, woken(f), "woken at %d of 256", p)
	}
	f.set(256, false)
	assert.True(t, woken(f), "not woken when the chunk was complete")
	// Samples final before the sender asks for them: get returns them.
	f.set(600, false)
	require.True(t, woken(f))
	n, _ = f.get(512)
	assert.Equal(t, 600, n)
	f.set(640, true)
	assert.True(t, woken(f), "not woken at the end")
}

// TestPackedRequests: an array may come packed (v1.3) or repeated, with
// the same effect (two boards of one seed, one state set each way, then
// read: equal samples); both at once, or packed bytes that are not whole
// float64 values, are InvalidArgument naming the field.
func TestPackedRequests(t *testing.T) {
	v := []float64{0.1, -0.2, 0.3, 0, 0, 0, 0, 0.25}
	packed := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(packed[8*i:], math.Float64bits(x))
	}
	var read [2][]float64
	for i, req := range []*boardpb.VectorRequest{{V: v}, {VPacked: packed}} {
		s := newTestServer(t, time.Hour)
		le, err := s.leases.acquire(t.Context(), "test", "", false, nil)
		require.NoError(t, err)
		req.Call = &boardpb.Call{Lease: le.id, Seq: 1}
		_, err = s.SetState(t.Context(), req)
		require.NoError(t, err)
		st := &sampleStream{ctx: context.Background()}
		require.NoError(t, s.Sample(&boardpb.SampleRequest{Call: &boardpb.Call{Lease: le.id, Seq: 2}, Samples: 3, PeriodNs: 5000}, st))
		read[i] = st.values
		if i == 1 {
			for j, tc := range []struct {
				req *boardpb.VectorRequest
				err string
			}{
				{&boardpb.VectorRequest{V: v, VPacked: packed}, "set state: 8 values and 64 packed bytes, want one of the two"},
				{&boardpb.VectorRequest{VPacked: packed[:61]}, "set state: 61 packed bytes, want a multiple of 8"},
			} {
				tc.req.Call = &boardpb.Call{Lease: le.id, Seq: uint64(3 + j)}
				_, err := s.SetState(t.Context(), tc.req)
				assert.Equal(t, codes.InvalidArgument, status.Code(err))
				assert.ErrorContains(t, err, tc.err)
			}
		}
	}
	require.Len(t, read[0], 3*8)
	assert.Equal(t, read[0], read[1])
}
