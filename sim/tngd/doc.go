// Package tngd is the large virtual SPU of the TNGD paper (Donatella et
// al. 2024, arXiv:2405.13817), opened as "sim:tngd": a hal.Board and
// hal.Factored whose couplings exist only in factored form,
// A = λI + Scale·JᵀHJ, as the paper's circuit stores J, Jᵀ and H in
// resistor arrays. It never forms an N × N matrix. Its Board is the
// hardware stand-in; the optimiser that drives it is optim.TNGD.
//
// Importing package sim registers the "sim" scheme, which hands sim:tngd
// to OpenURL here; docs/profiles.md lists the options.
//
// # Exact transition
//
// Between two instants the board applies the exact OU transition for
// A = λI + UᵀU, U = sqrt(Scale)·H^{1/2}J (built by package ggn), through
// the push-through identity
//
//	f(λI + UᵀU) v = f(λ) v + Uᵀ ψ(G) U v,   G = UUᵀ (m × m),
//	ψ(s) = (f(λ+s) − f(λ))/s,
//
// with ψ(G)y evaluated by Lanczos on G or by the eigendecomposition of G.
//
// Over t (in units of τ) from x0 with bias g and noise κ₀ = σ²:
//
//	x(t) = x0 + f₂(A)(g − A x0) + f₃(A) z,  z ~ N(0, I),
//	f₂(a) = (1 − e^{−at})/a,  f₃(a) = sqrt(κ₀(1 − e^{−2at})/a),
//
// which is e^{−At}x0 + A⁻¹(I − e^{−At})g plus noise of covariance
// κ₀A⁻¹(I − e^{−2At}). Writing the deterministic part through the residual
// g − A x0 needs one function instead of two.
//
// Files: profile.go (Profile, its validation), board.go (the hal methods),
// realise.go (the DACs and element mismatch that realise J, H and U),
// transition.go (the transition and its eigendecomposition path),
// filter.go (the optional ADC anti-aliasing filter inside the transition),
// funcs.go (f₂, f₃ and the divided differences ψ), lanczos.go (Lanczos
// with full reorthogonalisation for ψ(G)y) and uri.go (the URI options).
package tngd
