package tngd

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// symMul sets dst to G v for the m × m row-major g.
func symMul(g []float64, m int, dst, v []float64) {
	for i := range m {
		dst[i] = floats.Dot(g[i*m:i*m+m], v)
	}
}

// symMul2 sets d1 = G v1 and d2 = G v2, reading each row of G once.
func symMul2(g []float64, m int, d1, v1, d2, v2 []float64) {
	for i := range m {
		row := g[i*m : i*m+m]
		d1[i] = floats.Dot(row, v1)
		d2[i] = floats.Dot(row, v2)
	}
}

// ---------------------------------------------------------------------------
// Symmetric tridiagonal eigenproblem with implicit QL (tql2), recording the
// Givens rotations instead of accumulating the eigenvector matrix Z, so
// that f(T)e₁ = Z f(Θ) Zᵀe₁ costs O(k²) instead of O(k³).

type givens struct {
	i    int
	c, s float64
}

type triEig struct {
	d, e  []float64 // eigenvalues on return; work
	rot   []givens
	first []float64 // Zᵀe₁
}

// factor computes the eigenvalues of the k × k tridiagonal matrix with
// diagonal alpha and off-diagonal beta (len k−1). It reports false if QL
// did not converge (then use a dense fallback).
func (te *triEig) factor(alpha, beta []float64) bool {
	k := len(alpha)
	te.d = append(te.d[:0], alpha...)
	te.e = append(te.e[:0], beta...)
	te.e = append(te.e, 0)
	te.rot = te.rot[:0]
	d, e := te.d, te.e
	for l := 0; l < k; l++ {
		for iter := 0; ; iter++ {
			m := l
			for ; m < k-1; m++ {
				dd := math.Abs(d[m]) + math.Abs(d[m+1])
				if math.Abs(e[m]) <= 0x1p-53*dd {
					break
				}
			}
			if m == l {
				break
			}
			if iter == 60 {
				return false
			}
			g := (d[l+1] - d[l]) / (2 * e[l])
			r := math.Sqrt(g*g + 1)
			g = d[m] - d[l] + e[l]/(g+math.Copysign(r, g))
			s, c, p := 1.0, 1.0, 0.0
			i := m - 1
			underflow := false
			for ; i >= l; i-- {
				f := s * e[i]
				b := c * e[i]
				r = math.Sqrt(f*f + g*g) // T's entries are bounded by ‖G‖: no overflow
				e[i+1] = r
				if r == 0 {
					d[i+1] -= p
					e[m] = 0
					underflow = true
					break
				}
				s = f / r
				c = g / r
				g = d[i+1] - p
				r = (d[i]-g)*s + 2*c*b
				p = s * r
				d[i+1] = g + p
				g = c*r - b
				te.rot = append(te.rot, givens{i, c, s})
			}
			if underflow {
				continue
			}
			d[l] -= p
			e[l] = g
			e[m] = 0
		}
	}
	// Zᵀe₁ is the first row of Z = G₁G₂⋯G_R: apply the rotations in order.
	te.first = append(te.first[:0], make([]float64, k)...)
	te.first[0] = 1
	u := te.first
	for _, q := range te.rot {
		f := u[q.i+1]
		u[q.i+1] = q.s*u[q.i] + q.c*f
		u[q.i] = q.c*u[q.i] - q.s*f
	}
	return true
}

// apply sets dst (len k) to f(T)e₁ = Z diag(f(θ)) Zᵀe₁.
func (te *triEig) apply(dst []float64, f func(float64) float64) {
	for i, th := range te.d {
		dst[i] = f(th) * te.first[i]
	}
	for j := len(te.rot) - 1; j >= 0; j-- {
		q := te.rot[j]
		a, b := dst[q.i], dst[q.i+1]
		dst[q.i] = q.c*a + q.s*b
		dst[q.i+1] = -q.s*a + q.c*b
	}
}

