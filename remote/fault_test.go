package remote_test

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/remote"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// faultProxy forwards loopback TCP connections to target and, once armed,
// delays some chunks and cuts some connections mid-message (as a network
// that drops packets does to a TCP stream: the connection breaks), seeded.
type faultProxy struct {
	lis    net.Listener
	target string
	armed  atomic.Bool
	cuts   atomic.Int32
	mu     sync.Mutex
	r      *rand.Rand
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
// results are the fault-free run's bit for bit.
func TestFaultsBitIdentical(t *testing.T) {
	const uri = "sim:proto8?seed=9"
	s := servetest.Start(t, server.Options{URI: uri, ChunkValues: 64}, server.Auth{}, nil)
	local := openT(t, uri)
	want := make([][]float64, 0, 3)
	for range 3 {
		want = append(want, script(t, local))
	}
	p := startProxy(t, s.Addr, 7)
	b, err := remote.Dial(t.Context(), p.lis.Addr().String(), remote.Options{Plaintext: true, RetryFor: 20 * time.Second})
	require.NoError(t, err)
	defer b.Close()
	p.armed.Store(true) // faults after the lease: Acquire itself is not retried
	got := make([][]float64, 0, 3)
	for range 3 {
		got = append(got, script(t, b))
	}
	p.armed.Store(false)
	assert.Positive(t, p.cuts.Load(), "the proxy broke connections")
	t.Logf("%d connections broken", p.cuts.Load())
	assert.Equal(t, want, got)
}
