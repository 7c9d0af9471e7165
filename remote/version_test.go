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

// futureMeta is a server of protocol v2.3.
type futureMeta struct{ metapb.UnimplementedMetaServer }

func (futureMeta) Version(context.Context, *metapb.VersionRequest) (*metapb.VersionReply, error) {
	return &metapb.VersionReply{Major: 2, Minor: 3}, nil
}

func TestOtherMajorVersion(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	metapb.RegisterMetaServer(g, futureMeta{})
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
