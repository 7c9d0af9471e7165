package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/internal/wire"
)

// Info implements boardpb.BoardServer.
func (s *Server) Info(context.Context, *boardpb.InfoRequest) (*boardpb.InfoReply, error) {
	c := s.caps
	return &boardpb.InfoReply{Info: wire.InfoToPB(s.info), Calibration: s.opts.Calibration,
		MaxSampleValues: int64(s.opts.MaxSampleValues),
		Clock:           c.clock, Factored: c.factored, Diagnoser: c.diagnoser, Thermometer: c.thermometer}, nil
}

// Status implements boardpb.BoardServer.
func (s *Server) Status(context.Context, *boardpb.StatusRequest) (*boardpb.StatusReply, error) {
	return s.leases.status(), nil
}

// maxRequestID bounds AcquireRequest.request_id, kept by the server.
const maxRequestID = 64

// Acquire implements boardpb.BoardServer.
func (s *Server) Acquire(req *boardpb.AcquireRequest, st boardpb.Board_AcquireServer) error {
	ctx := st.Context()
	client := identity(ctx)
	if n := req.GetClient(); n != "" {
		client += " (" + truncate(n, 80) + ")"
	}
	key := req.GetRequestId()
	if len(key) > maxRequestID {
		return wire.ToStatus(fmt.Errorf("acquire: request id of %d bytes, want at most %d: %w", len(key), maxRequestID, hal.ErrInvalid), 0)
	}
	le, err := s.leases.acquire(ctx, client, key, req.GetWait(), func(pos int) error {
		return st.Send(&boardpb.AcquireReply{Position: uint32(pos)})
	})
	if err != nil {
		return wire.ToStatus(err, 0)
	}
	if err := st.Send(&boardpb.AcquireReply{Lease: le.id, TtlNs: int64(s.opts.LeaseTTL)}); err != nil {
		// The client is gone before it learnt its lease: give it back,
		// unless a retry with the same request id may still take it (if
		// none comes, the lease expires unrenewed after one TTL).
		if key == "" {
			s.leases.end(le, false)
		}
		return err
	}
	return nil
}

// truncate bounds a client-chosen string kept by the server.
func truncate(v string, n int) string {
	if len(v) > n {
		return v[:n]
	}
	return v
}

// Renew implements boardpb.BoardServer.
func (s *Server) Renew(_ context.Context, req *boardpb.RenewRequest) (*boardpb.RenewReply, error) {
	if err := s.leases.renew(req.GetLease()); err != nil {
		return nil, wire.ToStatus(err, 0)
	}
	return &boardpb.RenewReply{TtlNs: int64(s.opts.LeaseTTL)}, nil
}

// Release implements boardpb.BoardServer.
func (s *Server) Release(_ context.Context, req *boardpb.ReleaseRequest) (*boardpb.ReleaseReply, error) {
	if err := s.leases.release(req.GetLease()); err != nil {
		return nil, wire.ToStatus(err, 0)
	}
	return &boardpb.ReleaseReply{}, nil
}

// do runs fn on the board under call c's lease, at most once per sequence
// number: a repeated call gets the recorded result. fn runs with boardMu
// held, under the lease's context with rpc's deadline (see lease.ctx).
func (s *Server) do(rpc context.Context, c *boardpb.Call, fn func(ctx context.Context, b hal.Board, le *lease) error) (*lease, bool, error) {
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	le, err := s.leases.lookup(c.GetLease())
	if err != nil {
		return nil, false, wire.ToStatus(err, 0)
	}
	seq := c.GetSeq()
	switch {
	case seq == 0:
		return nil, false, status.Error(codes.InvalidArgument, "call sequence number 0: number calls 1, 2, … within a lease")
	case seq == le.lastSeq:
		return le, true, le.lastErr
	case seq < le.lastSeq:
		return nil, false, status.Errorf(codes.FailedPrecondition, "call %d is older than the last call %d of this lease", seq, le.lastSeq)
	}
	le.lastSeq, le.lastSample, le.lastDiag = seq, nil, nil
	ctx, done := s.leases.callContext(le, seq, rpc)
	if err = s.ensureBoard(ctx); err != nil {
		err = wire.ToStatus(err, 0)
	} else {
		err = fn(ctx, s.board, le)
	}
	done()
	le.lastErr = err
	return le, false, err
}

