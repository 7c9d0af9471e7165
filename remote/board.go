package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/internal/wire"
)

// Board is a board served by spu serve, held under a lease while open. It
// implements hal.Board and hal.Clock (ok = false when the served board
// keeps no time). Dial returns it wrapped so that the result implements
// hal.Factored, hal.Diagnoser and Temperature() float64 (the method
// calibration.Temperature looks for) exactly when the served board does:
// callers (the solver, the trainer, selftest) choose their path by type
// assertion.
type Board struct {
	addr  string
	conn  *grpc.ClientConn
	c     boardpb.BoardClient
	info  hal.Info
	reply *boardpb.InfoReply
	retry time.Duration

	lease  string
	seq    uint64
	packed bool // the server reads and writes packed arrays (v1.3)

	stopRenew context.CancelFunc
	renewed   sync.WaitGroup

	mu       sync.Mutex // guards lastTime, timeNow, lastTemp and closed (BoardTime and Temperature have no ctx)
	lastTime time.Duration
	timeNow  bool // lastTime is the board time now: the last call's reply carried it (v1.3, simulated boards)
	lastTemp float64
	closed   bool
}

// Dial connects to the board server at addr (HOST:PORT), checks the
// protocol version and the board's Info, and acquires the board. The
// result is a *Board, or wraps one (Unwrap) to add the served board's
// optional capabilities.
func Dial(ctx context.Context, addr string, o Options) (hal.Board, error) {
	conn, minor, err := dial(ctx, addr, &o)
	if err != nil {
		return nil, err
	}
	b := &Board{addr: addr, conn: conn, c: boardpb.NewBoardClient(conn), retry: o.retryFor(), packed: minor >= wire.PackedMinor}
	// Acquire's request id is v1.2: an older server would take a retry
	// for a second client.
	if err := b.open(ctx, &o, minor >= 2); err != nil {
		conn.Close()
		return nil, err
	}
	return b.withCaps(), nil
}

// withCaps returns b wrapped in the type that has exactly the served
// board's optional capabilities: one type per combination, each made of
// the mixins below, because Go decides interface satisfaction by type.
func (b *Board) withCaps() hal.Board {
	r, w := b.reply, wrapped{b}
	f, d, t := factoredCap{b}, diagCap{b}, thermoCap{b}
	switch [3]bool{r.GetFactored(), r.GetDiagnoser(), r.GetThermometer()} {
	case [3]bool{false, false, false}:
		return b
	case [3]bool{true, false, false}:
		return struct {
			wrapped
			factoredCap
		}{w, f}
	case [3]bool{false, true, false}:
		return struct {
			wrapped
			diagCap
		}{w, d}
	case [3]bool{false, false, true}:
		return struct {
			wrapped
			thermoCap
		}{w, t}
	case [3]bool{true, true, false}:
		return struct {
			wrapped
			factoredCap
			diagCap
		}{w, f, d}
	case [3]bool{true, false, true}:
		return struct {
			wrapped
			factoredCap
			thermoCap
		}{w, f, t}
	case [3]bool{false, true, true}:
		return struct {
			wrapped
			diagCap
			thermoCap
		}{w, d, t}
	}
	return struct {
		wrapped
		factoredCap
		diagCap
		thermoCap
	}{w, f, d, t}
}

// wrapped is the hal.Board part of a capability wrapper.
type wrapped struct{ *Board }

// Unwrap returns the client.
func (w wrapped) Unwrap() *Board { return w.Board }

// factoredCap adds hal.Factored.
type factoredCap struct{ b *Board }

// SetFactoredCouplings implements hal.Factored.
func (c factoredCap) SetFactoredCouplings(ctx context.Context, f *hal.Factorization) error {
	return c.b.setFactored(ctx, f)
}

// diagCap adds hal.Diagnoser.
type diagCap struct{ b *Board }

// Diagnose implements hal.Diagnoser.
func (c diagCap) Diagnose(ctx context.Context) ([]hal.Diagnostic, error) { return c.b.diagnose(ctx) }

// thermoCap adds the served board's temperature.
type thermoCap struct{ b *Board }

// Temperature returns the served board's temperature in °C (see
// Board.temperature).
func (c thermoCap) Temperature() float64 { return c.b.temperature() }

