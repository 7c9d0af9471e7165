package server

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// Auth says which clients the server accepts. With a Token, every request
// must carry "authorization: Bearer TOKEN"; client certificates are
// checked by the TLS configuration (tls.RequireAndVerifyClientCert) before
// any request arrives, and name the client in logs and Status.
type Auth struct {
	// Token is the bearer token clients must present; empty for none.
	Token string
}

type identityKey struct{}

// identity names the client of ctx: its certificate's common name, or its
// address, as the interceptors recorded it.
func identity(ctx context.Context) string {
	if id, ok := ctx.Value(identityKey{}).(string); ok {
		return id
	}
	return "unknown"
}

// check authenticates ctx's request and returns the client's identity. A
// refused request is Unauthenticated and reaches no handler.
func (a Auth) check(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return peerID(ctx), a.checkMD(md)
}

// peerID names ctx's client by its certificate's common name and address.
func peerID(ctx context.Context) string {
	id := "unknown"
	if p, ok := peer.FromContext(ctx); ok {
		id = p.Addr.String()
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 {
			id = "cn=" + ti.State.VerifiedChains[0][0].Subject.CommonName + " " + id
		}
	}
	return id
}

// checkMD checks the bearer token in a request's metadata.
func (a Auth) checkMD(md metadata.MD) error {
	if a.Token == "" {
		return nil
	}
	for _, v := range md.Get("authorization") {
		tok, ok := strings.CutPrefix(v, "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "missing or wrong bearer token (give the client the server's token file: grpc://HOST:PORT?token_file=F)")
}

// Interceptors returns the server options that authenticate and log every
// request (one slog record: client, method, duration, code) and count it
// in m (nil for none).
func Interceptors(a Auth, log *slog.Logger, m *Metrics) []grpc.ServerOption {
	finish := func(ctx context.Context, id, method string, start time.Time, err error) {
		code := status.Code(err)
		m.request(method, code, time.Since(start))
		lvl := slog.LevelInfo
		if code == codes.Unauthenticated || code == codes.Internal || code == codes.Unknown {
			lvl = slog.LevelWarn
		}
		log.LogAttrs(ctx, lvl, "request", slog.String("client", id), slog.String("method", method),
			slog.Duration("duration", time.Since(start)), slog.String("code", code.String()))
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		id, err := a.check(ctx)
		if err != nil {
			finish(ctx, id, info.FullMethod, start, err)
			return nil, err
		}
		resp, err := h(context.WithValue(ctx, identityKey{}, id), req)
		finish(ctx, id, info.FullMethod, start, err)
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		ctx := ss.Context()
		id, err := a.check(ctx)
		if err != nil {
			finish(ctx, id, info.FullMethod, start, err)
			return err
		}
		err = h(srv, &idStream{ServerStream: ss, ctx: context.WithValue(ctx, identityKey{}, id)})
		finish(ctx, id, info.FullMethod, start, err)
		return err
	}
	// The token is checked again from the headers alone, before the
	// request's message is read: the interceptors run only after gRPC has
	// received and decoded it (up to the message limit), which an
	// unauthenticated client must not make the server do.
	early := func(ctx context.Context, info *tap.Info) (context.Context, error) {
		if err := a.checkMD(info.Header); err != nil {
			finish(ctx, peerID(ctx), info.FullMethodName, time.Now(), err)
			return ctx, err
		}
		return ctx, nil
	}
	return []grpc.ServerOption{grpc.InTapHandle(early), grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}

// idStream carries the client's identity in its context.
type idStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context with the identity.
func (s *idStream) Context() context.Context { return s.ctx }