// unary runs a board call that returns only an error. Its reply carries
// the board time after the call where the board's clock advances only
// with its operations (see clockAfter); a replayed call's does not.
func (s *Server) unary(rpc context.Context, c *boardpb.Call, fn func(ctx context.Context, b hal.Board) error) (*boardpb.Done, error) {
	done := &boardpb.Done{}
	_, _, err := s.do(rpc, c, func(ctx context.Context, b hal.Board, _ *lease) error {
		err := fn(ctx, b)
		done.Clock, done.BoardTimeNs = s.clockAfter(b)
		return wire.ToStatus(err, 0)
	})
	if err != nil {
		return nil, err
	}
	return done, nil
}

// clockAfter returns the board time to send with a call's reply (v1.3):
// only for a simulated board, whose clock advances with its own
// operations alone, so that the time after the call is its time until
// the holder's next call. A hardware board's clock runs on its own (and
// may cost a round trip to read): the client asks for it.
func (s *Server) clockAfter(b hal.Board) (bool, int64) {
	if !s.info.Caps.Has(hal.CapSimulated) {
		return false, 0
	}
	d, ok := hal.BoardTime(b)
	return ok, int64(d)
}

// SetCouplings implements boardpb.BoardServer.
func (s *Server) SetCouplings(ctx context.Context, req *boardpb.SetCouplingsRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error {
		a, err := wire.Floats("set couplings", req.GetA(), req.GetAPacked())
		if err != nil {
			return err
		}
		return b.SetCouplings(ctx, a)
	})
}

// SetFactoredCouplings implements boardpb.BoardServer.
func (s *Server) SetFactoredCouplings(ctx context.Context, req *boardpb.SetFactoredCouplingsRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error {
		fb, ok := b.(hal.Factored)
		if !ok {
			return fmt.Errorf("set factored couplings: %s takes dense couplings only: %w", s.info.Model, hal.ErrUnsupported)
		}
		f, err := wire.FactorizationFromPB(req)
		if err != nil {
			return err
		}
		return fb.SetFactoredCouplings(ctx, f)
	})
}

// SetBias implements boardpb.BoardServer.
func (s *Server) SetBias(ctx context.Context, req *boardpb.VectorRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error {
		v, err := wire.VectorFromPB("set bias", req, s.info.Cells)
		if err != nil {
			return err
		}
		return b.SetBias(ctx, v)
	})
}

// SetState implements boardpb.BoardServer.
func (s *Server) SetState(ctx context.Context, req *boardpb.VectorRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error {
		v, err := wire.VectorFromPB("set state", req, s.info.Cells)
		if err != nil {
			return err
		}
		return b.SetState(ctx, v)
	})
}

// Run implements boardpb.BoardServer.
func (s *Server) Run(ctx context.Context, req *boardpb.RunRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error { return b.Run(ctx, time.Duration(req.GetDurationNs())) })
}

// BoardTime implements boardpb.BoardServer. It reads and changes nothing,
// so it needs no sequence number.
func (s *Server) BoardTime(ctx context.Context, req *boardpb.BoardTimeRequest) (*boardpb.BoardTimeReply, error) {
	var r *boardpb.BoardTimeReply
	err := s.read(ctx, req.GetCall(), func(b hal.Board) {
		d, ok := hal.BoardTime(b)
		r = &boardpb.BoardTimeReply{Ns: int64(d), Ok: ok}
	})
	return r, err
}

