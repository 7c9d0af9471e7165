package tngd_test

import (
	"testing"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	_ "github.com/spukit/spukit/sim/tngd" // registers sim:tngd
)

// TestConformance runs haltest's suite of factored boards on a small
// sim:tngd (the dense suite does not apply: it refuses dense couplings).
func TestConformance(t *testing.T) {
	haltest.RunFactored(t, func(t *testing.T) hal.Board { return haltest.Open(t, "sim:tngd?cells=12&seed=5") })
}
