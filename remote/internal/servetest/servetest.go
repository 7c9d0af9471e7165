// Package servetest starts board servers on loopback for tests.
package servetest

import (
	"context"
	"io"
	"log/slog"
	"net"
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
	go func() { _ = g.Serve(lis) }()
	ts := &Server{Server: s, Addr: lis.Addr().String(), GRPC: g}
	t.Cleanup(ts.Stop)
	return ts
}

// Stop kills the server at once (open streams fail), as a crash would.
func (s *Server) Stop() {
	s.GRPC.Stop()
	s.Close()
}
