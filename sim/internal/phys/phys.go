// Package phys holds what the simulators' profiles share (the dense board
// of package sim and the virtual SPU of package sim/tngd): the physical
// bounds of their fields with the reasons their errors quote, the list of
// bad fields a Validate builds, seconds as a time.Duration, and the stream
// of the seeded generator that draws the dynamics noise.
package phys

import (
	"fmt"
	"math"
	"time"
)

// Physical bounds of a profile's fields. Beyond them a value describes no
// board that could be built, and huge finite values (noise_v = 1e300,
// coupling.max = 1e308) overflow the simulation to Inf, where the matrix
// exponential used to loop for ever; durations beyond 292 years overflow
// time.Duration and came out negative.
const (
	// MaxVolts bounds every voltage: node voltages come from op-amps, and
	// even high-voltage parts rail at a few hundred volts.
	MaxVolts = 1e3
	// MaxCoupling bounds couplings in 1/τ: A_ij is the ratio of the
	// cell's resistor to the coupling element's, and 10⁶ would put a 0.1 Ω
	// element against a 100 kΩ cell (sim:tngd's λ has the same bound).
	MaxCoupling = 1e6
	// MinTauS is the resolution of time.Duration, in which hal.Info
	// reports τ; MaxTauS is an hour: the solver's defaults run thousands
	// to 10⁶ τ, and 10⁶ h (114 years) must still fit a time.Duration.
	MinTauS, MaxTauS = 1e-9, 3600
	// MaxPeriodS bounds the ADC's sample period and channel skew: an ADC
	// slower than one reading per hour is not a converter for an RC board.
	MaxPeriodS = 3600
)

// Reasons quoted in the messages.
const (
	WhyVolts  = "op-amp circuits rail at a few hundred volts"
	WhyTau    = "1 ns is time.Duration's resolution; runs of 10⁶ τ must fit 292 years"
	WhyPeriod = "an ADC slower than one reading an hour does not sample an RC board"
)

// StreamNoise is the stream of the seeded PCG generator that draws the
// dynamics noise of both boards ("noise").
const StreamNoise = 0x6e6f697365

// FieldErrs collects the bad fields of a profile, each with its allowed
// range and, for physical bounds, why.
type FieldErrs []string

// Bad records field = v with the allowed values want.
func (e *FieldErrs) Bad(field string, v any, want string) {
	*e = append(*e, fmt.Sprintf("%s = %v, want %s", field, v, want))
}

// Within requires lo ≤ v ≤ hi (v finite); why says where hi comes from.
func (e *FieldErrs) Within(field string, v, lo, hi float64, unit, why string) {
	if !(v >= lo && v <= hi) {
		e.Bad(field, v, fmt.Sprintf("%g … %g%s (%s)", lo, hi, unit, why))
	}
}

// Positive requires 0 < v ≤ hi.
func (e *FieldErrs) Positive(field string, v, hi float64, unit, why string) {
	if !(v > 0 && v <= hi) {
		e.Bad(field, v, fmt.Sprintf("a value > 0 and ≤ %g%s (%s)", hi, unit, why))
	}
}

// Seconds converts s seconds to a time.Duration, rounded to the nanosecond.
func Seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
