//go:build !amd64 || noasm || gccgo || safe

package ggn_test

// exactBits: gonum's portable dot product sums in another order than its
// amd64 assembly, which ggn.Sparse copies; see requireBits.
const exactBits = false
