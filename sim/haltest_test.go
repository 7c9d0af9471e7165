package sim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/sim"
)

// Every built-in profile passes the HAL conformance suite, opened by URI as
// a program would.
func TestConformance(t *testing.T) {
	for _, name := range sim.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			haltest.Run(t, func(t *testing.T) hal.Board {
				b, err := hal.Open(t.Context(), "sim:"+name+"?seed=7")
				require.NoError(t, err)
				return b
			})
		})
	}
}
