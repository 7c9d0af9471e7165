package remote_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
)

// lab makes a lab's certificates (spu serve --gen-certs) in a new
// directory and returns it.
func lab(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, server.GenCerts(dir, []string{"127.0.0.1"}, "tester", time.Hour))
	return dir
}

func TestTokenAuth(t *testing.T) {
	dir := lab(t)
	tok, err := os.ReadFile(filepath.Join(dir, server.TokenFile))
	require.NoError(t, err)
	ts, opens := countedAuth(t, server.Options{URI: "sim:proto8"}, server.Auth{Token: string(tok[:len(tok)-1])})
	_, err = hal.Open(t.Context(), "grpc://"+ts.Addr)
	require.ErrorIs(t, err, remote.ErrUnauthenticated)
	wrong := filepath.Join(t.TempDir(), "wrong")
	require.NoError(t, os.WriteFile(wrong, []byte("0123456789abcdef0123"), 0o600))
	_, err = hal.Open(t.Context(), "grpc://"+ts.Addr+"?token_file="+wrong)
	require.ErrorIs(t, err, remote.ErrUnauthenticated)
	st, err := remote.GetStatus(t.Context(), ts.Addr, remote.Options{Plaintext: true})
	require.ErrorIs(t, err, remote.ErrUnauthenticated)
	assert.Nil(t, st)
	// The refused clients touched nothing: no lease, no reset.
	assert.Equal(t, int32(1), opens.Load())
	good := remote.Options{Plaintext: true, TokenFile: filepath.Join(dir, server.TokenFile)}
	st, err = remote.GetStatus(t.Context(), ts.Addr, good)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), st.Granted)
	b, err := remote.Dial(t.Context(), ts.Addr, good)
	require.NoError(t, err)
	require.NoError(t, b.Close())
}

func TestMutualTLS(t *testing.T) {
	dir, other := lab(t), lab(t)
	f := func(d, name string) string { return filepath.Join(d, name) }
	cfg, err := server.TLSConfig(f(dir, server.ServerCertFile), f(dir, server.ServerKeyFile), f(dir, server.CAFile))
	require.NoError(t, err)
	s := servetest.Start(t, server.Options{URI: "sim:proto8?seed=3"}, server.Auth{}, credentials.NewTLS(cfg))
	uri := "grpc://" + s.Addr + "?ca=" + f(dir, server.CAFile)
	// No client certificate, and one from another lab's CA: refused in
	// the handshake, before any request.
	_, err = hal.Open(t.Context(), uri)
	require.Error(t, err)
	_, err = hal.Open(t.Context(), uri+"&cert="+f(other, server.ClientCertFile)+"&key="+f(other, server.ClientKeyFile))
	require.Error(t, err)
	// A server certificate from another CA is refused by the client.
	_, err = hal.Open(t.Context(), "grpc://"+s.Addr+"?ca="+f(other, server.CAFile)+
		"&cert="+f(dir, server.ClientCertFile)+"&key="+f(dir, server.ClientKeyFile))
	require.Error(t, err)
	b, err := hal.Open(t.Context(), uri+"&cert="+f(dir, server.ClientCertFile)+"&key="+f(dir, server.ClientKeyFile))
	require.NoError(t, err)
	st, err := remote.GetStatus(t.Context(), s.Addr, remote.Options{CAFile: f(dir, server.CAFile),
		CertFile: f(dir, server.ClientCertFile), KeyFile: f(dir, server.ClientKeyFile)})
	require.NoError(t, err)
	assert.Contains(t, st.Holder, "cn=tester", "the holder is named by its certificate")
	require.NoError(t, b.Close())
}

// TestUnauthenticatedNotRead: a request with a wrong token is refused from
// its headers, before the server reads its message: one larger than the
// message limit gets Unauthenticated, not ResourceExhausted (which would
// mean the server received the bytes of an unauthenticated client).
func TestUnauthenticatedNotRead(t *testing.T) {
	ts, opens := countedAuth(t, server.Options{URI: "sim:proto8"}, server.Auth{Token: "0123456789abcdef"})
	conn, err := grpc.NewClient(ts.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(1<<30)))
	require.NoError(t, err)
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer wrong")
	big := make([]float64, server.DefaultMaxMessage/8+1024) // just over the limit
	_, err = boardpb.NewBoardClient(conn).SetCouplings(ctx, &boardpb.SetCouplingsRequest{A: big})
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	assert.Equal(t, int32(1), opens.Load(), "no lease, no reset")
}
