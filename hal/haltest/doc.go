// Package haltest is the conformance suite for hal.Board implementations.
//
// Every driver and simulator runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		haltest.Run(t, func(t *testing.T) hal.Board {
//			b, err := hal.Open(t.Context(), "sim:ideal?seed=1")
//			require.NoError(t, err)
//			return b
//		})
//	}
//
// Run opens a fresh board for every subtest and closes it when the subtest
// ends, so one subtest's failure cannot leak into the next. The subtests run
// one after the other (never in parallel), because a physical board can only
// be opened once.
//
// # What is checked
//
//   - Info is valid and stable across calls.
//   - A board that keeps board time (hal.BoardTime) keeps reporting it, and
//     its board time grows by at least the time run and sampled.
//   - Wrong lengths are hal.ErrDimension (and Sample then returns n = 0);
//     NaN and ±Inf are hal.ErrInvalid.
//   - Out-of-range couplings, biases and states are *hal.RangeError values
//     naming the entry (Row, Col), the value and the range (Min, Max), whose
//     message shows the numbers; a rejected call leaves the board as it was,
//     which is checked by reading the board after calls that would move the
//     cells far if they had been partly applied. A range violation takes
//     precedence over instability in the same matrix.
//   - Couplings with an eigenvalue of non-positive real part are
//     hal.ErrUnstable, also when the diagonal is positive; on a General board
//     stable non-symmetric couplings are accepted. Non-positive run times are
//     hal.ErrInvalid; sample periods below Info.MinSamplePeriod are a
//     *hal.RangeError; period 0 and the minimum itself are accepted.
//   - Context cancellation is honoured before and during Run and Sample,
//     and the board stays usable after a cancelled call.
//   - Close is idempotent and every method afterwards is hal.ErrClosed.
//   - Samples lie in the ADC range; saturation is reported as a
//     *hal.SaturationError with one count per cell and the samples still
//     delivered, not clipped silently.
//   - A board that reports Sample's progress (hal.Streamer) reports growing
//     counts below the count it returns, for samples that do not change
//     afterwards.
//   - With identity couplings the cell means settle at the (per-cell
//     different) biases, within 5 standard errors plus a systematic
//     allowance derived from Info alone, because boards under test are
//     uncalibrated: 2 % of the ADC full scale, 3 LSB of the ADC and of the
//     bias DAC, and the rounding of the couplings to CouplingStep. Different
//     biases per cell catch a mixed-up sample layout.
//   - A board opened again starts at A = I and b = 0 (hal.Open's contract),
//     not with what the previous session programmed: the Reopen check
//     closes a board left at A = c·I with non-zero biases, opens it again
//     with Run's open function and checks the means (b = 0, then A = I).
//     Run's open must therefore reach the same board each time for this
//     check to mean anything — as it does for hardware.
//
// RunFactored is the suite of hal.Factored boards that may refuse dense
// couplings (sim:tngd): Info, SetFactoredCouplings's errors (a refused call
// changes nothing), the equilibrium A⁻¹b of a factored A = λI + a·uuᵀ
// coupling two cells (checkMeans's tolerance), board time, Sample's
// arguments, progress (hal.Streamer) and Close.
//
// Checks that cannot apply to a board (for example no saturation test when
// no coupling within range drives the bias DAC's end beyond the ADC range)
// skip with the reason.
//
// The suite takes a few seconds on a simulator with τ ≈ 100 µs; on hardware
// it is bounded by about a second of board time per statistical check plus
// the cancellation checks' calibration (1000 samples).
//
// This package is test-support code: it imports testing and uses
// github.com/stretchr/testify's require and assert, so import it only from
// _test.go files.
package haltest
