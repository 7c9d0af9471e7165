// Package servetest starts board servers on loopback for tests.
package servetest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/spukit/spukit/remote/server"
)

// Server is a running board server.
type Server struct {
	*server.Server
	Addr string
	GRPC *grpc.Server
	// Written counts the bytes the server wrote to its connections (for
	// the payload efficiency of a benchmark).
	Written *atomic.Int64
}

// countingListener counts the bytes written to the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Start serves o's board on 127.0.0.1 (a free port) with auth a and creds
// (nil for plaintext) until the test ends or Stop is called. Requests are
// logged to nowhere unless o.Logger is set.
func Start(t testing.TB, o server.Options, a server.Auth, creds credentials.TransportCredentials) *Server {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := server.New(context.Background(), o)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := s.NewGRPC(a, creds)
	ts := &Server{Server: s, Addr: lis.Addr().String(), GRPC: g, Written: new(atomic.Int64)}
	go func() { _ = g.Serve(countingListener{lis, ts.Written}) }()
	t.Cleanup(ts.Stop)
	return ts
}

// Stop kills the server at once (open streams fail), as a crash would.
func (s *Server) Stop() {
	s.GRPC.Stop()
	s.Close()
}
