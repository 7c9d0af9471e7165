package server

import (
	"context"
	"fmt"
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

// unary runs a board call that returns only an error.
func (s *Server) unary(rpc context.Context, c *boardpb.Call, fn func(ctx context.Context, b hal.Board) error) (*boardpb.Done, error) {
	_, _, err := s.do(rpc, c, func(ctx context.Context, b hal.Board, _ *lease) error { return wire.ToStatus(fn(ctx, b), 0) })
	if err != nil {
		return nil, err
	}
	return &boardpb.Done{}, nil
}

// SetCouplings implements boardpb.BoardServer.
func (s *Server) SetCouplings(ctx context.Context, req *boardpb.SetCouplingsRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error { return b.SetCouplings(ctx, req.GetA()) })
}

// SetFactoredCouplings implements boardpb.BoardServer.
func (s *Server) SetFactoredCouplings(ctx context.Context, req *boardpb.SetFactoredCouplingsRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error {
		fb, ok := b.(hal.Factored)
		if !ok {
			return fmt.Errorf("set factored couplings: %s takes dense couplings only: %w", s.info.Model, hal.ErrUnsupported)
		}
		return fb.SetFactoredCouplings(ctx, wire.FactorizationFromPB(req))
	})
}

// SetBias implements boardpb.BoardServer.
func (s *Server) SetBias(ctx context.Context, req *boardpb.VectorRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error { return b.SetBias(ctx, req.GetV()) })
}

// SetState implements boardpb.BoardServer.
func (s *Server) SetState(ctx context.Context, req *boardpb.VectorRequest) (*boardpb.Done, error) {
	return s.unary(ctx, req.GetCall(), func(ctx context.Context, b hal.Board) error { return b.SetState(ctx, req.GetV()) })
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
// (the board's timing is that of one call, as locally), then the values
// in chunks of whole samples.
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
	var vals []float64
	le, replay, err := s.do(ctx, req.GetCall(), func(ctx context.Context, b hal.Board, le *lease) error {
		dst := make([]float64, int(n)*k)
		got, err := b.Sample(ctx, time.Duration(req.GetPeriodNs()), dst)
		got = max(0, min(got, int(n)))
		vals = dst[:got*k]
		le.lastSample = vals
		s.opts.Metrics.sampled(got, err)
		s.opts.Metrics.observe(b)
		return wire.ToStatus(err, got)
	})
	from := 0
	if replay {
		// The record is this call's while the lease has made no newer
		// call (read under the lock that guards it); a refused call (le
		// nil) streams nothing. The client asks for what it lacks.
		s.boardMu.Lock()
		if le.lastSeq == req.GetCall().GetSeq() {
			vals = le.lastSample
		}
		s.boardMu.Unlock()
		if r := req.GetResumeFrom(); r > 0 && r <= int64(len(vals)/k) {
			from = int(r)
		}
	}
	if serr := s.stream(st, vals, from, req.GetChunkSamples()); serr != nil {
		return serr
	}
	return err
}

// stream sends samples [from, len(vals)/K) of vals in chunks of whole
// samples.
func (s *Server) stream(st boardpb.Board_SampleServer, vals []float64, from int, chunk int64) error {
	k := s.info.Cells
	per := max(1, s.opts.ChunkValues/k)
	if chunk > 0 && chunk < int64(per) {
		per = int(chunk)
	}
	for i := from * k; i < len(vals); i += per * k {
		end := min(len(vals), i+per*k)
		if err := st.Send(&boardpb.SampleChunk{First: int64(i / k), Values: vals[i:end]}); err != nil {
			return err
		}
	}
	return nil
}