// open reads Info and acquires the lease.
func (b *Board) open(ctx context.Context, o *Options, retryAcquire bool) error {
	var r *boardpb.InfoReply
	err := retry(ctx, b.retry, func(ctx context.Context) (err error) {
		r, err = b.c.Info(ctx, &boardpb.InfoRequest{})
		return err
	})
	if err != nil {
		_, err = wire.FromStatus(ctx, "info", err)
		return err
	}
	b.reply, b.info = r, wire.InfoFromPB(r.GetInfo())
	if err := b.info.Validate(); err != nil {
		return fmt.Errorf("board server %s: %w", b.addr, err)
	}
	ttl, err := b.acquire(ctx, o, retryAcquire)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	b.stopRenew = cancel
	b.renewed.Add(1)
	go b.renew(rctx, max(ttl/3, 10*time.Millisecond))
	return nil
}

// acquire takes the lease (b.lease) and returns its time to live, waiting
// in the queue unless o.NoWait. When retryable, a broken connection is
// retried under the same request id for up to b.retry after the last
// message from the server: the server hands over the lease it granted to
// this request, or its place in the queue.
func (b *Board) acquire(ctx context.Context, o *Options, retryable bool) (time.Duration, error) {
	req := &boardpb.AcquireRequest{Client: o.Client, Wait: !o.NoWait}
	if retryable {
		req.RequestId = wire.NewID()
	}
	q := queueWatch{report: o.OnQueue, deadline: time.Now().Add(b.retry), window: b.retry}
	for {
		ttl, err := b.acquireOnce(ctx, req, &q)
		if err == nil {
			return ttl, nil
		}
		if !retryable || !wire.Transient(err) || ctx.Err() != nil || !time.Now().Before(q.deadline) {
			_, err = wire.FromStatus(ctx, "acquire", err)
			return 0, err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// queueWatch follows one Acquire across its retries: it reports each new
// queue position once, and moves the retry deadline at every message.
type queueWatch struct {
	report   func(int)
	last     int
	deadline time.Time
	window   time.Duration
}

// acquireOnce is one Acquire stream: positions, then the lease.
func (b *Board) acquireOnce(ctx context.Context, req *boardpb.AcquireRequest, q *queueWatch) (time.Duration, error) {
	st, err := b.c.Acquire(ctx, req)
	if err != nil {
		return 0, err
	}
	for {
		m, err := st.Recv()
		if err == io.EOF {
			err = status.Error(codes.Unavailable, "the server ended Acquire without a lease")
		}
		if err != nil {
			return 0, err
		}
		q.deadline = time.Now().Add(q.window)
		if m.GetLease() != "" {
			b.lease = m.GetLease()
			return time.Duration(m.GetTtlNs()), nil
		}
		if p := int(m.GetPosition()); p != q.last && q.report != nil {
			q.last = p
			q.report(p)
		}
	}
}

// renew keeps the lease while the board is open.
func (b *Board) renew(ctx context.Context, every time.Duration) {
	defer b.renewed.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A failed renewal is retried at the next tick; a lost lease
			// shows in the next board call's error.
			c, cancel := context.WithTimeout(ctx, every)
			_, _ = b.c.Renew(c, &boardpb.RenewRequest{Lease: b.lease})
			cancel()
		}
	}
}

// Info implements hal.Board.
func (b *Board) Info() hal.Info { return b.info }

// Calibration returns the calibration file the server applies to the
// board, or nil when it serves the raw board.
func (b *Board) Calibration() []byte { return b.reply.GetCalibration() }

// String names the board and its server.
func (b *Board) String() string { return fmt.Sprintf("%s at grpc://%s", b.info.Model, b.addr) }

// check refuses calls on a closed board or with a cancelled ctx.
func (b *Board) check(ctx context.Context, op string) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	return hal.CheckUsable(ctx, op, closed)
}

// next returns the Call of a new board call. The call changes the board
// time: until its reply tells the new one, BoardTime asks the server.
func (b *Board) next() *boardpb.Call {
	b.seq++
	b.mu.Lock()
	b.timeNow = false
	b.mu.Unlock()
	return &boardpb.Call{Lease: b.lease, Seq: b.seq}
}

// clockAfter records the board time a call's reply carries (v1.3: a
// simulated board's, whose clock advances only with the calls): it is
// the board time until the next call.
func (b *Board) clockAfter(ok bool, ns int64) {
	if !ok {
		return
	}
	b.mu.Lock()
	b.lastTime, b.timeNow = time.Duration(ns), true
	b.mu.Unlock()
}

// unary runs rpc, a board call that returns Done, and records the board
// time its reply carries.
func (b *Board) unary(ctx context.Context, op string, c *boardpb.Call, rpc func(ctx context.Context) (*boardpb.Done, error)) error {
	return b.invoke(ctx, op, c, func(ctx context.Context) error {
		d, err := rpc(ctx)
		if err == nil {
			b.clockAfter(d.GetClock(), d.GetBoardTimeNs())
		}
		return err
	})
}

