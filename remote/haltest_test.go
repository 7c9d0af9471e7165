package remote_test

import (
	"testing"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	_ "github.com/spukit/spukit/remote" // registers grpc:
	"github.com/spukit/spukit/remote/internal/servetest"
	"github.com/spukit/spukit/remote/server"
	_ "github.com/spukit/spukit/sim" // registers sim:
)

// TestHaltest runs the conformance suite over grpc:// against the boards
// whose own suites pass locally (sim/haltest_test.go).
func TestHaltest(t *testing.T) {
	for _, uri := range []string{"sim:proto8?seed=3", "sim:ideal?seed=4"} {
		t.Run(uri, func(t *testing.T) {
			s := servetest.Start(t, server.Options{URI: uri}, server.Auth{}, nil)
			haltest.Run(t, func(t *testing.T) hal.Board { return haltest.Open(t, "grpc://"+s.Addr) })
		})
	}
}

// TestHaltestFactored runs the factored boards' suite over grpc:// against
// sim:tngd, as sim/tngd's own test runs it locally.
func TestHaltestFactored(t *testing.T) {
	const uri = "sim:tngd?cells=12&seed=5"
	s := servetest.Start(t, server.Options{URI: uri}, server.Auth{}, nil)
	haltest.RunFactored(t, func(t *testing.T) hal.Board { return haltest.Open(t, "grpc://"+s.Addr) })
}
