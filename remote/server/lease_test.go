package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// newTestServer serves sim:proto8 with leases of ttl.
func newTestServer(t *testing.T, ttl time.Duration) *Server {
	s, err := New(t.Context(), Options{URI: "sim:proto8?seed=1", LeaseTTL: ttl,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// queued returns the clients in s's queue, first in line first.
func queued(s *Server) []string {
	var q []string
	for _, w := range s.leases.status().GetQueue() {
		q = append(q, w.GetClient())
	}
	return q
}

// TestAcquireRetryGetsItsLease: an Acquire repeated with its request id
// (its reply was lost) gets the lease granted to it, renewed, instead of
// waiting behind it; another request id, or none, is another request.
func TestAcquireRetryGetsItsLease(t *testing.T) {
	s := newTestServer(t, time.Hour)
	le, err := s.leases.acquire(t.Context(), "a", "key-a", false, nil)
	require.NoError(t, err)
	again, err := s.leases.acquire(t.Context(), "a", "key-a", false, nil)
	require.NoError(t, err)
	assert.Same(t, le, again)
	for _, c := range [][2]string{{"a", "key-b"}, {"a", ""}} {
		_, err = s.leases.acquire(t.Context(), c[0], c[1], false, nil)
		assert.ErrorIs(t, err, hal.ErrBusy, "client %q, request id %q", c[0], c[1])
	}
}

// TestAcquireRetryKeepsPlace: a waiter whose connection drops keeps its
// place for one lease TTL when it has a request id, and its retry takes
// the place back (position reported again) and then the lease; without a
// request id it leaves the queue at once.
func TestAcquireRetryKeepsPlace(t *testing.T) {
	s := newTestServer(t, time.Hour)
	holder, err := s.leases.acquire(t.Context(), "a", "", false, nil)
	require.NoError(t, err)
	wait := func(client, key string) (context.CancelFunc, chan int, chan *lease) {
		ctx, cancel := context.WithCancel(t.Context())
		pos, got := make(chan int, 4), make(chan *lease, 1)
		go func() {
			le, err := s.leases.acquire(ctx, client, key, true, func(p int) error { pos <- p; return nil })
			if err == nil {
				got <- le
			}
		}()
		return cancel, pos, got
	}
	dropB, posB, _ := wait("b", "key-b")
	require.Equal(t, 1, <-posB)
	dropC, posC, _ := wait("c", "")
	require.Equal(t, 2, <-posC)
	dropB()
	dropC()
	require.Eventually(t, func() bool { return len(queued(s)) == 1 }, time.Second, time.Millisecond,
		"c, with no request id, left the queue")
	assert.Equal(t, []string{"b"}, queued(s), "b keeps its place")
	_, posB, gotB := wait("b", "key-b")
	assert.Equal(t, 1, <-posB, "the retry is told its place again")
	require.NoError(t, s.leases.release(holder.id))
	le := <-gotB
	assert.Equal(t, "key-b", le.key)
	assert.Empty(t, queued(s))
}

// TestAcquireGraceEnds: a waiter with a request id that does not come
// back leaves the queue after one TTL; when the board was granted to it
// meanwhile, the unclaimed lease ends then (the next waiter gets it)
// rather than after a further TTL without renewals. Which of the two
// ended it is read from the server's count of expired leases, not from a
// wall-clock bound (a loaded machine fires timers late, but in order: the
// grace ends ≥ TTL/4 before the lease would expire).
func TestAcquireGraceEnds(t *testing.T) {
	const ttl = 800 * time.Millisecond
	s := newTestServer(t, time.Hour)
	s.opts.LeaseTTL = ttl
	holder, err := s.leases.acquire(t.Context(), "a", "", false, nil)
	require.NoError(t, err)
	ctx, drop := context.WithCancel(t.Context())
	pos := make(chan int, 1)
	go func() {
		_, _ = s.leases.acquire(ctx, "b", "key-b", true, func(p int) error { pos <- p; return nil })
	}()
	require.Equal(t, 1, <-pos)
	drop()
	// b vanished; the holder keeps renewing and releases before b's
	// grace ends: the board is granted to b, whom nobody takes.
	time.Sleep(ttl / 4)
	require.NoError(t, s.leases.renew(holder.id))
	require.NoError(t, s.leases.release(holder.id))
	st := s.leases.status()
	require.Contains(t, st.GetHolder(), "b")
	require.Zero(t, st.GetLeasesExpired())
	require.Eventually(t, func() bool { return s.leases.status().GetHolder() == "" }, 10*ttl, time.Millisecond)
	assert.Zero(t, s.leases.status().GetLeasesExpired(), "b's lease ended by its grace, not by expiring a TTL after the grant")
}