// invoke runs board call c, retrying it with the same sequence number
// (so the server runs it at most once) while the connection fails, for at
// most b.retry. The server runs a call to its end even when the
// connection drops, so a cancelled ctx is sent as an explicit Cancel.
func (b *Board) invoke(ctx context.Context, op string, c *boardpb.Call, call func(ctx context.Context) error) error {
	if err := b.check(ctx, op); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		cctx, cancel := context.WithTimeout(context.Background(), b.retry)
		defer cancel()
		_, _ = b.c.Cancel(cctx, &boardpb.CancelRequest{Call: c})
	})
	defer stop()
	if err := retry(ctx, b.retry, call); err != nil {
		_, err = wire.FromStatus(ctx, op, err)
		return err
	}
	return nil
}

// SetCouplings implements hal.Board.
func (b *Board) SetCouplings(ctx context.Context, a []float64) error {
	req := &boardpb.SetCouplingsRequest{Call: b.next()}
	if b.packed {
		req.APacked = wire.Pack(a)
	} else {
		req.A = a
	}
	return b.unary(ctx, "set couplings", req.Call, func(ctx context.Context) (*boardpb.Done, error) {
		// A dense matrix may exceed the default message limit.
		return b.c.SetCouplings(ctx, req, grpc.MaxCallSendMsgSize(max(64<<20, 8*len(a)+4096)))
	})
}

// setFactored programs factored couplings (hal.Factored).
func (b *Board) setFactored(ctx context.Context, f *hal.Factorization) error {
	if f == nil {
		return fmt.Errorf("set factored couplings: nil factorization: %w", hal.ErrInvalid)
	}
	req := wire.FactorizationToPB(b.next(), f, b.packed)
	return b.unary(ctx, "set factored couplings", req.Call, func(ctx context.Context) (*boardpb.Done, error) {
		return b.c.SetFactoredCouplings(ctx, req)
	})
}

// SetBias implements hal.Board.
func (b *Board) SetBias(ctx context.Context, v []float64) error {
	return b.setVector(ctx, "set bias", v, b.c.SetBias)
}

// SetState implements hal.Board.
func (b *Board) SetState(ctx context.Context, x []float64) error {
	return b.setVector(ctx, "set state", x, b.c.SetState)
}

// setVector runs a board call that sends one vector (SetBias, SetState).
func (b *Board) setVector(ctx context.Context, op string, v []float64,
	rpc func(context.Context, *boardpb.VectorRequest, ...grpc.CallOption) (*boardpb.Done, error)) error {
	req := wire.VectorToPB(b.next(), v, b.packed)
	return b.unary(ctx, op, req.Call, func(ctx context.Context) (*boardpb.Done, error) { return rpc(ctx, req) })
}

// Run implements hal.Board.
func (b *Board) Run(ctx context.Context, d time.Duration) error {
	req := &boardpb.RunRequest{Call: b.next(), DurationNs: int64(d)}
	return b.unary(ctx, "run", req.Call, func(ctx context.Context) (*boardpb.Done, error) { return b.c.Run(ctx, req) })
}

// Sample implements hal.Board. The server takes every sample in one board
// call and streams them; dst is filled as the chunks arrive.
func (b *Board) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	k := b.info.Cells
	if len(dst) == 0 || len(dst)%k != 0 {
		if err := b.check(ctx, "sample"); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("sample: len(dst) = %d, want a positive multiple of %d cells: %w", len(dst), k, hal.ErrDimension)
	}
	req := &boardpb.SampleRequest{Call: b.next(), PeriodNs: int64(period), Samples: int64(len(dst) / k), Packed: b.packed}
	got := 0
	err := b.invoke(ctx, "sample", req.Call, func(ctx context.Context) error {
		req.ResumeFrom = int64(got) // a retry asks only for what is missing
		st, err := b.c.Sample(ctx, req)
		if err != nil {
			return err
		}
		for {
			m, err := st.Recv()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			n, err := chunkInto(dst, k, got, m)
			if err != nil {
				return err
			}
			got = max(got, n)
			b.clockAfter(m.GetClock(), m.GetBoardTimeNs())
		}
	})
	// got counts the samples that arrived: all of them with a saturation
	// error, those streamed before a cancellation.
	return got, err
}

