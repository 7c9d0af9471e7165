package remote_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/metapb"
	"github.com/spukit/spukit/remote/server"
)

// tally counts the requests a server receives by method, and those that
// use a packed field (v1.3).
type tally struct {
	mu       sync.Mutex
	calls    map[string]int
	packed   int
	unpacked int // requests with an array sent as repeated double
}

func (c *tally) note(method string, m any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[method]++
	switch r := m.(type) {
	case *boardpb.VectorRequest:
		c.count(len(r.GetVPacked()) > 0)
	case *boardpb.SetCouplingsRequest:
		c.count(len(r.GetAPacked()) > 0)
	case *boardpb.SampleRequest:
		c.count(r.GetPacked())
	}
}

func (c *tally) count(packed bool) {
	if packed {
		c.packed++
	} else {
		c.unpacked++
	}
}

func (c *tally) get(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

// tallyStream notes a stream's request.
type tallyStream struct {
	grpc.ServerStream
	method string
	t      *tally
}

func (s tallyStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.t.note(s.method, m)
	}
	return err
}

// serveTallied serves s on loopback (plaintext, no authentication) with
// meta as its version service, counting the requests.
func serveTallied(t *testing.T, s *server.Server, meta metapb.MetaServer) (string, *tally) {
	c := &tally{calls: map[string]int{}}
	g := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			c.note(info.FullMethod, req)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, tallyStream{ss, info.FullMethod, c})
		}))
	boardpb.RegisterBoardServer(g, s)
	metapb.RegisterMetaServer(g, meta)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); s.Close() })
	return lis.Addr().String(), c
}

// exercise programs couplings, bias and state, runs and samples, and
// returns the samples and the board time after each call.
func exercise(t *testing.T, b hal.Board) (x []float64, times []time.Duration) {
	ctx := t.Context()
	a := testnum.Identity(8, 1)
	a[1], a[8] = -0.25, -0.25
	stamp := func() {
		d, ok := hal.BoardTime(b)
		require.True(t, ok)
		times = append(times, d)
	}
	require.NoError(t, b.SetCouplings(ctx, a))
	stamp()
	require.NoError(t, b.SetBias(ctx, testnum.Constant(8, 0.1)))
	stamp()
	require.NoError(t, b.SetState(ctx, testnum.Constant(8, -0.2)))
	stamp()
	require.NoError(t, b.Run(ctx, time.Millisecond))
	stamp()
	x = make([]float64, 40*8)
	n, err := b.Sample(ctx, 10*time.Microsecond, x)
	require.NoError(t, err)
	require.Equal(t, 40, n)
	stamp()
	stamp() // a second read with no call between
	return x, times
}

// TestPackedOnlyToNewServers: a v1.3 client sends its arrays packed, and
// asks for packed samples, only from a server of minor version ≥ 3; an
// older server gets repeated doubles. Either way the samples and board
// times are the local board's, bit for bit.
func TestPackedOnlyToNewServers(t *testing.T) {
	const uri = "sim:proto8?seed=3"
	want, wantTimes := exercise(t, haltest.Open(t, uri))
	for _, old := range []bool{true, false} {
		s, err := server.New(t.Context(), server.Options{URI: uri})
		require.NoError(t, err)
		var meta metapb.MetaServer = s
		if old {
			meta = versionMeta{major: 1, minor: 2}
		}
		addr, c := serveTallied(t, s, meta)
		got, times := exercise(t, haltest.Open(t, "grpc://"+addr))
		assert.Equal(t, want, got, "old server %v", old)
		assert.Equal(t, wantTimes, times, "old server %v", old)
		if old {
			assert.Equal(t, [2]int{0, 4}, [2]int{c.packed, c.unpacked}, "packed, unpacked requests to a v1.2 server")
		} else {
			assert.Equal(t, [2]int{4, 0}, [2]int{c.packed, c.unpacked}, "packed, unpacked requests to a v1.3 server")
		}
	}
}

// hardware hides that a simulated board is one: its clock then counts as
// a hardware clock, which runs on its own.
type hardware struct{ hal.Board }

func (h hardware) Info() hal.Info {
	in := h.Board.Info()
	in.Caps &^= hal.CapSimulated
	return in
}

func (h hardware) BoardTime() (time.Duration, bool) { return hal.BoardTime(h.Board) }

// TestBoardTimeFromReplies: a simulated board's clock advances only with
// its calls, so the server sends the board time with each call's reply
// (v1.3) and the client's BoardTime after a call needs no round trip; a
// hardware clock is asked each time. Both give the local board's times.
func TestBoardTimeFromReplies(t *testing.T) {
	const uri = "sim:proto8?seed=3"
	_, wantTimes := exercise(t, haltest.Open(t, uri))
	for _, hw := range []bool{false, true} {
		s, err := server.New(t.Context(), server.Options{URI: uri, Open: func(ctx context.Context) (hal.Board, error) {
			b, err := hal.Open(ctx, uri)
			if hw && err == nil {
				return hardware{b}, nil
			}
			return b, err
		}})
		require.NoError(t, err)
		addr, c := serveTallied(t, s, s)
		b := haltest.Open(t, "grpc://"+addr)
		before := c.get("/spukit.board.v1.Board/BoardTime")
		_, times := exercise(t, b)
		assert.Equal(t, wantTimes, times, "hardware %v", hw)
		asked := c.get("/spukit.board.v1.Board/BoardTime") - before
		if hw {
			assert.Equal(t, len(times), asked, "a hardware clock is asked at every read")
		} else {
			assert.Zero(t, asked, "a simulated board's time came with the replies")
		}
	}
}
