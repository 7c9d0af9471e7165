package ggn

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/spukit/spukit/hal"
)

// Curvature sets the leading n × n block (n = u.Cols) of the row-major dst
// with row stride stride ≥ n to the dense curvature F = λI + UᵀU, both
// triangles, exactly symmetric; dst's other entries are left alone. U
// comes from the U kernel, so F = λI + scale·JᵀHJ. It forms U densely in
// work (length at least u.Rows·u.Cols) and makes one BLAS rank-m update:
// O(n²·m) time and O(n² + m·n) memory, for small n only.
func Curvature(dst []float64, stride int, u *hal.Jacobian, lambda float64, work []float64) {
	checkShape(u)
	m, n := u.Rows, u.Cols
	if stride < n || len(dst) < (n-1)*stride+n {
		panic(fmt.Sprintf("ggn: dst of length %d with stride %d cannot hold %d×%d", len(dst), stride, n, n))
	}
	checkWork(len(work), m*n)
	ud := work[:m*n]
	Dense(ud, u)
	blas64.Syrk(blas.Trans, 1, general(m, n, n, ud), 0, blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: stride, Data: dst})
	for i := range n {
		dst[i*stride+i] += lambda
		for c := i + 1; c < n; c++ {
			dst[c*stride+i] = dst[i*stride+c]
		}
	}
}
