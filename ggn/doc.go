// Package ggn holds the numerical kernels of the damped generalised
// Gauss–Newton (GGN) curvature in the factored form a training step hands to
// a board (hal.Factorization):
//
//	F = λI + s·JᵀHJ = λI + UᵀU,   U = √s·H^{1/2}J,
//
// with J a structured Jacobian (hal.Jacobian: one column block per dense
// layer, row r of a block being the outer product of the row's
// backpropagated signal and its sample's layer input) and H block-diagonal
// with one k × k block per sample. The kernels never form J: J·v, Jᵀ·w and
// the Gram matrix JJᵀ cost O(samples·N), O(samples·N) and O(m²·ΣOut +
// samples²·ΣIn) for m = J.Rows and N = J.Cols. One implementation serves
// the optimisers (package optim) and the virtual SPU (package sim/tngd).
//
// The package is named after the mathematics, not after a user: the same
// kernels build the GGN curvature for NGD, NGD-Woodbury, TNGD's three
// mappings and the simulated board's exact transition.
//
// # Conventions
//
// The kernels follow gonum's: the destination comes first; scratch space is
// the caller's (a slice of at least the documented length, or a reusable
// workspace whose zero value is ready); shapes are documented and checked,
// and a mismatch panics, since it is a programming error and not bad input
// (check a factorization from outside with hal.Factorization.Validate
// first). MulVec, MulTransVec, Dense and Curvature never allocate; Gram
// allocates its workspace when it grows and otherwise only the bookkeeping
// of its goroutines; U allocates the signals dst does not have yet; and
// gonum's eigensolver inside SqrtH allocates its own work.
//
// Layer inputs are often mostly zeros (MNIST pixels): Sparse keeps a
// block input's nonzeros, and its products (MulTrans, TransMul, UpperGram)
// skip the zeros while adding the remaining terms in the order of the
// gonum call they replace on amd64 (its assembly's four partial sums), so
// there they change the speed and not one bit of the result; elsewhere
// gonum's portable loop sums in one order and the two differ by rounding.
// Gram uses it for sparse inputs; package optim for the first
// layer's forward and backward pass.
//
// Blocks must cover disjoint columns, as hal.Jacobian.Validate requires:
// Gram sums per-block terms and would miss an overlap's cross terms.
package ggn
