package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/internal/wire"
)

// lease is the right of one client to use the board.
type lease struct {
	id      string
	client  string
	granted time.Time
	expires time.Time
	timer   *time.Timer

	// ctx is cancelled when the lease ends: board calls run under it, not
	// under their RPC's context, so that a dropped connection does not
	// stop a call whose retry will ask for its result.
	ctx  context.Context
	stop context.CancelFunc
	// The running (or next) call's sequence number and cancel function,
	// and the highest sequence number the client cancelled; l.mu.
	runSeq, cancelledSeq uint64
	runCancel            context.CancelFunc

	// The idempotency record: the last call's sequence number and result,
	// so that a retried call is answered without running again.
	lastSeq    uint64
	lastErr    error
	lastSample []float64
	lastDiag   *boardpb.DiagnoseReply
}

// waiter is a client in the queue. granted receives its lease.
type waiter struct {
	client  string
	since   time.Time
	granted chan *lease
	moved   chan struct{} // signalled (non-blocking) when its position changes
}

// leases is the lease state: the holder, the FIFO queue and counters.
type leases struct {
	s                *Server
	mu               sync.Mutex
	holder           *lease
	resetting        bool // the board is being reset: no grant until it is done
	queue            []*waiter
	closed           bool
	granted, expired uint64
}

func (l *leases) init(s *Server) { l.s = s }

// newID returns a random lease id: unguessable, so one client cannot use
// another's lease.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// grantLocked makes a lease for client; l.mu is held.
func (l *leases) grantLocked(client string) *lease {
	ttl := l.s.opts.LeaseTTL
	le := &lease{id: newID(), client: client, granted: time.Now(), expires: time.Now().Add(ttl)}
	le.ctx, le.stop = context.WithCancel(context.Background())
	le.timer = time.AfterFunc(ttl, func() { l.expire(le) })
	l.holder = le
	l.granted++
	l.s.opts.Metrics.leaseGranted()
	return le
}

// acquire returns a lease for client, waiting in the queue when wait is
// set; position is called with the client's place each time it changes.
func (l *leases) acquire(ctx context.Context, client string, wait bool, position func(int) error) (*lease, error) {
	start := time.Now()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("acquire: the board server is shutting down: %w", hal.ErrClosed)
	}
	if l.holder == nil && !l.resetting && len(l.queue) == 0 {
		le := l.grantLocked(client)
		l.mu.Unlock()
		l.s.opts.Metrics.leaseWait(time.Since(start))
		return le, nil
	}
	if !wait {
		who := "being reset"
		if l.holder != nil {
			who = "held by " + l.holder.client
		}
		n := len(l.queue)
		l.mu.Unlock()
		return nil, fmt.Errorf("acquire: the board is %s, %d waiting: %w", who, n, hal.ErrBusy)
	}
	w := &waiter{client: client, since: start, granted: make(chan *lease, 1), moved: make(chan struct{}, 1)}
	l.queue = append(l.queue, w)
	l.mu.Unlock()
	last := -1
	for {
		if pos := l.position(w); pos != last && pos > 0 {
			last = pos
			if err := position(pos); err != nil {
				l.leave(w)
				return nil, err
			}
		}
		select {
		case le := <-w.granted:
			l.s.opts.Metrics.leaseWait(time.Since(start))
			return le, nil
		case <-w.moved:
		case <-ctx.Done():
			l.leave(w)
			return nil, fmt.Errorf("acquire: %w", ctx.Err())
		}
	}
}

// position returns w's 1-based place in the queue, 0 when not queued.
func (l *leases) position(w *waiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, q := range l.queue {
		if q == w {
			return i + 1
		}
	}
	return 0
}

// leave takes w out of the queue; a lease granted to it in the meantime
// is released.
func (l *leases) leave(w *waiter) {
	l.mu.Lock()
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			l.notifyLocked()
			l.mu.Unlock()
			return
		}
	}
	l.mu.Unlock()
	select {
	case le := <-w.granted:
		l.end(le, false)
	default:
	}
}

// notifyLocked tells every waiter that positions moved.
func (l *leases) notifyLocked() {
	for _, q := range l.queue {
		select {
		case q.moved <- struct{}{}:
		default:
		}
	}
}

