package server

import (
	"context"
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
	key     string // the Acquire's request_id, "" for none
	claimed bool   // an Acquire handler took it to send it (l.mu)
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

// waiter is a client in the queue. Its Acquire handlers (more than one
// when a retry comes before the server noticed the old connection's end)
// wait for ready, closed when lease is set; all fields but client, key and
// since are guarded by l.mu.
type waiter struct {
	client string
	key    string // the Acquire's request_id, "" for none
	since  time.Time
	ready  chan struct{}
	lease  *lease
	moved  chan struct{} // closed and replaced each time positions change
	// attached counts the handlers waiting; with none left a keyed
	// waiter keeps its place for one lease TTL (grace) for a retry.
	attached int
	grace    *time.Timer
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

// grantLocked makes a lease for client; l.mu is held.
func (l *leases) grantLocked(client, key string) *lease {
	ttl := l.s.opts.LeaseTTL
	le := &lease{id: wire.NewID(), client: client, key: key, granted: time.Now(), expires: time.Now().Add(ttl)}
	le.ctx, le.stop = context.WithCancel(context.Background())
	le.timer = time.AfterFunc(ttl, func() { l.expire(le) })
	l.holder = le
	l.granted++
	l.s.opts.Metrics.leaseGranted()
	return le
}

// acquire returns a lease for client, waiting in the queue when wait is
// set; position is called with the client's place each time it changes.
// A retry of an Acquire with request_id key (not empty) gets the lease
// granted to it, or its place in the queue back.
func (l *leases) acquire(ctx context.Context, client, key string, wait bool, position func(int) error) (*lease, error) {
	start := time.Now()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("acquire: the board server is shutting down: %w", hal.ErrClosed)
	}
	// The request id is a secret like a lease id, so it alone names the
	// request: the client's identity includes its address, which changes
	// with the new connection.
	if le := l.holder; key != "" && le != nil && le.key == key {
		le.claimed = true
		l.renewLocked(le)
		l.mu.Unlock()
		return le, nil
	}
	w := l.waiterLocked(key)
	if w == nil && l.holder == nil && !l.resetting && len(l.queue) == 0 {
		le := l.grantLocked(client, key)
		le.claimed = true
		l.mu.Unlock()
		l.s.opts.Metrics.leaseWait(time.Since(start))
		return le, nil
	}
	if w == nil && !wait {
		who := "being reset"
		if l.holder != nil {
			who = "held by " + l.holder.client
		}
		n := len(l.queue)
		l.mu.Unlock()
		return nil, fmt.Errorf("acquire: the board is %s, %d waiting: %w", who, n, hal.ErrBusy)
	}
	if w == nil {
		w = &waiter{client: client, key: key, since: start, ready: make(chan struct{}), moved: make(chan struct{})}
		l.queue = append(l.queue, w)
	}
	w.attached++
	if w.grace != nil {
		w.grace.Stop()
	}
	l.mu.Unlock()
	return l.wait(ctx, w, position)
}

// waiterLocked returns the queued waiter of a retried Acquire, or nil.
func (l *leases) waiterLocked(key string) *waiter {
	if key == "" {
		return nil
	}
	for _, w := range l.queue {
		if w.key == key {
			return w
		}
	}
	return nil
}

// wait waits for w's lease, reporting its position.
func (l *leases) wait(ctx context.Context, w *waiter, position func(int) error) (*lease, error) {
	last := -1
	for {
		l.mu.Lock()
		pos, moved := l.positionLocked(w), w.moved
		l.mu.Unlock()
		if pos != last && pos > 0 {
			last = pos
			if err := position(pos); err != nil {
				l.detach(w)
				return nil, err
			}
		}
		select {
		case <-w.ready:
			l.mu.Lock()
			le := w.lease
			le.claimed = true
			w.attached--
			l.mu.Unlock()
			l.s.opts.Metrics.leaseWait(time.Since(w.since))
			return le, nil
		case <-moved:
		case <-ctx.Done():
			l.detach(w)
			return nil, fmt.Errorf("acquire: %w", ctx.Err())
		}
	}
}

// positionLocked returns w's 1-based place in the queue, 0 when not
// queued; l.mu is held.
func (l *leases) positionLocked(w *waiter) int {
	for i, q := range l.queue {
		if q == w {
			return i + 1
		}
	}
	return 0
}

// detach records that a handler stopped waiting for w. When none is left
// w leaves the queue: at once without a request_id, after one lease TTL
// (unless a retry attaches again) with one.
func (l *leases) detach(w *waiter) {
	l.mu.Lock()
	w.attached--
	if w.attached > 0 {
		l.mu.Unlock()
		return
	}
	if w.key != "" {
		w.grace = time.AfterFunc(l.s.opts.LeaseTTL, func() { l.abandon(w) })
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.abandon(w)
}

// abandon takes w out of the queue unless a handler attached again; a
// lease granted to w that no handler took is ended (the board reset), so
// that a vanished waiter does not hold the board for a whole TTL.
func (l *leases) abandon(w *waiter) {
	l.mu.Lock()
	if w.attached > 0 {
		l.mu.Unlock()
		return
	}
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			l.notifyLocked()
			l.mu.Unlock()
			return
		}
	}
	le := w.lease
	unclaimed := le != nil && !le.claimed
	l.mu.Unlock()
	if unclaimed {
		l.end(le, false)
	}
}

// notifyLocked tells every waiter that positions moved.
func (l *leases) notifyLocked() {
	for _, q := range l.queue {
		close(q.moved)
		q.moved = make(chan struct{})
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
	l.renewLocked(le)
	l.mu.Unlock()
	return nil
}

// renewLocked extends le by the time to live; l.mu is held.
func (l *leases) renewLocked(le *lease) {
	le.expires = time.Now().Add(l.s.opts.LeaseTTL)
	le.timer.Reset(l.s.opts.LeaseTTL)
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
	w.lease = l.grantLocked(w.client, w.key)
	close(w.ready)
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
