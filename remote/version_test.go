package remote_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/metapb"
)

// versionMeta answers the version check as a server of protocol
// vMajor.Minor.
type versionMeta struct {
	metapb.UnimplementedMetaServer
	major, minor uint32
}

func (m versionMeta) Version(context.Context, *metapb.VersionRequest) (*metapb.VersionReply, error) {
	return &metapb.VersionReply{Major: m.major, Minor: m.minor}, nil
}

func TestOtherMajorVersion(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	metapb.RegisterMetaServer(g, versionMeta{major: 2, minor: 3})
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	_, err = hal.Open(t.Context(), "grpc://"+lis.Addr().String())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "speaks board protocol v2.3, this client v1.3")

	// A gRPC server that is not a board server at all.
	lis2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g2 := grpc.NewServer()
	go func() { _ = g2.Serve(lis2) }()
	defer g2.Stop()
	_, err = hal.Open(t.Context(), "grpc://"+lis2.Addr().String())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not speak the spukit board protocol")
}
