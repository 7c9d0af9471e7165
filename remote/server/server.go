// Package server serves one hal.Board over gRPC (protocol spukit.board.v1,
// package boardpb) to the clients of package remote, one lease holder at a
// time: spu serve is a command-line front end to it.
//
// The board is opened from its URI when the server starts and opened
// again after every lease (Close, then hal.Open): every holder starts from
// hal.Open's neutral state A = I, b = 0, and a seeded simulator from its
// seed, so results through the server are bit-identical to opening the
// board locally. Real hardware is left safe by its driver's Close.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/internal/wire"
	"github.com/spukit/spukit/remote/metapb"
)

// Defaults of Options.
const (
	DefaultLeaseTTL        = 10 * time.Second
	DefaultMaxSampleValues = 1 << 25 // 256 MiB of float64 per Sample call (Options.MaxSampleValues)
	DefaultChunkValues     = 1 << 17 // 1 MiB per stream message
	// DefaultMaxMessage bounds a request's size in bytes.
	DefaultMaxMessage = 64 << 20
	// MaxStreams bounds the concurrent requests of one connection.
	MaxStreams = 16
	// KeepaliveMinTime is the shortest interval between a client's pings
	// the server accepts; KeepaliveTime and KeepaliveTimeout are the
	// server's own pings of a silent connection.
	KeepaliveMinTime = 10 * time.Second
	KeepaliveTime    = time.Minute
	KeepaliveTimeout = 20 * time.Second
)

// Options configure a Server. URI is required.
type Options struct {
	// URI names the board (hal.Open).
	URI string
	// Open opens the board; nil means hal.Open(ctx, URI). Tests use it to
	// serve a board they built.
	Open func(ctx context.Context) (hal.Board, error)
	// LeaseTTL is how long a lease lasts without a renewal (default
	// DefaultLeaseTTL): a client that vanishes loses the board after at
	// most this long.
	LeaseTTL time.Duration
	// MaxSampleValues bounds samples × cells of one Sample call (default
	// DefaultMaxSampleValues): the server holds them all at once, and
	// keeps them as the record a retried call is answered from.
	MaxSampleValues int
	// ChunkValues is the number of values per streamed Sample message
	// (default DefaultChunkValues; rounded down to whole samples).
	ChunkValues int
	// Calibration is the calibration file the served board applies, sent
	// to clients with Info; nil for a raw board.
	Calibration []byte
	// Logger receives one record per request; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when not nil, counts requests, samples and lease waits.
	Metrics *Metrics
	// Name is the server's free-text name in Version replies.
	Name string
}

// Server serves one board. Its methods are the gRPC handlers.
type Server struct {
	boardpb.UnimplementedBoardServer
	metapb.UnimplementedMetaServer

	opts Options
	info hal.Info
	caps caps
	log  *slog.Logger

	// boardMu serialises board calls (a Board is not safe for concurrent
	// use) and the reset between leases.
	boardMu  sync.Mutex
	board    hal.Board // nil after a reopen failed
	boardErr error     // why board is nil

	leases leases
}

// New opens the board and returns a server for it.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Open == nil {
		if o.URI == "" {
			return nil, fmt.Errorf("board server: no board URI: %w", hal.ErrInvalid)
		}
		uri := o.URI
		o.Open = func(ctx context.Context) (hal.Board, error) { return hal.Open(ctx, uri) }
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.MaxSampleValues <= 0 {
		o.MaxSampleValues = DefaultMaxSampleValues
	}
	if o.ChunkValues <= 0 {
		o.ChunkValues = DefaultChunkValues
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	b, err := o.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("board server: %w", err)
	}
	s := &Server{opts: o, info: b.Info(), caps: capsOf(b), log: o.Logger, board: b}
	s.leases.init(s)
	return s, nil
}

// caps are the served board's optional capabilities, told to clients with
// Info. They are read once from the first opening: every reopening
// between leases makes a board of the same type.
type caps struct{ clock, factored, diagnoser, thermometer bool }

func capsOf(b hal.Board) caps {
	var c caps
	_, c.clock = b.(hal.Clock)
	_, c.factored = b.(hal.Factored)
	_, c.diagnoser = b.(hal.Diagnoser)
	_, c.thermometer = calibration.Temperature(b)
	return c
}

// BoardInfo returns the served board's description.
func (s *Server) BoardInfo() hal.Info { return s.info }

// Register registers the Board and Meta services on g.
func (s *Server) Register(g *grpc.Server) {
	boardpb.RegisterBoardServer(g, s)
	metapb.RegisterMetaServer(g, s)
}

// Close ends every lease and closes the board.
func (s *Server) Close() error {
	s.leases.shutdown()
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	if s.board == nil {
		return nil
	}
	err := s.board.Close()
	s.board, s.boardErr = nil, fmt.Errorf("board server shut down: %w", hal.ErrClosed)
	return err
}

// reset returns the board to hal.Open's neutral state between leases by
// closing it and opening it again (see the package doc).
func (s *Server) reset() {
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	if s.board != nil {
		if err := s.board.Close(); err != nil {
			s.log.Warn("closing the board between leases", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := s.opts.Open(ctx)
	if err != nil {
		s.board, s.boardErr = nil, fmt.Errorf("reopening the board after the last lease: %v: %w", err, hal.ErrDisconnected)
		s.log.Error("reopening the board between leases", "err", err)
		return
	}
	s.board, s.boardErr = b, nil
}

// ensureBoard opens the board again when the last reopening failed (a
// board unplugged between leases and plugged back); boardMu is held.
func (s *Server) ensureBoard(ctx context.Context) error {
	if s.board != nil {
		return nil
	}
	b, err := s.opts.Open(ctx)
	if err != nil {
		return fmt.Errorf("%w (and again now: %v)", s.boardErr, err)
	}
	s.board, s.boardErr = b, nil
	return nil
}

// Version implements metapb.MetaServer.
func (s *Server) Version(_ context.Context, _ *metapb.VersionRequest) (*metapb.VersionReply, error) {
	return &metapb.VersionReply{Major: wire.Major, Minor: wire.Minor, Server: s.opts.Name}, nil
}

// NewGRPC returns a gRPC server with s registered: every request
// authenticated by a and logged, messages bounded by DefaultMaxMessage
// (and the board's largest dense matrix), and creds (nil for plaintext,
// which the caller allows only on loopback).
func (s *Server) NewGRPC(a Auth, creds credentials.TransportCredentials) *grpc.Server {
	k := int64(s.info.Cells)
	maxMsg := int64(DefaultMaxMessage)
	// A dense K × K matrix must fit, up to 1 GiB (an int on 32-bit ARM).
	if need := k*k*8 + 4096; need > maxMsg && need <= 1<<30 {
		maxMsg = need
	}
	opts := append(Interceptors(a, s.log, s.opts.Metrics),
		grpc.MaxRecvMsgSize(int(maxMsg)), grpc.MaxSendMsgSize(DefaultMaxMessage),
		// A client needs a few streams at once (a call, a renewal, a
		// cancel); more from one connection only load the server.
		grpc.MaxConcurrentStreams(MaxStreams),
		// Clients may ping to keep a long wait in the queue alive, but
		// not more often than KeepaliveMinTime (a flood is answered with
		// GOAWAY); the server pings a connection silent for
		// KeepaliveTime and drops it when no answer comes within
		// KeepaliveTimeout, so a vanished client's streams end.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout}))
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	g := grpc.NewServer(opts...)
	s.Register(g)
	return g
}