// denseTriApply is the fallback of triEig: f(T)e₁ via a dense symmetric
// eigendecomposition.
func denseTriApply(dst, alpha, beta []float64, f func(float64) float64) bool {
	k := len(alpha)
	t := mat.NewSymDense(k, nil)
	for i := range k {
		t.SetSym(i, i, alpha[i])
		if i+1 < k {
			t.SetSym(i, i+1, beta[i])
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(t, true) {
		return false
	}
	var z mat.Dense
	eig.VectorsTo(&z)
	vals := eig.Values(nil)
	for i := range k {
		acc := 0.0
		for j, th := range vals {
			acc += z.At(i, j) * f(th) * z.At(0, j)
		}
		dst[i] = acc
	}
	return true
}

// ---------------------------------------------------------------------------
// Lanczos with full reorthogonalisation for ψ(G)y.

type krylov struct {
	m, kmax int
	f       func(float64) float64
	norm    float64
	q       []float64 // basis vectors, rows of length m
	alpha   []float64
	beta    []float64
	j       int // basis vectors so far
	active  bool
	done    bool
	c, prev []float64
	te      triEig
	w       []float64
	gnorm   float64 // running estimate of ‖G‖ for the breakdown test
	next    int     // step of the next convergence check
}

func (kv *krylov) reset(m, kmax int) {
	kv.m, kv.kmax = m, kmax
	kv.q = kv.q[:0] // grown on demand: most runs need far fewer than kmax vectors
	kv.alpha = kv.alpha[:0]
	kv.beta = kv.beta[:0]
	kv.j = 0
	kv.active, kv.done = false, false
	kv.gnorm = 0
	kv.next = 4
	if cap(kv.w) < m {
		kv.w = make([]float64, m)
	}
	kv.w = kv.w[:m]
}

// start begins the recurrence from y. A zero y needs no work.
func (kv *krylov) start(y []float64, f func(float64) float64) {
	kv.f = f
	kv.norm = floats.Norm(y, 2)
	if kv.norm == 0 {
		kv.done = true
		kv.c = kv.c[:0]
		return
	}
	kv.q = append(kv.q[:0], y...)
	floats.Scale(1/kv.norm, kv.q)
	kv.j = 1
	kv.active = true
}

// coeffs sets kv.c to ψ(T_j)e₁ for the current T_j.
func (kv *krylov) coeffs() error {
	j := kv.j
	kv.c = append(kv.c[:0], make([]float64, j)...)
	if kv.te.factor(kv.alpha[:j], kv.beta[:j-1]) {
		kv.te.apply(kv.c, kv.f)
		return nil
	}
	if denseTriApply(kv.c, kv.alpha[:j], kv.beta[:j-1], kv.f) {
		return nil
	}
	return fmt.Errorf("tridiagonal eigenproblem of size %d failed: %w", j, ErrNotConverged)
}

// step finishes iteration j given w = G q_{j−1} (in kv.w): α, β, full
// reorthogonalisation, and a convergence check now and then. It reports
// an error only for a failed tridiagonal solve; not reaching tol by kmax
// leaves active false and done false.
func (kv *krylov) step(tol float64) error {
	m, j := kv.m, kv.j
	w := kv.w
	qj := kv.q[(j-1)*m : j*m]
	a := floats.Dot(qj, w)
	floats.AddScaled(w, -a, qj)
	if j > 1 {
		floats.AddScaled(w, -kv.beta[j-2], kv.q[(j-2)*m:(j-1)*m])
	}
	// Full reorthogonalisation (modified Gram–Schmidt against every basis
	// vector): keeps the basis orthonormal to working precision, so the
	// Ritz values do not duplicate and the result is accurate.
	for i := range j {
		qi := kv.q[i*m : (i+1)*m]
		h := floats.Dot(qi, w)
		floats.AddScaled(w, -h, qi)
	}
	b := floats.Norm(w, 2)
	kv.alpha = append(kv.alpha, a)
	// A row sum of |T| is within a factor 3 of ‖T‖ ≤ ‖G‖: a scale for
	// the breakdown test.
	rowT := math.Abs(a) + b
	if j > 1 {
		rowT += kv.beta[j-2]
	}
	kv.gnorm = math.Max(kv.gnorm, rowT)
	// An (almost) invariant Krylov space: T_j is exact.
	if b <= 1e-13*kv.gnorm || j == m {
		if err := kv.coeffs(); err != nil {
			return err
		}
		kv.active, kv.done = false, true
		return nil
	}
	kv.beta = append(kv.beta, b)
	if j == kv.next || j == kv.kmax {
		// Checks 4 steps apart up to 32, then 1/8 of the steps apart: the
		// O(j²) tridiagonal solves stay a small part of the work, and a
		// converged run overshoots by at most 1/8.
		kv.next = j + max(4, j/8)
		if err := kv.coeffs(); err != nil {
			return err
		}
		if len(kv.prev) > 0 {
			diff := 0.0
			for i, v := range kv.c {
				p := 0.0
				if i < len(kv.prev) {
					p = kv.prev[i]
				}
				diff += (v - p) * (v - p)
			}
			if math.Sqrt(diff) <= tol*floats.Norm(kv.c, 2) {
				kv.active, kv.done = false, true
				return nil
			}
		}
		kv.prev = append(kv.prev[:0], kv.c...)
	}
	if j == kv.kmax {
		kv.active = false
		return nil
	}
	kv.q = append(kv.q, w...)
	floats.Scale(1/b, kv.q[j*m:(j+1)*m])
	kv.j++
	return nil
}

// addResult adds norm·V c to dst (length m).
func (kv *krylov) addResult(dst []float64) {
	if kv.norm == 0 {
		return
	}
	for i, ci := range kv.c {
		floats.AddScaled(dst, kv.norm*ci, kv.q[i*kv.m:(i+1)*kv.m])
	}
}

// lanczos2 evaluates ψ_a(G)y_a and ψ_b(G)y_b (y_b may be nil) together,
// sharing each pass over G, and adds them to dst. It returns the number of
// products with G it used.
func lanczos2(ctx context.Context, g []float64, m int, ka, kb *krylov, ya []float64, fa func(float64) float64,
	yb []float64, fb func(float64) float64, tol float64, kmax int, dst []float64) (int, error) {
	kmax = min(kmax, m)
	ka.reset(m, kmax)
	kb.reset(m, kmax)
	ka.prev, kb.prev = ka.prev[:0], kb.prev[:0]
	ka.start(ya, fa)
	if yb != nil {
		kb.start(yb, fb)
	} else {
		kb.done = true
	}
	prods := 0
	for iter := 0; ka.active || kb.active; iter++ {
		if iter&31 == 31 {
			if err := ctx.Err(); err != nil {
				return prods, err
			}
		}
		switch {
		case ka.active && kb.active:
			symMul2(g, m, ka.w, ka.q[(ka.j-1)*m:ka.j*m], kb.w, kb.q[(kb.j-1)*m:kb.j*m])
			prods += 2
		case ka.active:
			symMul(g, m, ka.w, ka.q[(ka.j-1)*m:ka.j*m])
			prods++
		default:
			symMul(g, m, kb.w, kb.q[(kb.j-1)*m:kb.j*m])
			prods++
		}
		for _, kv := range []*krylov{ka, kb} {
			if kv.active {
				if err := kv.step(tol); err != nil {
					return prods, err
				}
			}
		}
	}
	if !ka.done || !kb.done {
		return prods, fmt.Errorf("%d×%d Gram: relative change above %g after %d steps (raise lanczos_max or use method=eig): %w",
			m, m, tol, kmax, ErrNotConverged)
	}
	ka.addResult(dst)
	kb.addResult(dst)
	return prods, nil
}