// Temperature implements boardpb.BoardServer, like BoardTime.
func (s *Server) Temperature(ctx context.Context, req *boardpb.TemperatureRequest) (*boardpb.TemperatureReply, error) {
	var r *boardpb.TemperatureReply
	err := s.read(ctx, req.GetCall(), func(b hal.Board) {
		t, ok := calibration.Temperature(b)
		r = &boardpb.TemperatureReply{Celsius: t, Ok: ok}
	})
	return r, err
}

// read runs fn, which only reads the board, for call c's lease holder
// (any sequence number), and updates the board's metrics.
func (s *Server) read(ctx context.Context, c *boardpb.Call, fn func(b hal.Board)) error {
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	if _, err := s.leases.lookup(c.GetLease()); err != nil {
		return wire.ToStatus(err, 0)
	}
	if err := s.ensureBoard(ctx); err != nil {
		return wire.ToStatus(err, 0)
	}
	fn(s.board)
	s.opts.Metrics.observe(s.board)
	return nil
}

// Cancel implements boardpb.BoardServer.
func (s *Server) Cancel(_ context.Context, req *boardpb.CancelRequest) (*boardpb.Done, error) {
	if err := s.leases.cancel(req.GetCall().GetLease(), req.GetCall().GetSeq()); err != nil {
		return nil, wire.ToStatus(err, 0)
	}
	return &boardpb.Done{}, nil
}

