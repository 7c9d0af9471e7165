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

// TestConformanceFilter runs the same suite with the ADC filter on (the
// readings are the filter's outputs; the eigendecomposition path).
func TestConformanceFilter(t *testing.T) {
	haltest.RunFactored(t, func(t *testing.T) hal.Board {
		return haltest.Open(t, "sim:tngd?cells=12&seed=5&adc_filter=300e3")
	})
}
