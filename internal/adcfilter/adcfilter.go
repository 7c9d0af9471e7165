// Package adcfilter holds the closed forms of a cell read through an ADC's
// second-order Butterworth anti-aliasing filter (the AD7606's; sim/rails.go
// models it as two more linear states per channel) that the code checking
// readings against a model needs.
package adcfilter

import "math"

// SettledDecay is the reading at time t after forcing, as a fraction of
// the forced displacement x₀ − c, of a node decaying as e^{−a·t} read
// through a second-order Butterworth low-pass with corner ω (rad/s) that
// the forcing left settled on x₀ (y(0) = 1, y'(0) = 0: the forcing holds
// the node for longer than the filter's settling time, as sim's SetState
// assumes: 50 µs on proto8 against 1/(ζω) = 15 µs at 15 kHz). With ζ = 1/√2 and the filter
// y” + 2ζω y' + ω² y = ω² e^{−a·t}:
//
//	y(t) = H e^{−a·t} + e^{−ζωt}(A cos ω_d t + B sin ω_d t)
//	H = ω²/(ω² − 2ζωa + a²)   (the filter's gain at s = −a)
//	A = 1 − H,  B = (aH + ζωA)/ω_d,  ω_d = ω√(1−ζ²)
//
// (A from y(0) = 1, B from y'(0) = 0). ω = +Inf gives e^{−a·t}, the
// unfiltered decay. For a fixed t and a, y decreases monotonically towards
// e^{−a·t} as ω grows (TestSettledDecayMonotone), so every corner above a
// bound reads between the bound's value and e^{−a·t}.
func SettledDecay(a, omega, t float64) float64 {
	if math.IsInf(omega, 1) {
		return math.Exp(-a * t)
	}
	const zeta = math.Sqrt2 / 2
	h := omega * omega / (omega*omega - 2*zeta*omega*a + a*a)
	wd := omega * math.Sqrt(1-zeta*zeta)
	ca := 1 - h
	cb := (a*h + zeta*omega*ca) / wd
	return h*math.Exp(-a*t) + math.Exp(-zeta*omega*t)*(ca*math.Cos(wd*t)+cb*math.Sin(wd*t))
}
