// Package solver does thermodynamic linear algebra on any hal.Board: it
// solves A x = b (Solve) and inverts symmetric positive-definite matrices
// (Inverse) by programming a board, letting it relax and averaging samples
// of its node voltages. It talks to the board only through hal.Board (and
// hal.Clock when the board keeps board time), so the same code runs on the
// simulator and on hardware.
//
// # Method
//
// A board with couplings A' (units of 1/τ), bias b' (volts) and noise σ has
// node voltages that follow dx = −Γ(A'x − b')dt + sqrt(2σ²Γ)dW (see package
// hal). For a stable A' the process forgets its start and fluctuates around
// x' = A'⁻¹b'; its stationary covariance is σ²A'⁻¹ when A' is symmetric.
// Solve therefore
//
//  1. scales the problem into the board's ranges (see Scaling);
//  2. pads it to the board's K cells: an unused cell gets A'_ii = 1, no
//     couplings and zero bias, so it sits at 0 V and disturbs nothing;
//  3. forces the state to the warm start Options.Warm (scaled into volts
//     and clipped into the ADC range) or to zero;
//  4. burns in for Options.Burn;
//  5. samples for Options.Duration every Options.Period, averaging on the
//     fly in chunks of at most 4096 samples, so memory does not grow with
//     the run;
//  6. unscales: x = (α/β)·x'.
//
// Inverse programs αA with zero bias and estimates the covariance instead:
// A⁻¹ = α·Σ'/σ².
//
// # Session
//
// The board mechanics behind these steps — scaling A, b and x into board
// units and back, padding to K cells, forcing and clipping the state,
// relaxing, streaming or windowed reads with saturation counts, and the
// accounting of board time and programmings — live in Session, which
// Solve, Inverse and package optim's TNGD share. A Session programs a
// problem once (ProgramDense, or ProgramFactored for a hal.Factored board,
// which never needs an N × N matrix) and then takes any number of
// right-hand sides (SetRHS), each relaxed from a forced (Force) or the
// current state (Relax) and read (Stream, Window). The policies stay with
// the callers: Solve's pilots, burn-in, batches and Tol; TNGD's headroom,
// run time and rescaling. Solve and Inverse validate A (symmetry, stability,
// relaxation, quantisation: O(n³)) before they program it — once per
// matrix: Prepare returns that validated, scaled A as a System, which
// solves any number of right-hand sides with one programming (Solve is
// Prepare plus one System.Solve; refinement and tiled solves use it for
// their many solves of one matrix); ProgramDense
// itself only checks sizes, for matrices the caller vouches for, such as
// TNGD's λI + PSD curvatures (the board still refuses an unstable one).
//
// # Scaling
//
// The couplings are A' = αA with α the largest value that keeps every
// entry within 95 % of the board's coupling range. For a fixed sampling time
// the relative statistical error of x scales as 1/β and does not otherwise
// depend on α (a larger α relaxes the board faster by the same factor that
// it shrinks x' = (β/α)x), and when the ADC is what limits β, that limit
// grows with α. So the full range is best; it also makes the board relax
// fastest and uses the coupling resolution best.
//
// The bias is b' = βb. β starts as large as the bias DAC allows (95 % of its
// range), which makes x' as large, and the relative noise as small, as
// possible — tiny right-hand sides are scaled up. The solution must however
// fit the ADC with room for the fluctuations, and x' is not known in advance
// (solving digitally is what the board is for). So Solve runs a short pilot
// after the burn-in and looks at its mean: if a reading saturated, β is cut
// to a proven safe value when the symmetric part of A' is positive definite
// (‖x'‖₂ ≤ ‖b'‖₂/λ_min(sym A')), else by 8 (or 2 when the mean was not near
// the rails); if the mean's largest component exceeds 70 % of full scale β
// is reduced to bring it to 50 %; and after a reduction, a mean below 25 %
// brings β back up (never beyond the bias range). Every re-scaling restarts
// from the rescaled pilot mean (the mean is linear in b), burns in again
// and is recorded in Result.Pilots and Result.Retries. The pilot's samples
// are not part of the average.
//
// # Defaults
//
// Times scale with r, the slowest relaxation rate of A' in 1/τ: the
// smallest eigenvalue μ of the symmetric part (A'+A'ᵀ)/2 when positive,
// which bounds the decay ‖e^{−A't/τ}‖₂ ≤ e^{−μt/τ}, and otherwise (a
// non-normal A' whose symmetric part is indefinite) the spectral abscissa
// min Re λ(A'). The default burn-in reduces the start's distance to the mean
// by 10⁶ with a safety factor for per-cell τ spread and non-normal
// transients; the default sampling time is 2000τ, or longer so that each of
// the 20 batches spans at least 50 relaxation times 1/r (Inverse: 20000τ and
// 500). See Options for the exact formulas.
//
// # Error bars
//
// Successive samples are correlated over about τ/r, so the sample standard
// deviation over √N would be far too optimistic. Solve uses batch means: the
// N samples are cut by count into B equal batches (Options.Batches, default
// 20), whose means m_b are nearly independent when a batch spans many
// relaxation times, and
//
//	X = Σ_b m_b / B,    StdErr = sqrt( Σ_b (m_b − X)² / (B(B−1)) ),
//
// unscaled by α/β. Inverse applies the same idea to the covariance: the mean
// of the within-batch covariances plus the covariance of the batch means
// (unbiased to first order), with error bars from the spread of the
// within-batch covariances. The error bars are statistical only: calibration
// errors of an uncalibrated board (coupling tolerance, DAC and ADC offsets
// and gains) bias the estimate and are not in them. With Options.Tol, Solve
// doubles the sampling (merging batch pairs) until the normwise relative
// standard error max StdErr / max |X| is below Tol.
//
// # Units
//
// Results are in problem units. Result.Scale gives α (1/τ per problem unit
// of A) and β (volts per problem unit of b); durations are board time, and
// Result.BoardTime is taken from hal.Clock when the board implements it
// (simulators do), so a simulated run says how long hardware would take.
//
// # Beyond one solve
//
// Refine refines a System's answer in float64 (x ← x + d, the board solving
// A d = r for each residual, scaled on its own) to any relative residual
// the board's per-solve error ρ < 1 allows, at the rate ρ per round. Tiled
// solves problems larger than the board: the board solves the diagonal
// blocks (Partition) as the preconditioner of FCG or FGMRES, which run in
// float64; TiledPool shares the blocks among several boards, which solve
// them concurrently. docs/solving.md derives and measures these.
//
// # Errors
//
// Bad input never panics: wrong sizes are hal.ErrDimension, NaN or Inf
// entries hal.ErrInvalid (naming the entry), an unstable A hal.ErrUnstable,
// an impossible request hal.ErrUnsupported — all before the board is
// touched. Saturation in the final sampling returns the result together with
// an error wrapping *hal.SaturationError.
package solver
