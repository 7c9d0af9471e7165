// Package calibration measures an SPU board through hal.Board only, stores
// what it measured in a versioned file keyed to the board's serial number,
// applies it as a hal.Board wrapper that pre-distorts what is programmed and
// corrects what is read, and checks later whether it still holds.
//
// # What is measured
//
// The board realises dx = −M x dt + g dt + noise with M = Γ·(E∘A + O) and
// g = Γ·β(b), Γ = diag(1/τ_i): every coupling element has an effective gain
// E_ij (and possibly an offset O_ij, a stray conductance), every cell its
// own τ_i, every bias channel a transfer β_i(v) = G_i v + O_i (+ INL), and
// the ADC reads r = G_adc·x + O_adc + noise per channel. Calibrate
// measures:
//
//   - the realised drift matrix M for several probe coupling matrices, by
//     system identification: after forcing a random state (SetState), the
//     sampled trajectory obeys r_{k+1} = Φ_r r_k + c_r + w_k, a linear
//     regression; M = −log(Φ)/h (h the sample period);
//   - the ADC gain and offset per channel, with the forcing circuit as the
//     reference: the regression predicts what the ADC would have read at the
//     forcing instant, Φ_r⁻¹(r_1 − c_r), which is G_adc v + O_adc for the
//     forced voltage v;
//   - the element gains and offsets, by a weighted linear fit of τ_ref·M_ij
//     against the programmed A_ij over the probes (offsets are kept only
//     when significant);
//   - the bias DAC transfer per channel, from the equilibria x̄ of a sweep
//     of bias levels with known couplings: β(v) = τ_ref·M x̄;
//   - the injected noise intensity from the regression's residual
//     covariance (the discrete Lyapunov equation turns it into the
//     continuous diffusion).
//
// Only products Γ·E are observable: τ_i and the gains of row i are split by
// assuming that the gains of a row average to one, which the file records.
// The wrapper needs only the products. docs/calibration.md explains every
// procedure, its assumptions and its limits.
package calibration
