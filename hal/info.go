package hal

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Topology says which coupling matrices a board can realise.
type Topology int

const (
	// General boards realise every entry A_ij with its own element, so A
	// need not be symmetric.
	General Topology = iota
	// Symmetric boards realise A_ij and A_ji with one element: A must be
	// symmetric.
	Symmetric
)

// String returns "general" or "symmetric".
func (t Topology) String() string {
	switch t {
	case General:
		return "general"
	case Symmetric:
		return "symmetric"
	}
	return fmt.Sprintf("Topology(%d)", int(t))
}

// ParseTopology is the inverse of Topology.String.
func ParseTopology(s string) (Topology, error) {
	// "" is general so that profiles may leave the field out.
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "general", "":
		return General, nil
	case "symmetric":
		return Symmetric, nil
	}
	return 0, fmt.Errorf("topology %q: want \"general\" or \"symmetric\": %w", s, ErrInvalid)
}

// Capability is a set of facts describing a board (see the package doc:
// what a board can additionally do, such as keeping board time, is an
// optional interface instead).
type Capability uint

const (
	// CapNoise: the board injects calibrated thermal noise of intensity
	// Info.Noise, so the stationary covariance carries A⁻¹ (solver.Inverse).
	CapNoise Capability = 1 << iota
	// CapSimulated: the board is a simulator, not hardware.
	CapSimulated
)

var capNames = []string{"noise", "simulated"}

// Has reports whether c includes all of d.
func (c Capability) Has(d Capability) bool { return c&d == d }

// Names lists the capabilities in c by name.
func (c Capability) Names() []string {
	var out []string
	for i, n := range capNames {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String joins Names with "|", or returns "none"; unknown bits show in hex.
func (c Capability) String() string {
	if c == 0 {
		return "none"
	}
	names := c.Names()
	if rest := c &^ (1<<len(capNames) - 1); rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint(rest)))
	}
	return strings.Join(names, "|")
}

// Range is a closed interval [Min, Max] of allowed values.
type Range struct {
	Min, Max float64
}

// Contains reports whether Min ≤ v ≤ Max. NaN is never contained.
func (r Range) Contains(v float64) bool { return v >= r.Min && v <= r.Max }

// Converter describes a DAC or ADC channel: its input or output range in
// volts and its resolution.
type Converter struct {
	Range
	// Bits is the resolution; 0 means continuous (an ideal converter).
	Bits int
}

// LSB returns the size of one code step in volts, (Max−Min)/2^Bits, or 0
// for a continuous converter. Codes 0…2^Bits−1 stand for Min + code·LSB, as
// on common DACs and ADCs: the top code is one LSB below Max.
func (c Converter) LSB() float64 {
	if c.Bits <= 0 {
		return 0
	}
	return (c.Max - c.Min) / math.Exp2(float64(c.Bits))
}

// Info describes a board. It is a value: copies share nothing.
type Info struct {
	// Model names the kind of board, e.g. "sim/proto8".
	Model string
	// Serial identifies this board; calibration files are keyed to it.
	Serial string
	// Firmware is the firmware version, or the profile version of a simulator.
	Firmware string

	// Cells is K, the number of cells (node voltages).
	Cells int
	// Topology says whether A may be non-symmetric.
	Topology Topology
	// Coupling is the allowed range of every entry of A, in units of 1/τ.
	Coupling Range
	// CouplingStep is the coupling resolution in units of 1/τ; 0 means
	// continuous.
	CouplingStep float64

	// Bias is the bias DAC.
	Bias Converter
	// ADC is the node-voltage ADC.
	ADC Converter

	// Tau is the nominal cell time constant τ = RC.
	Tau time.Duration
	// Noise is σ in volts: the rms node voltage of an uncoupled cell with
	// A_ii = 1 (see the package doc). 0 means no injected noise.
	Noise float64
	// MinSamplePeriod is the shortest period Sample accepts.
	MinSamplePeriod time.Duration

	// Caps lists optional features.
	Caps Capability
}

// Validate checks that the description is self-consistent: positive sizes
// and times, non-empty ordered ranges, a coupling range that admits the
// identity, and non-negative noise.
func (in Info) Validate() error {
	var errs []string
	if in.Serial == "" {
		errs = append(errs, "serial is empty (calibration files are keyed to it)")
	}
	if in.Topology != General && in.Topology != Symmetric {
		errs = append(errs, fmt.Sprintf("topology = %v, want general or symmetric", in.Topology))
	}
	if in.Cells <= 0 {
		errs = append(errs, fmt.Sprintf("cells = %d, want > 0", in.Cells))
	}
	if !(in.Coupling.Min < in.Coupling.Max) || !in.Coupling.Contains(1) || !in.Coupling.Contains(0) ||
		math.IsInf(in.Coupling.Min, 0) || math.IsInf(in.Coupling.Max, 0) {
		errs = append(errs, fmt.Sprintf("coupling range [%g, %g] must be finite and contain 0 and 1", in.Coupling.Min, in.Coupling.Max))
	}
	if !(in.CouplingStep >= 0 && in.CouplingStep <= 1) {
		errs = append(errs, fmt.Sprintf("coupling step %g, want 0 ≤ step ≤ 1 (the identity must be programmable)", in.CouplingStep))
	}
	for _, c := range []struct {
		name string
		c    Converter
	}{{"bias", in.Bias}, {"adc", in.ADC}} {
		if !(c.c.Min < c.c.Max) || math.IsInf(c.c.Min, 0) || math.IsInf(c.c.Max, 0) {
			errs = append(errs, fmt.Sprintf("%s range [%g, %g] must be finite and non-empty", c.name, c.c.Min, c.c.Max))
		}
		if c.c.Bits < 0 || c.c.Bits > 32 {
			errs = append(errs, fmt.Sprintf("%s bits = %d, want 0..32", c.name, c.c.Bits))
		}
	}
	if in.Tau <= 0 {
		errs = append(errs, fmt.Sprintf("tau = %v, want > 0", in.Tau))
	}
	if !(in.Noise >= 0) || math.IsInf(in.Noise, 0) {
		errs = append(errs, fmt.Sprintf("noise = %g V, want ≥ 0", in.Noise))
	}
	if in.MinSamplePeriod <= 0 {
		errs = append(errs, fmt.Sprintf("min sample period = %v, want > 0", in.MinSamplePeriod))
	}
	if len(errs) > 0 {
		return fmt.Errorf("board info: %s: %w", strings.Join(errs, "; "), ErrInvalid)
	}
	return nil
}
