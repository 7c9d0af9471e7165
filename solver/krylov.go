package solver

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// Preconditioner applies an approximate inverse of A: dst ≈ M⁻¹r. It may
// differ from call to call (a noisy board solve does): FCG and FGMRES are
// the flexible methods that tolerate it. dst and r have length n and do
// not overlap; r must not be modified.
type Preconditioner interface {
	Apply(ctx context.Context, dst, r []float64) error
}

// PreconditionerFunc adapts a function to Preconditioner.
type PreconditionerFunc func(ctx context.Context, dst, r []float64) error

// Apply calls f.
func (f PreconditionerFunc) Apply(ctx context.Context, dst, r []float64) error { return f(ctx, dst, r) }

// DefaultKrylovMemory is KrylovSettings.Memory's default: the directions
// FCG keeps, FGMRES's restart length.
const DefaultKrylovMemory = 30

// KrylovSettings tune FCG and FGMRES.
type KrylovSettings struct {
	// Tol is the relative residual ‖b − A x‖₂/‖b‖₂ to stop at, in
	// [1e-15, 1).
	Tol float64
	// MaxIter bounds the iterations (preconditioner applications); zero
	// selects 10·n.
	MaxIter int
	// Memory is the number of earlier directions FCG orthogonalises
	// against (FCG(m) of Notay; 1 is flexible PCG's short recurrence) and
	// FGMRES's restart length; zero selects DefaultKrylovMemory.
	Memory int
}

// KrylovResult is the outcome of FCG or FGMRES.
type KrylovResult struct {
	// Iterations is the number of preconditioner applications.
	Iterations int
	// Residuals holds the relative residual after each iteration (from
	// the recurrence; FGMRES: its least-squares estimate).
	Residuals []float64
	// Residual is ‖b − A x‖₂/‖b‖₂ of the returned x, computed afresh.
	Residual float64
	// Converged says Residual ≤ Tol.
	Converged bool
}

// KrylovWork is reusable scratch for FCG and FGMRES; the zero value is
// ready and grows as needed.
type KrylovWork struct {
	buf []float64
}

// take returns count vectors of length n from w's buffer, zeroed.
func (w *KrylovWork) take(n, count int) [][]float64 {
	if w == nil {
		w = &KrylovWork{}
	}
	if len(w.buf) < n*count {
		w.buf = make([]float64, n*count)
	}
	clear(w.buf[:n*count])
	v := make([][]float64, count)
	for i := range v {
		v[i] = w.buf[i*n : (i+1)*n : (i+1)*n]
	}
	return v
}

// krylovArgs checks the shapes and settings shared by FCG and FGMRES and
// returns n and the resolved settings.
func krylovArgs(dst []float64, a mat.Matrix, b []float64, m Preconditioner, set KrylovSettings) (int, KrylovSettings, error) {
	if a == nil || m == nil {
		return 0, set, fmt.Errorf("nil matrix or preconditioner: %w", hal.ErrInvalid)
	}
	r, c := a.Dims()
	if r != c || r == 0 {
		return 0, set, fmt.Errorf("matrix A is %d×%d, want square and non-empty: %w", r, c, hal.ErrDimension)
	}
	if len(b) != r || len(dst) != r {
		return 0, set, fmt.Errorf("b has %d entries and x %d, want %d (the size of A): %w", len(b), len(dst), r, hal.ErrDimension)
	}
	if err := vector("b", b, r); err != nil {
		return 0, set, err
	}
	if err := vector("x", dst, r); err != nil {
		return 0, set, err
	}
	if !(set.Tol >= 1e-15 && set.Tol < 1) {
		return 0, set, fmt.Errorf("tolerance %g: want a relative residual in [1e-15, 1): %w", set.Tol, hal.ErrInvalid)
	}
	if set.MaxIter < 0 || set.Memory < 0 {
		return 0, set, fmt.Errorf("MaxIter = %d, Memory = %d: want ≥ 0 (0: default): %w", set.MaxIter, set.Memory, hal.ErrInvalid)
	}
	if set.MaxIter == 0 {
		set.MaxIter = 10 * r
	}
	if set.Memory == 0 {
		set.Memory = DefaultKrylovMemory
	}
	return r, set, nil
}

// mulVec writes dst = A x.
func mulVec(dst []float64, a mat.Matrix, x []float64) {
	d := mat.NewVecDense(len(dst), dst)
	d.MulVec(a, mat.NewVecDense(len(x), x))
}