// chunkInto copies chunk m of a Sample call into dst (samples of k cells)
// and returns the number of samples received so far, got before it.
// Chunks come in order (a retry's from resume_from): got counts the
// samples [0, got) that arrived, with no gap.
func chunkInto(dst []float64, k, got int, m *boardpb.SampleChunk) (int, error) {
	first, v, p := int(m.GetFirst()), m.GetValues(), m.GetValuesPacked()
	n := len(v)
	if len(p) > 0 {
		n = len(p) / 8
		if len(v) > 0 || len(p)%8 != 0 {
			n = -1 // malformed: refused below
		}
	}
	if first < 0 || first > got || n < 0 || n%k != 0 || n > len(dst)-first*k {
		return 0, status.Errorf(codes.Internal, "server sent %d values (%d packed bytes) at sample %d for %d samples, %d received",
			len(v), len(p), first, len(dst)/k, got)
	}
	if len(p) > 0 {
		_ = wire.Unpack(dst[first*k:], p) // whole values that fit, checked above
	} else {
		copy(dst[first*k:], v)
	}
	return first + n/k, nil
}

// BoardTime implements hal.Clock: the served board's board time — the one
// the last call's reply carried when it did (a simulated board's, v1.3),
// else asked. A call that fails (the server is gone) returns the last time
// read, so that ok stays the same for the life of the board.
func (b *Board) BoardTime() (time.Duration, bool) {
	if !b.reply.GetClock() {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.timeNow {
		return b.lastTime, true
	}
	b.lastTime, _ = b.boardTimeLocked()
	return b.lastTime, true
}

// diagnose runs the served board's checks (hal.Diagnoser).
func (b *Board) diagnose(ctx context.Context) ([]hal.Diagnostic, error) {
	req := &boardpb.DiagnoseRequest{Call: b.next()}
	var out []hal.Diagnostic
	err := b.invoke(ctx, "diagnose", req.Call, func(ctx context.Context) error {
		r, err := b.c.Diagnose(ctx, req)
		out = wire.DiagnosticsFromPB(r)
		return err
	})
	return out, err
}

// Close implements hal.Board: it releases the lease (the server resets the
// board) and closes the connection.
func (b *Board) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	// Read before the lease ends, so both keep answering afterwards.
	b.lastTime, _ = b.boardTimeLocked()
	b.lastTemp = b.temperatureLocked()
	b.closed = true
	b.mu.Unlock()
	b.stopRenew()
	b.renewed.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), b.retry+time.Second)
	defer cancel()
	// A repeated Release finds no lease, which is what it wanted.
	rerr := retry(ctx, b.retry, func(ctx context.Context) error {
		_, err := b.c.Release(ctx, &boardpb.ReleaseRequest{Lease: b.lease})
		return err
	})
	cerr := b.conn.Close()
	if rerr != nil {
		// A lease the server already ended (expired, or the server is
		// gone) leaves nothing to release.
		if _, rerr = wire.FromStatus(ctx, "close: release the lease", rerr); !errors.Is(rerr, hal.ErrDisconnected) {
			return rerr
		}
	}
	return cerr
}

// boardTimeLocked reads the board time (or returns the last one read
// when the server does not answer); b.mu is held.
func (b *Board) boardTimeLocked() (time.Duration, bool) {
	if !b.reply.GetClock() {
		return 0, false
	}
	r, err := readOnly(b, func(ctx context.Context) (*boardpb.BoardTimeReply, error) {
		return b.c.BoardTime(ctx, &boardpb.BoardTimeRequest{Call: &boardpb.Call{Lease: b.lease}})
	})
	if err == nil && r.GetOk() {
		return time.Duration(r.GetNs()), true
	}
	return b.lastTime, true
}

// temperature returns the served board's temperature in °C, or the last
// one read when the server does not answer (or the board is closed):
// Temperature() has no error to report it with.
func (b *Board) temperature() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.lastTemp = b.temperatureLocked()
	}
	return b.lastTemp
}

// temperatureLocked reads the temperature; b.mu is held.
func (b *Board) temperatureLocked() float64 {
	if !b.reply.GetThermometer() {
		return b.lastTemp
	}
	r, err := readOnly(b, func(ctx context.Context) (*boardpb.TemperatureReply, error) {
		return b.c.Temperature(ctx, &boardpb.TemperatureRequest{Call: &boardpb.Call{Lease: b.lease}})
	})
	if err == nil && r.GetOk() {
		return r.GetCelsius()
	}
	return b.lastTemp
}

// readOnly runs a call that reads and changes nothing (BoardTime,
// Temperature): retried freely while the connection fails, for at most
// b.retry plus a second.
func readOnly[R any](b *Board, call func(ctx context.Context) (R, error)) (R, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.retry+time.Second)
	defer cancel()
	var r R
	err := retry(ctx, b.retry+time.Second, func(ctx context.Context) (err error) {
		r, err = call(ctx)
		return err
	})
	return r, err
}
