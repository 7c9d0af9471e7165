package remote_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/remote"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// counted serves uri without authentication and counts how often the
// server opened it (once at start, once per reset).
func counted(t *testing.T, o server.Options) (*servetest.Server, *atomic.Int32) {
	return countedAuth(t, o, server.Auth{})
}

// countedAuth is counted with authentication a.
func countedAuth(t *testing.T, o server.Options, a server.Auth) (*servetest.Server, *atomic.Int32) {
	var opens atomic.Int32
	uri := o.URI
	o.Open = func(ctx context.Context) (hal.Board, error) {
		opens.Add(1)
		return hal.Open(ctx, uri)
	}
	return servetest.Start(t, o, a, nil), &opens
}

func TestBusyNoWait(t *testing.T) {
	s, _ := counted(t, server.Options{URI: "sim:proto8"})
	a, err := remote.Dial(t.Context(), s.Addr, remote.Options{Plaintext: true, Client: "alice"})
	require.NoError(t, err)
	defer a.Close()
	_, err = hal.Open(t.Context(), "grpc://"+s.Addr+"?wait=0")
	require.ErrorIs(t, err, hal.ErrBusy)
	assert.Contains(t, err.Error(), "alice")
}

func TestFIFO(t *testing.T) {
	s, opens := counted(t, server.Options{URI: "sim:proto8"})
	first, err := remote.Dial(t.Context(), s.Addr, remote.Options{Plaintext: true, Client: "first"})
	require.NoError(t, err)
	var mu sync.Mutex
	var order []string
	positions := map[string][]int{}
	var wg sync.WaitGroup
	queued := make(chan struct{}, 2)
	for _, name := range []string{"second", "third"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := remote.Dial(context.Background(), s.Addr, remote.Options{Plaintext: true, Client: name,
				OnQueue: func(p int) {
					mu.Lock()
					positions[name] = append(positions[name], p)
					firstCall := len(positions[name]) == 1
					mu.Unlock()
					if firstCall {
						queued <- struct{}{}
					}
				}})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // hold it a moment
			assert.NoError(t, b.Close())
		}()
		<-queued // "second" queues before "third"
	}
	st, err := remote.GetStatus(t.Context(), s.Addr, remote.Options{Plaintext: true})
	require.NoError(t, err)
	assert.Contains(t, st.Holder, "first")
	require.Len(t, st.Queue, 2)
	assert.Contains(t, st.Queue[0].Client, "second")
	require.NoError(t, first.Close())
	wg.Wait()
	assert.Equal(t, []string{"second", "third"}, order)
	assert.Equal(t, []int{1}, positions["second"])
	assert.Equal(t, []int{2, 1}, positions["third"], "third moves up when second gets the board")
	assert.Equal(t, int32(4), opens.Load(), "opened at start and after each of the three leases")
}

// TestLeaseExpiry: a client that stops renewing (as a killed one does)
// loses the board after the TTL, and the board is reset (opened again).
func TestLeaseExpiry(t *testing.T) {
	const ttl = 150 * time.Millisecond
	s, opens := counted(t, server.Options{URI: "sim:proto8", LeaseTTL: ttl})
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	c := boardpb.NewBoardClient(conn)
	// Only Renew extends a lease, so it runs from its grant, which comes
	// after asked: it cannot expire before asked + TTL, however long the
	// calls took on a loaded machine. (Measuring from after SetCouplings'
	// reply, as before, failed once at load 28: 126 ms < 140 ms.)
	asked := time.Now()
	st, err := c.Acquire(t.Context(), &boardpb.AcquireRequest{Client: "killed", Wait: true})
	require.NoError(t, err)
	m, err := st.Recv()
	require.NoError(t, err)
	lease := m.GetLease()
	require.NotEmpty(t, lease)
	_, err = c.SetCouplings(t.Context(), &boardpb.SetCouplingsRequest{Call: &boardpb.Call{Lease: lease, Seq: 1},
		A: testnum.Identity(8, 2)})
	require.NoError(t, err)
	start := time.Now()
	b, err := remote.Dial(t.Context(), s.Addr, remote.Options{Plaintext: true}) // waits for the expiry
	require.NoError(t, err)
	defer b.Close()
	assert.GreaterOrEqual(t, time.Since(asked), ttl-10*time.Millisecond)
	assert.Less(t, time.Since(start), ttl+time.Second)
	assert.Equal(t, int32(2), opens.Load(), "the board was opened again (A = I, b = 0) before the next lease")
	stat, err := remote.GetStatus(t.Context(), s.Addr, remote.Options{Plaintext: true})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), stat.Expired)
	// The dead lease is refused, and nothing runs under it.
	_, err = c.Run(t.Context(), &boardpb.RunRequest{Call: &boardpb.Call{Lease: lease, Seq: 2}, DurationNs: 1000})
	require.Error(t, err)
}

// TestIdempotent: a call repeated with the same sequence number (a retry
// after a lost reply) is answered from the record, not run again.
func TestIdempotent(t *testing.T) {
	s, _ := counted(t, server.Options{URI: "sim:proto8?seed=2"})
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	c := boardpb.NewBoardClient(conn)
	st, err := c.Acquire(t.Context(), &boardpb.AcquireRequest{Wait: true})
	require.NoError(t, err)
	m, err := st.Recv()
	require.NoError(t, err)
	call := &boardpb.Call{Lease: m.GetLease(), Seq: 1}
	clock := func() int64 {
		r, err := c.BoardTime(t.Context(), &boardpb.BoardTimeRequest{Call: call})
		require.NoError(t, err)
		return r.GetNs()
	}
	t0 := clock()
	for range 3 {
		_, err = c.Run(t.Context(), &boardpb.RunRequest{Call: call, DurationNs: int64(time.Millisecond)})
		require.NoError(t, err)
	}
	assert.Equal(t, int64(time.Millisecond), clock()-t0, "three sends of call 1 ran once")
	_, err = c.Run(t.Context(), &boardpb.RunRequest{Call: &boardpb.Call{Lease: call.Lease, Seq: 0}, DurationNs: 1})
	require.Error(t, err)
}

// TestClientKilledMidRun: a client killed during a long Run loses the
// lease one TTL later; the Run is stopped and the board reset for the next.
func TestClientKilledMidRun(t *testing.T) {
	const ttl = 200 * time.Millisecond
	s, opens := counted(t, server.Options{URI: "sim:ideal", LeaseTTL: ttl})
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	c := boardpb.NewBoardClient(conn)
	st, err := c.Acquire(t.Context(), &boardpb.AcquireRequest{Client: "doomed", Wait: true})
	require.NoError(t, err)
	m, err := st.Recv()
	require.NoError(t, err)
	go func() {
		_, _ = c.Run(context.Background(), &boardpb.RunRequest{Call: &boardpb.Call{Lease: m.GetLease(), Seq: 1},
			DurationNs: int64(time.Hour)})
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, conn.Close()) // the client dies mid-run
	start := time.Now()
	b, err := remote.Dial(t.Context(), s.Addr, remote.Options{Plaintext: true})
	require.NoError(t, err)
	defer b.Close()
	assert.Less(t, time.Since(start), ttl+time.Second)
	assert.Equal(t, int32(2), opens.Load(), "reset before the next lease")
}