// trueResidual writes r = b − A x and returns ‖r‖₂/‖b‖₂ (‖r‖₂ when b = 0).
func trueResidual(r []float64, a mat.Matrix, x, b []float64) float64 {
	mulVec(r, a, x)
	floats.SubTo(r, b, r)
	return ratio(floats.Norm(r, 2), floats.Norm(b, 2))
}

// RelResidual returns ‖b − A x‖₂/‖b‖₂ (‖b − A x‖₂ when b = 0), computed in
// float64: the measure Refine, Tiled and spu solve report. Shapes are the
// caller's to match (A n × n, x and b of length n).
func RelResidual(a mat.Matrix, x, b []float64) float64 {
	return trueResidual(make([]float64, len(b)), a, x, b)
}

// ratio is num/den, or num when den = 0.
func ratio(num, den float64) float64 {
	if den == 0 {
		return num
	}
	return num / den
}

// FCG solves A x = b for a symmetric positive-definite A by flexible
// conjugate gradients (Notay 2000, FCG(m)): each new search direction is
// the preconditioned residual z = M⁻¹r made A-orthogonal to the last m
// directions, p = z − Σ_j (zᵀAp_j / p_jᵀAp_j) p_j, and the step along it
// minimises the A-norm of the error. With a fixed SPD preconditioner and
// m ≥ 1 it is preconditioned CG in exact arithmetic; with a varying one
// (a board's noisy block solves) the orthogonalisation keeps it converging.
//
// dst holds the starting guess on entry (zeros for none) and x on return;
// the preconditioner is applied once per iteration; work may be nil. Bad
// shapes and settings are errors before anything is computed; a direction
// with pᵀAp ≤ 0 (A not positive definite) is an error naming it; a
// preconditioner's error is returned wrapped with the iteration. Not
// reaching Tol within MaxIter returns the result with an error wrapping
// ErrNotConverged.
func FCG(ctx context.Context, dst []float64, a mat.Matrix, b []float64, m Preconditioner, set KrylovSettings, work *KrylovWork) (KrylovResult, error) {
	n, set, err := krylovArgs(dst, a, b, m, set)
	if err != nil {
		return KrylovResult{}, fmt.Errorf("solver: fcg: %w", err)
	}
	// Slots for the current direction and the mem before it.
	mem := set.Memory
	slots := mem + 1
	v := work.take(n, 2+2*slots)
	r, z, ps, qs := v[0], v[1], v[2:2+slots], v[2+slots:]
	delta := make([]float64, slots)
	var res KrylovResult
	nb := floats.Norm(b, 2)
	rel := trueResidual(r, a, dst, b)
	for k := 0; rel > set.Tol && k < set.MaxIter; k++ {
		if err := m.Apply(ctx, z, r); err != nil {
			return res, fmt.Errorf("solver: fcg: iteration %d: preconditioner: %w", k+1, err)
		}
		res.Iterations++
		p, q := ps[k%slots], qs[k%slots]
		copy(p, z)
		for j := max(0, k-mem); j < k; j++ {
			floats.AddScaled(p, -floats.Dot(z, qs[j%slots])/delta[j%slots], ps[j%slots])
		}
		mulVec(q, a, p)
		d := floats.Dot(p, q)
		if !(d > 0) {
			return res, fmt.Errorf("solver: fcg: iteration %d: direction with pᵀAp = %g ≤ 0: A is not positive definite (use FGMRES): %w", k+1, d, hal.ErrUnsupported)
		}
		delta[k%slots] = d
		alpha := floats.Dot(p, r) / d
		floats.AddScaled(dst, alpha, p)
		floats.AddScaled(r, -alpha, q)
		rel = ratio(floats.Norm(r, 2), nb)
		res.Residuals = append(res.Residuals, rel)
	}
	return krylovEnd("fcg", res, r, a, dst, b, set)
}

// krylovEnd recomputes the residual of x and says whether it converged.
func krylovEnd(name string, res KrylovResult, r []float64, a mat.Matrix, x, b []float64, set KrylovSettings) (KrylovResult, error) {
	res.Residual = trueResidual(r, a, x, b)
	res.Converged = res.Residual <= set.Tol
	if !res.Converged {
		return res, fmt.Errorf("solver: %s: %w: relative residual %.3g after %d iterations, above %g", name, ErrNotConverged, res.Residual, res.Iterations, set.Tol)
	}
	return res, nil
}

