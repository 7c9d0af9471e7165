// Package remote is the client of a board served over the network by spu
// serve (package remote/server): it registers hal's "grpc" scheme, so that
// every command runs unchanged against a remote board:
//
//	import _ "github.com/spukit/spukit/remote" // registers grpc:
//	b, err := hal.Open(ctx, "grpc://pi.lab:7700?ca=ca.pem&token_file=token")
//
// Opening a board acquires its lease, waiting in the server's FIFO queue
// (or failing at once with hal.ErrBusy with wait=0); the lease is renewed
// in the background while the board is open and released by Close. Every
// call carries a sequence number, so a call retried after a lost reply is
// not executed twice. Errors come back as the server's, matching the same
// hal sentinels, *hal.RangeError and *hal.SaturationError; a server that
// cannot be reached is hal.ErrDisconnected. See docs/server.md.
package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/internal/wire"
	"github.com/spukit/spukit/remote/metapb"
)

// ErrUnauthenticated is returned when the server refuses the client's
// credentials (a missing or wrong token or client certificate).
var ErrUnauthenticated = wire.ErrUnauthenticated

// Options configure a connection. The zero value connects without TLS to
// a loopback address and waits for the board.
type Options struct {
	// TLS, when not nil, is used as it is (CAFile, CertFile and KeyFile are
	// then ignored).
	TLS *tls.Config
	// CAFile verifies the server's certificate (PEM); empty means the
	// system's roots.
	CAFile string
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile, KeyFile string
	// Plaintext connects without TLS: allowed only to a loopback address.
	// Open's default is plaintext to a loopback address with no TLS files
	// given, TLS otherwise.
	Plaintext bool
	// Token is the bearer token, or TokenFile the file holding it.
	Token, TokenFile string
	// NoWait fails at once with hal.ErrBusy when another client holds
	// the board, instead of waiting in the queue.
	NoWait bool
	// Client names this client in the server's status and logs.
	Client string
	// OnQueue, when set, is called with the client's queue position each
	// time it changes while it waits for the board.
	OnQueue func(position int)
	// RetryFor bounds how long a call is retried after a connection
	// failure before it returns hal.ErrDisconnected (default 500 ms).
	RetryFor time.Duration
	// MaxMessage bounds the size of a message in bytes (default 64 MiB).
	MaxMessage int
}

// isLoopback reports whether host names this machine: "localhost" or a
// loopback IP address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// transport returns the transport credentials for addr.
func (o *Options) transport(addr string) (credentials.TransportCredentials, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %v (want HOST:PORT): %w", addr, err, hal.ErrInvalid)
	}
	if o.Plaintext {
		if !isLoopback(host) {
			return nil, fmt.Errorf("plaintext to %s refused: only a loopback address may be reached without TLS (give the server's CA with ca=FILE): %w", host, hal.ErrInvalid)
		}
		return insecure.NewCredentials(), nil
	}
	if o.TLS != nil {
		return credentials.NewTLS(o.TLS), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: host}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("server CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server CA %s: no PEM certificate in it", o.CAFile)
		}
	}
	if o.CertFile != "" || o.KeyFile != "" {
		c, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return credentials.NewTLS(cfg), nil
}

// tokenCreds sends the bearer token with every call.
type tokenCreds struct {
	token  string
	secure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (t tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + t.token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: a
// token may travel in clear only over loopback (checked in transport).
func (t tokenCreds) RequireTransportSecurity() bool { return t.secure }

// retryFor returns RetryFor or its default.
func (o *Options) retryFor() time.Duration {
	if o.RetryFor > 0 {
		return o.RetryFor
	}
	return 500 * time.Millisecond
}

// retry calls fn until it succeeds, fails otherwise than with a broken
// connection (wire.Transient), ctx ends, or window has passed: for calls that
// may safely run twice (they change nothing, or the server recognises the
// repeat).
func retry(ctx context.Context, window time.Duration, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(window)
	for {
		err := fn(ctx)
		if !wire.Transient(err) || ctx.Err() != nil || !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// dial connects to addr and checks the protocol version; it returns the
// server's minor version.
func dial(ctx context.Context, addr string, o *Options) (*grpc.ClientConn, uint32, error) {
	tc, err := o.transport(addr)
	if err != nil {
		return nil, 0, err
	}
	maxMsg := o.MaxMessage
	if maxMsg <= 0 {
		maxMsg = 64 << 20
	}
	// Reconnect quickly after a dropped connection: a retried call waits
	// for it (Options.RetryFor), not gRPC's default 1 s first backoff.
	bo := backoff.DefaultConfig
	bo.BaseDelay, bo.MaxDelay = 20*time.Millisecond, time.Second
	dopts := []grpc.DialOption{grpc.WithTransportCredentials(tc),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: time.Second}),
		// Ping a silent connection (a long wait in the queue) so that a
		// dead server or link is noticed; no more often than the
		// server's enforcement policy allows (server.KeepaliveMinTime).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg))}
	tok := o.Token
	if o.TokenFile != "" {
		raw, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return nil, 0, fmt.Errorf("token: %w", err)
		}
		tok = strings.TrimSpace(string(raw))
	}
	if tok != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(tokenCreds{token: tok, secure: !o.Plaintext}))
	}
	conn, err := grpc.NewClient(addr, dopts...)
	if err != nil {
		return nil, 0, fmt.Errorf("connect %s: %w", addr, err)
	}
	minor, err := checkVersion(ctx, conn, addr, o.retryFor())
	if err != nil {
		conn.Close()
		return nil, 0, err
	}
	return conn, minor, nil
}

// checkVersion asks the server's protocol version (retried while the
// connection fails, for up to window) and returns its minor version: a
// server of another major version is refused with both named.
func checkVersion(ctx context.Context, conn *grpc.ClientConn, addr string, window time.Duration) (uint32, error) {
	var r *metapb.VersionReply
	err := retry(ctx, window, func(ctx context.Context) (err error) {
		r, err = metapb.NewMetaClient(conn).Version(ctx, &metapb.VersionRequest{Major: wire.Major, Minor: wire.Minor, Client: "spukit"},
			grpc.WaitForReady(false))
		return err
	})
	if status.Code(err) == codes.Unimplemented {
		return 0, fmt.Errorf("%s does not speak the spukit board protocol (no spukit.board.Meta service): is it spu serve?", addr)
	}
	if err != nil {
		_, err = wire.FromStatus(ctx, "connect "+addr, err)
		return 0, err
	}
	if r.GetMajor() != wire.Major {
		return 0, fmt.Errorf("%s speaks board protocol v%d.%d, this client v%d.%d: use a client and server of the same major version",
			addr, r.GetMajor(), r.GetMinor(), wire.Major, wire.Minor)
	}
	return r.GetMinor(), nil
}

// errIs reports whether err is a status with code c.
func errIs(err error, c codes.Code) bool {
	var s interface{ GRPCStatus() *status.Status }
	return errors.As(err, &s) && s.GRPCStatus().Code() == c
}
