// Package sim is a simulated SPU behind hal.Board: a faithful software
// stand-in for a lab board, so that everything above the HAL can be tested
// in CI without hardware.
//
// # Physics
//
// Node voltages follow dx = -Γ(A x - b) dt + sqrt(2σ²Γ) dW with Γ the
// inverse per-cell time constants (see package hal). Between any two
// instants the state is advanced with the exact transition of this linear
// SDE — Φ = e^{-Mh}, the constant term Ψ Γ b with Ψ = ∫₀ʰ e^{-Ms} ds, and
// Gaussian noise whose covariance is computed by Van Loan's block
// exponential plus doubling — for a general, not necessarily symmetric or
// normal, drift M = ΓA. There is no time-step error at any sample period.
//
// # Non-idealities
//
// Each is set by a Profile field and is off at zero: coupling quantisation,
// per-element tolerance, tempco and ageing; per-cell capacitor mismatch;
// bias DAC quantisation, INL, gain and offset; ADC quantisation, range
// clipping with a saturation report, offset, gain, input noise and channel
// skew of a multiplexed ADC; op-amp rails; temperature as a seeded
// Ornstein–Uhlenbeck walk; and the board time of programming, settling and
// conversion on a simulated clock (hal.Clock).
//
// The drawn part values — the board's hidden truth — depend only on the
// seed and are unexported, so calibration has to measure them.
//
// # URIs
//
// Importing this package registers the "sim" scheme:
//
//	sim:proto8?seed=3      built-in profile (see BuiltinNames)
//	sim:board.json?seed=3  profile from a JSON file
//	sim:tngd?cells=25450   the large virtual SPU with factored couplings,
//	                       implemented by package sim/tngd
package sim