// FGMRES solves A x = b for a general (nonsingular) A by flexible GMRES
// with restarts (Saad 1993): the Arnoldi process builds an orthonormal
// basis v_j of the residuals' Krylov space and keeps the preconditioned
// vectors z_j = M⁻¹v_j (which may vary), and x + Z y minimises ‖b − A x‖₂
// over their span, y from the Hessenberg least-squares problem solved by
// Givens rotations. Memory is the restart length. dst, work, the errors and
// ErrNotConverged are as for FCG.
func FGMRES(ctx context.Context, dst []float64, a mat.Matrix, b []float64, m Preconditioner, set KrylovSettings, work *KrylovWork) (KrylovResult, error) {
	n, set, err := krylovArgs(dst, a, b, m, set)
	if err != nil {
		return KrylovResult{}, fmt.Errorf("solver: fgmres: %w", err)
	}
	mem := set.Memory
	v := work.take(n, 2+2*mem)
	r, w, vs, zs := v[0], v[1], v[2:2+mem], v[2+mem:]
	var res KrylovResult
	nb := floats.Norm(b, 2)
	h := make([]float64, (mem+1)*mem) // Hessenberg, column-major (mem+1) × mem
	cs, sn, g := make([]float64, mem), make([]float64, mem), make([]float64, mem+1)
	for rel := trueResidual(r, a, dst, b); rel > set.Tol && res.Iterations < set.MaxIter; rel = trueResidual(r, a, dst, b) {
		beta := floats.Norm(r, 2)
		floats.ScaleTo(vs[0], 1/beta, r)
		clear(g)
		g[0] = beta
		j := 0
		for j < mem && res.Iterations < set.MaxIter {
			if err := m.Apply(ctx, zs[j], vs[j]); err != nil {
				return res, fmt.Errorf("solver: fgmres: iteration %d: preconditioner: %w", res.Iterations+1, err)
			}
			res.Iterations++
			hj := h[j*(mem+1) : (j+1)*(mem+1)]
			last := arnoldi(hj, w, vs[:j+1], a, zs[j])
			if j+1 < mem && last > 0 {
				floats.ScaleTo(vs[j+1], 1/last, w)
			}
			givens(hj, j, cs, sn, g)
			j++
			res.Residuals = append(res.Residuals, ratio(math.Abs(g[j]), nb))
			if math.Abs(g[j]) <= set.Tol*nb || last == 0 {
				break
			}
		}
		update(dst, h, mem, j, g, zs)
	}
	return krylovEnd("fgmres", res, r, a, dst, b, set)
}

// arnoldi writes w = A z orthogonalised against the basis vs by modified
// Gram–Schmidt, the coefficients into h[0:len(vs)] and ‖w‖ into
// h[len(vs)], which it returns.
func arnoldi(h, w []float64, vs [][]float64, a mat.Matrix, z []float64) float64 {
	mulVec(w, a, z)
	for i, vi := range vs {
		h[i] = floats.Dot(w, vi)
		floats.AddScaled(w, -h[i], vi)
	}
	h[len(vs)] = floats.Norm(w, 2)
	return h[len(vs)]
}

// givens applies the earlier rotations to column j of the Hessenberg
// matrix (hj), makes the rotation that zeroes its subdiagonal entry and
// applies it to g.
func givens(hj []float64, j int, cs, sn, g []float64) {
	for i := range j {
		hj[i], hj[i+1] = cs[i]*hj[i]+sn[i]*hj[i+1], -sn[i]*hj[i]+cs[i]*hj[i+1]
	}
	c, s, rr, _ := blas64.Implementation().Drotg(hj[j], hj[j+1])
	cs[j], sn[j] = c, s
	hj[j], hj[j+1] = rr, 0
	g[j], g[j+1] = c*g[j], -s*g[j]
}

// update solves the j × j upper-triangular R y = g (R in h, column-major
// with stride mem+1) and adds Z y to x.
func update(x, h []float64, mem, j int, g []float64, zs [][]float64) {
	y := make([]float64, j)
	for i := j - 1; i >= 0; i-- {
		s := g[i]
		for k := i + 1; k < j; k++ {
			s -= h[k*(mem+1)+i] * y[k]
		}
		if d := h[i*(mem+1)+i]; d != 0 {
			y[i] = s / d // 0 only when the preconditioner returned 0
		}
	}
	for i := range j {
		floats.AddScaled(x, y[i], zs[i])
	}
}