// Diagnose implements boardpb.BoardServer.
func (s *Server) Diagnose(ctx context.Context, req *boardpb.DiagnoseRequest) (*boardpb.DiagnoseReply, error) {
	le, _, err := s.do(ctx, req.GetCall(), func(ctx context.Context, b hal.Board, le *lease) error {
		d, ok := b.(hal.Diagnoser)
		if !ok {
			return wire.ToStatus(fmt.Errorf("diagnose: %s has no driver checks: %w", s.info.Model, hal.ErrUnsupported), 0)
		}
		ds, err := d.Diagnose(ctx)
		if err != nil {
			return wire.ToStatus(err, 0)
		}
		le.lastDiag = wire.DiagnosticsToPB(ds)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return le.lastDiag, nil
}

// Sample implements boardpb.BoardServer: one board call for all samples
// (the board's timing is that of one call, as locally), streamed in chunks
// of whole samples — while the call runs when the board reports its
// progress (hal.Streamer), after it otherwise.
func (s *Server) Sample(req *boardpb.SampleRequest, st boardpb.Board_SampleServer) error {
	ctx := st.Context()
	k := s.info.Cells
	n := req.GetSamples()
	// Checked before anything is allocated: n comes from the network.
	if n <= 0 || n > int64(s.opts.MaxSampleValues/k) {
		err := fmt.Errorf("sample: %d samples of %d cells: want 1 … %d samples per call (the server's limit of %d values): %w",
			n, k, s.opts.MaxSampleValues/k, s.opts.MaxSampleValues, hal.ErrDimension)
		return wire.ToStatus(err, 0)
	}
	out := chunker{k: k, per: s.chunkSamples(req.GetChunkSamples()), packed: req.GetPacked()}
	var sent chan error // the stream of a call run now, ended by its sender
	le, replay, err := s.do(ctx, req.GetCall(), func(ctx context.Context, b hal.Board, le *lease) error {
		dst := make([]float64, int(n)*k)
		f := newFeed()
		sent = make(chan error, 1)
		go func() { sent <- out.send(st, dst, 0, f) }()
		var got int
		var err error
		if sb, ok := b.(hal.Streamer); ok {
			got, err = sb.SampleStream(ctx, time.Duration(req.GetPeriodNs()), dst, func(n int) { f.set(n, false) })
		} else {
			got, err = b.Sample(ctx, time.Duration(req.GetPeriodNs()), dst)
		}
		got = max(0, min(got, int(n)))
		clock, t := s.clockAfter(b)
		f.finish(got, clock, t)
		le.lastSample = dst[:got*k]
		s.opts.Metrics.sampled(got, err)
		s.opts.Metrics.observe(b)
		return wire.ToStatus(err, got)
	})
	switch {
	case sent != nil:
		// The call ran: its samples are streaming (the board call goes
		// on to its end when the client is gone, for a retry's sake).
		if serr := <-sent; serr != nil {
			return serr
		}
	case replay:
		// The record is this call's while the lease has made no newer
		// call (read under the lock that guards it); a refused call (le
		// nil) streams nothing. The client asks for what it lacks.
		f := newFeed()
		s.boardMu.Lock()
		var vals []float64
		if le.lastSeq == req.GetCall().GetSeq() {
			vals = le.lastSample
		}
		clock, t := false, int64(0)
		if s.board != nil {
			clock, t = s.clockAfter(s.board)
		}
		f.finish(len(vals)/k, clock, t)
		s.boardMu.Unlock()
		from := 0
		if r := req.GetResumeFrom(); r > 0 && r <= int64(len(vals)/k) {
			from = int(r)
		}
		if serr := out.send(st, vals, from, f); serr != nil {
			return serr
		}
	}
	return err
}

// chunkSamples returns the samples per streamed message: the server's
// ChunkValues, or fewer when the client asks.
func (s *Server) chunkSamples(asked int64) int {
	per := max(1, s.opts.ChunkValues/s.info.Cells)
	if asked > 0 && asked < int64(per) {
		per = int(asked)
	}
	return per
}

// feed tells a sender how many leading samples of its buffer are final
// and whether that is all of them. The board reports progress every few
// samples; the sender is woken only when the samples it waits for (a whole
// chunk, or the end) are there: a wake-up per report cost a goroutine
// hand-off (a futex call on an idle core) every 64 samples.
type feed struct {
	mu   sync.Mutex
	n    int
	done bool
	want int           // wake the sender when n reaches want
	wake chan struct{} // signalled (non-blocking) when n reaches want or done

	// The board time after the call (clockAfter), set with done.
	clock  bool
	timeNs int64
}

func newFeed() *feed { return &feed{wake: make(chan struct{}, 1)} }

// set records that samples [0, n) are final, and the last when done.
func (f *feed) set(n int, done bool) {
	f.mu.Lock()
	f.n, f.done = n, done
	ready := done || n >= f.want
	f.mu.Unlock()
	if !ready {
		return
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// finish records that the call ended with n samples, and the board time
// after it.
func (f *feed) finish(n int, clock bool, timeNs int64) {
	f.mu.Lock()
	f.clock, f.timeNs = clock, timeNs
	f.mu.Unlock()
	f.set(n, true)
}

// get returns the final count and whether it is all, and asks to be woken
// when want samples are final (or at the end).
func (f *feed) get(want int) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.want = want
	return f.n, f.done
}

// chunker cuts a Sample call's values into stream messages of per samples
// of k cells (a shorter one only at the end), packed (v1.3) or not.
type chunker struct {
	k, per int
	packed bool
}

// send streams samples [from, …) of vals as f makes them final. vals is
// read only below f's count, which the board no longer writes, and not
// changed afterwards (a packed chunk is a view of it). The last message
// carries the board time after the call when f has it; when every sample
// went before the call ended, a v1.3 client (one that asked for packed
// values) gets an empty last message for it.
func (c chunker) send(st boardpb.Board_SampleServer, vals []float64, from int, f *feed) error {
	next := from
	for {
		n, done := f.get(next + c.per)
		last := done && next == n
		for n-next >= c.per || done && next < n {
			end := min(n, next+c.per)
			m := &boardpb.SampleChunk{First: int64(next)}
			if v := vals[next*c.k : end*c.k]; c.packed {
				m.ValuesPacked = wire.Pack(v)
			} else {
				m.Values = v
			}
			if done && end == n {
				m.Clock, m.BoardTimeNs = f.clock, f.timeNs
			}
			if err := st.Send(m); err != nil {
				return err
			}
			next = end
		}
		if last && f.clock && c.packed {
			return st.Send(&boardpb.SampleChunk{First: int64(next), Clock: true, BoardTimeNs: f.timeNs})
		}
		if done {
			return nil
		}
		<-f.wake
	}
}
