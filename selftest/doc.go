// Package selftest is the bring-up check a technician runs on a new board
// before anything else (spu selftest). It drives the board only through
// hal.Board (with solver.Session's programming and sampling primitives),
// plus the driver's own part checks when the board implements
// hal.Diagnoser, and returns one row per check: what was measured, what a
// good board gives, and for a failure the most likely cause and what to
// check on the bench.
//
// # Checks
//
// Every check runs even when an earlier one failed: a fault in one part
// gives failed rows, the rest of the board is still measured. Saturated
// readings are a measured result (the row says so), not an error.
//
//   - driver: the driver's read-back of its chips (hal.Diagnoser), or a
//     row saying the board has none (sim:, serial://).
//   - noise, per cell: at A = I, b = 0 the node voltage is an
//     Ornstein–Uhlenbeck process with stationary rms σ = Info.Noise (hal's
//     package doc: variance σ²/A_ii). A constant channel (zero variance) is
//     a dead ADC channel.
//   - tau and force, per cell: the state is forced to ±x₀ and the decay
//     sampled every h; it obeys the AR(1) regression x_{k+1} = φ x_k + c
//     with φ = exp(−h·A_ii/τ_i), so τ̂ = −h/ln φ̂. The first reading after
//     forcing must be x₀·φ (force).
//   - loopback, per bias channel: couplings the identity, so the mean of x
//     is b; channel i alone is set to several levels and cell i's mean
//     fitted with a line: gain, offset and linearity against the parts'
//     tolerances.
//   - crosstalk, per bias channel: setting channel i must move cell i
//     only; a channel that moves another cell names both (wired
//     crosswise).
//   - coupling, per element A[i][j]: with A = I + c·E_ij (E_ij the unit
//     matrix at (i, j)) and bias v on cell j only, row j of A x = b gives
//     x_j = v and row i gives x_i + c·x_j = 0, so x_i = −c·v: the element
//     is ĉ = −x_i/x_j. Both signs of c are programmed, so a missing
//     polarity bit shows. For i = j, A_ii = 1 + c and x_i = v/(1+c): the
//     element is the loopback reading at A = I over the reading at 1 + c.
//   - polarity: the coupling rows at negative c summed up, so that a
//     missing sign register reads as one fault.
//   - sample timing: the board time of a known Sample call against
//     n·period, and the late samples the driver counted (Options.Late).
//
// # Tolerances
//
// Each check passes when |measured − expected| ≤ part budget + k·SE: the
// part budget is the worst case of the parts' datasheet tolerances
// (Tolerances, by default those of the reference board ref8, which are the
// simulator's proto8 numbers), k = Options.Sigmas (5: a false alarm in
// about 1 of 10⁶ rows) and SE the standard error of the measurement. The
// node voltage of a good cell at A = I is an AR(1) process in samples h
// apart, with rms σ (Info.Noise, or the cell's measured rms when that is
// larger) and lag-1 autocorrelation ρ = exp(−h/τ), so the mean of n
// samples has
//
//	SE = σ·sqrt((1+ρ)/((1−ρ)·n)).
package selftest
