//go:build amd64 && !noasm && !gccgo && !safe

package ggn_test

// exactBits: gonum's dot products are its amd64 assembly here (its
// internal/asm/f64 build constraint), whose partial sums ggn.Sparse copies.
const exactBits = true
