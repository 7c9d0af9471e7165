// Package optim holds the model and its optimisers: a multilayer
// perceptron, its gradients and structured GGN curvature, and first-order
// and natural-gradient optimisers, including thermodynamic natural gradient
// descent (TNGD) on any hal.Board. Digital and board-backed optimisers
// share one interface, so the training loop (package training) is the same
// code on the simulator and on hardware.
//
// # Model and parameter layout
//
// An MLP has widths n_0 (inputs), n_1, …, n_L (outputs, the logits), a
// hidden nonlinearity (tanh or ReLU) and a linear output layer; the
// default is 784-32-10 (DefaultSizes, N = 25,450 parameters). With several
// outputs the loss is softmax cross-entropy (the softmax subtracts the
// largest logit first), with one output the logistic loss; both are means
// over the batch.
//
// All parameters live in one flat vector θ of length N = Σ_l n_{l+1}(n_l+1).
// Layer l owns θ[Offset(l) : Offset(l+1)], its weight matrix W_l stored as
// an n_{l+1} × (n_l+1) row-major matrix whose last column is the bias:
// every layer's input a_l is augmented with a constant 1, z_l = W_l [a_l; 1].
// This is exactly the column layout of a hal.JacobianBlock with
// Col = Offset(l), Out = n_{l+1}, In = n_l+1.
//
// # Curvature
//
// For a batch of b examples and d = n_L outputs let m = b·d. An Iteration
// holds the loss, the gradient g (hand-written backprop, mean over the
// batch) and, built lazily and cached, the damped generalised Gauss–Newton
// matrix
//
//	F = λI + (1/b) Jᵀ H J = λI + UᵀU,    U = b^{−1/2} H^{1/2} J,
//
// where J (m × N) is the Jacobian of the logits with rows ordered
// sample-major (row s·d + o is logit o of example s), H is block-diagonal
// with one d × d block per example, the Hessian of its loss in its logits
// (diag(p) − ppᵀ for softmax, p(1−p) for a sigmoid), and H^{1/2} is the
// symmetric square root of each block (from its eigendecomposition).
//
// J is never stored as an m × N matrix. A dense layer's Jacobian rows are
// outer products: row r of layer l's block is S_l[r] ⊗ [a_l; 1]_{s(r)}, with
// S_l[r] = ∂logit_r/∂z_l the backpropagated unit vector of logit r (m × n_{l+1}
// per layer) and s(r) = ⌊r/d⌋ the row's example. Iteration.Factorization
// returns this structure as a *hal.Factorization (Scale = 1/b, Lambda = λ)
// for boards with the hal.Factored capability. Because the rows of one
// example share their layer inputs, U has the same structure with signals
// b^{−1/2}H_s^{1/2}S_l (Iteration.UJacobian). Products cost O(b·N):
//
//	J v:  per layer Z = A_l V_lᵀ (b × n_{l+1}, one GEMM), (J v)_r = S_l[r]·Z_{s(r)}
//	Jᵀw:  per layer C_s = Σ_{r∈s} w_r S_l[r], columns of layer l = Cᵀ A_l (one GEMM)
//	F v = λv + (1/b) Jᵀ(H(J v)),  U v,  Uᵀ y  (Iteration.FVec, U, UT, JVec, JTVec)
//
// The m × m dual Gram G = U Uᵀ (Iteration.DualGram) uses
//
//	(U Uᵀ)_{r,r'} = Σ_l (S'_l[r]·S'_l[r']) (ā_{l,s(r)}·ā_{l,s(r')})
//
// (S' the U signals, ā the augmented inputs): O(m²·n_{l+1} + b²·(n_l+1)) per
// layer instead of O(m²·N). Only Iteration.DenseF forms the N × N matrix
// (O(N²m), refused above MaxDenseParams).
//
// # Directions
//
// Every natural-gradient optimiser steps θ ← θ − η·d with d ≈ F⁻¹g:
//
//   - NGD: d = F⁻¹g by Cholesky of the dense F (N ≤ MaxDenseParams).
//   - NGDCG: conjugate gradients on F v from d = 0 to a relative residual.
//   - NGDWoodbury: exact, by the Woodbury identity
//     F⁻¹g = (g − Uᵀ(λI + G)⁻¹U g)/λ — a Cholesky of order m (640 for
//     MNIST at batch 64) instead of N. WoodburyDual returns
//     y = (λI + G)⁻¹U g and WoodburyBack maps any dual vector y to
//     (g − Uᵀy)/λ, which is how a board solving the m × m dual system
//     (TNGD's dual mapping) gets back to parameter space.
//   - TNGDEuler ("tngd-em"): the TNGD paper's reference simulation of the
//     analog dynamics dg̃ = −(F g̃ − g)dt + N(0, 2κ₀dt), Euler–Maruyama with
//     step δt (default 0.1τ) for time t (default 50τ, in units of the
//     board's τ), from the previous iteration's g̃ (the first from g), with
//     one matrix-free F v per step. g̃ → F⁻¹g as t → ∞ (κ₀ = 0); t → 0 is
//     SGD. It is stable only while δt·λ_max(F) < 2 (Iteration.MaxEigenvalue
//     estimates λ_max); real MNIST batches at 784-32-10 give λ_max ≈ 3–6.
//   - TNGD, TNGDAdam: the same dynamics run by a board, driven through a
//     solver.Session (see NewTNGD).
//
// SGD (with heavy-ball momentum) and Adam use g directly.
//
// # Optimiser interface and checkpoints
//
// Optimizer.Step(ctx, it) updates it.Model in place and returns StepStats
// (digital wall time, board time, inner iterations). Director optimisers
// also return their direction without stepping. Optimisers with state
// (SGD's velocity, Adam's moments and step count, the warm start g̃ of
// TNGDEuler) implement Stateful; restoring State() into a fresh optimiser
// resumes bit-identically. TNGDEuler draws the noise of iteration K from
// PCG(seed, K), so it needs no random-number state.
//
// # Units and errors
//
// Analog times are in units of τ; StepStats.BoardTime of TNGDEuler takes
// τ = 1 µs (the paper's RC). The model's errors are its own: ErrModel for
// a malformed description (sizes, activation), ErrData for inputs or labels
// that do not fit it. The optimisers' bad input returns errors wrapping the
// hal sentinels: hal.ErrDimension for sizes, hal.ErrInvalid for values,
// hal.ErrUnsupported for a refused dense NGD, hal.ErrUnstable for a
// curvature that is not positive definite or a diverging Euler–Maruyama run.
package optim
