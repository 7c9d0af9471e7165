package remote_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// faultProxy forwards loopback TCP connections to target and, once armed,
// delays some chunks and cuts some connections mid-message (as a network
// that drops packets does to a TCP stream: the connection breaks), seeded.
type faultProxy struct {
	lis      net.Listener
	target   string
	armed    atomic.Bool
	cuts     atomic.Int32
	mu       sync.Mutex
	r        *rand.Rand
	conns    []net.Conn // l.mu; every connection accepted, for cutAll
	accepted atomic.Int32
}

// cutAll breaks every connection, as a link that goes down does.
func (p *faultProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.cuts.Add(1)
}

func startProxy(t *testing.T, target string, seed uint64) *faultProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &faultProxy{lis: lis, target: target, r: rand.New(rand.NewPCG(seed, 1))}
	t.Cleanup(func() { lis.Close() })
	go p.accept()
	return p
}

func (p *faultProxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.accepted.Add(1)
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

// fault draws what happens to the next chunk: a cut (1 in 10 once armed)
// or a delay of up to 5 ms (1 in 10).
func (p *faultProxy) fault() (cut bool, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.r.Float64()
	if p.armed.Load() && u < 0.1 {
		return true, 0
	}
	if u > 0.9 {
		return false, time.Duration(p.r.IntN(5)) * time.Millisecond
	}
	return false, 0
}

func (p *faultProxy) pipe(from, to net.Conn) {
	defer from.Close()
	defer to.Close()
	buf := make([]byte, 4096)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			cut, d := p.fault()
			if cut {
				// Forward part of the chunk, then break the connection.
				_, _ = to.Write(buf[:n/2])
				p.cuts.Add(1)
				return
			}
			time.Sleep(d)
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

// TestFaultsBitIdentical: through a link that delays and breaks, calls are
// retried under their sequence numbers and never run twice, so the
// results are the fault-free run's bit for bit. The faults start before
// Dial, so the version check, Info, Acquire and Release are retried too.
func TestFaultsBitIdentical(t *testing.T) {
	const uri = "sim:proto8?seed=9"
	s := servetest.Start(t, server.Options{URI: uri, ChunkValues: 64}, server.Auth{}, nil)
	local := openT(t, uri)
	want := make([][]float64, 0, 3)
	for range 3 {
		want = append(want, script(t, local))
	}
	p := startProxy(t, s.Addr, 7)
	p.armed.Store(true)
	b, err := remote.Dial(t.Context(), p.lis.Addr().String(), remote.Options{Plaintext: true, RetryFor: 20 * time.Second})
	require.NoError(t, err)
	got := make([][]float64, 0, 3)
	for range 3 {
		got = append(got, script(t, b))
	}
	require.NoError(t, b.Close())
	p.armed.Store(false)
	assert.Positive(t, p.cuts.Load(), "the proxy broke connections")
	t.Logf("%d connections broken", p.cuts.Load())
	assert.Equal(t, want, got)
}

// TestFaultsAcquireQueued: a client waiting in the queue through a link
// that breaks keeps its place (its Acquire is retried under its request
// id), gets the board when the holder releases it, and the board is then
// the freshly opened one; the server ends with no lease held or queued.
func TestFaultsAcquireQueued(t *testing.T) {
	const uri = "sim:proto8?seed=9"
	s := servetest.Start(t, server.Options{URI: uri, ChunkValues: 64}, server.Auth{}, nil)
	want := script(t, openT(t, uri))
	holder := openT(t, "grpc://"+s.Addr)
	p := startProxy(t, s.Addr, 11)
	p.armed.Store(true)
	type result struct {
		b   hal.Board
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := remote.Dial(context.Background(), p.lis.Addr().String(), remote.Options{Plaintext: true,
			Client: "waiter", RetryFor: 20 * time.Second})
		done <- result{b, err}
	}()
	// Hold the board while the waiter's connection breaks three times
	// under it (an idle waiting stream carries no data for the proxy's
	// random cuts): each time it connects again and keeps its one place.
	queuedOnce := func() bool {
		st, err := remote.GetStatus(t.Context(), s.Addr, remote.Options{Plaintext: true})
		return err == nil && len(st.Queue) == 1
	}
	for range 3 {
		require.Eventually(t, queuedOnce, 20*time.Second, 5*time.Millisecond)
		n := p.accepted.Load()
		p.cutAll()
		require.Eventually(t, func() bool { return p.accepted.Load() > n }, 20*time.Second, 5*time.Millisecond,
			"the waiter connects again")
	}
	require.Eventually(t, queuedOnce, 20*time.Second, 5*time.Millisecond)
	require.NoError(t, holder.Close())
	r := <-done
	require.NoError(t, r.err)
	got := script(t, r.b)
	require.NoError(t, r.b.Close())
	p.armed.Store(false)
	assert.Equal(t, want, got)
	st, err := remote.GetStatus(t.Context(), s.Addr, remote.Options{Plaintext: true})
	require.NoError(t, err)
	assert.Empty(t, st.Holder)
	assert.Empty(t, st.Queue)
}