// lookup returns the current lease with id, or an error saying why there
// is none (the wrapped hal.ErrDisconnected: the board was reset).
func (l *leases) lookup(id string) (*lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder == nil || l.holder.id != id {
		return nil, fmt.Errorf("no valid lease (it expired or was released, and the board was reset to A = I, b = 0): acquire the board again: %w", hal.ErrDisconnected)
	}
	return l.holder, nil
}

// renew extends lease id by the time to live.
func (l *leases) renew(id string) error {
	le, err := l.lookup(id)
	if err != nil {
		return err
	}
	l.mu.Lock()
	le.expires = time.Now().Add(l.s.opts.LeaseTTL)
	le.timer.Reset(l.s.opts.LeaseTTL)
	l.mu.Unlock()
	return nil
}

// expire ends le when its time is up (a renewal may have come first).
func (l *leases) expire(le *lease) {
	l.mu.Lock()
	if l.holder != le {
		l.mu.Unlock()
		return
	}
	if d := time.Until(le.expires); d > 0 {
		le.timer.Reset(d)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.end(le, true)
}

// end ends le (released or expired): the board is reset, then the next
// waiter gets it.
func (l *leases) end(le *lease, expired bool) {
	l.mu.Lock()
	if l.holder != le {
		l.mu.Unlock()
		return
	}
	le.timer.Stop()
	le.stop()
	l.holder, l.resetting = nil, true
	if expired {
		l.expired++
		l.s.opts.Metrics.leaseExpired()
	}
	l.mu.Unlock()
	l.s.log.Info("lease ended", "client", le.client, "held", time.Since(le.granted).Round(time.Millisecond), "expired", expired)
	l.s.reset()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resetting = false
	if l.closed || len(l.queue) == 0 {
		return
	}
	w := l.queue[0]
	l.queue = l.queue[1:]
	w.granted <- l.grantLocked(w.client)
	l.notifyLocked()
}

// release ends lease id at the holder's request.
func (l *leases) release(id string) error {
	le, err := l.lookup(id)
	if err != nil {
		return err
	}
	l.end(le, false)
	return nil
}

// shutdown refuses new leases and ends the current one's timer.
func (l *leases) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.holder != nil {
		l.holder.timer.Stop()
		l.holder.stop()
		l.holder = nil
	}
}

// status describes the holder and the queue.
func (l *leases) status() *boardpb.StatusReply {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	r := &boardpb.StatusReply{Board: l.s.opts.URI, Info: wire.InfoToPB(l.s.info),
		LeasesGranted: l.granted, LeasesExpired: l.expired}
	if h := l.holder; h != nil {
		r.Holder, r.HeldNs, r.ExpiresInNs = h.client, int64(now.Sub(h.granted)), int64(h.expires.Sub(now))
	}
	for _, w := range l.queue {
		r.Queue = append(r.Queue, &boardpb.Waiter{Client: w.client, WaitingNs: int64(now.Sub(w.since))})
	}
	return r
}

// callContext returns the context of le's call seq: le's own, with rpc's
// deadline, already cancelled when the client cancelled seq. done must be
// called when the call ends.
func (l *leases) callContext(le *lease, seq uint64, rpc context.Context) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(le.ctx)
	if d, ok := rpc.Deadline(); ok {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadline(ctx, d)
		prev := cancel
		cancel = func() { c2(); prev() }
	}
	l.mu.Lock()
	le.runSeq, le.runCancel = seq, cancel
	if le.cancelledSeq >= seq {
		cancel()
	}
	l.mu.Unlock()
	return ctx, func() {
		l.mu.Lock()
		le.runCancel = nil
		l.mu.Unlock()
		cancel()
	}
}

// cancel cancels call seq of lease id, running or not yet started.
func (l *leases) cancel(id string, seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.holder
	if le == nil || le.id != id {
		return fmt.Errorf("cancel: no such lease: %w", hal.ErrDisconnected)
	}
	le.cancelledSeq = max(le.cancelledSeq, seq)
	if le.runSeq == seq && le.runCancel != nil {
		le.runCancel()
	}
	return nil
}
