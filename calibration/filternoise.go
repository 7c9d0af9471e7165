package calibration

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// diffusion returns the continuous diffusion Q (V²/s, row-major) of one
// probe's fit in volts through this filter, with its realised τ_ref·M
// (tau = τ_ref in seconds), and the read noise N (V², per channel).
//
// The augmented state s_n = (x, v, u) at the readings is an exact
// autoregression s_{n+1} = Ψ s_n + ξ_n, Ψ = e^{−Ah}, Cov ξ = Q_d(Q) =
// ∫₀ʰ e^{−As} B Q Bᵀ e^{−Aᵀs} ds (B puts Q on the nodes), and the reading
// is r_n = C s_n + ν_n (C picks v, Cov ν = N diagonal). The residual is
// e_n = Σ_j L_j r_{n+j} with L = (−a₂Φ, a₂ + a₁Φ, −(a₁ + Φ), I), which
// cancels every mode (Σ_j L_j CΨ^j = 0), so e_n = Σ_{m<3} K_m ξ_{n+m} +
// Σ_j L_j ν_{n+j} with K_m = Σ_{j>m} L_j CΨ^{j−1−m}, and
//
//	E[e eᵀ]        = Σ_m K_m Q_d K_mᵀ + Σ_j L_j N L_jᵀ
//	E[e_n e_{n+1}ᵀ] = Σ_m K_{m+1} Q_d K_mᵀ + Σ_j L_{j+1} N L_jᵀ,
//
// linear in Q and N: the residual covariance and lag-1 covariance of the
// fit give them by least squares. Q_d's integral is 8-point
// Gauss–Legendre (the integrand is analytic on a period ≈ Ω⁻¹/2: error
// far below 10⁻¹⁰).
func (af *adcFilter) diffusion(f *fit, realised []float64, tau float64, k int) (q, rn []float64, err error) {
	m := mat.NewDense(k, k, nil)
	for e, v := range realised {
		m.Set(e/k, e%k, v/tau)
	}
	a := af.augDrift(m)
	psi := transition(a, af.H)
	phi := mat.NewDense(k, k, f.Phi)
	ls := make([]*mat.Dense, 4)
	for j := range ls {
		ls[j] = mat.NewDense(k, k, nil)
	}
	ls[0].Scale(-af.A2, phi)
	ls[1].Scale(af.A1, phi)
	ls[2].Scale(-1, phi)
	for i := range k {
		ls[1].Set(i, i, ls[1].At(i, i)+af.A2)
		ls[2].Set(i, i, ls[2].At(i, i)-af.A1)
		ls[3].Set(i, i, 1)
	}
	// CΨ^p, p = 0, 1, 2: the v-rows of Ψ^p.
	cp := make([]*mat.Dense, 3)
	pw := mat.NewDense(3*k, 3*k, nil)
	for i := range 3 * k {
		pw.Set(i, i, 1)
	}
	for p := range cp {
		cp[p] = mat.DenseCopyOf(pw.Slice(k, 2*k, 0, 3*k))
		var nx mat.Dense
		nx.Mul(pw, psi)
		pw = &nx
	}
	km := make([]*mat.Dense, 3)
	for mi := range km {
		km[mi] = mat.NewDense(k, 3*k, nil)
		for j := mi + 1; j <= 3; j++ {
			var t mat.Dense
			t.Mul(ls[j], cp[j-1-mi])
			km[mi].Add(km[mi], &t)
		}
	}
	return solveNoise(f, k, ls, noiseFactors(a, km, af.H, k))
}

// noiseFactors returns √w_q·K_m·e^{−A s_q}·B (K×K) for the residual's
// noise terms m = 0, 1, 2 and the Gauss–Legendre nodes s_q on [0, h].
func noiseFactors(a *mat.Dense, km []*mat.Dense, h float64, k int) [][]*mat.Dense {
	xs, ws := gaussLegendre8()
	out := make([][]*mat.Dense, len(km))
	for q := range xs {
		e := transition(a, h*(1+xs[q])/2)
		w := math.Sqrt(ws[q] * h / 2)
		for mi, kk := range km {
			var g mat.Dense
			g.Mul(kk, e.Slice(0, 3*k, 0, k))
			g.Scale(w, &g)
			out[mi] = append(out[mi], &g)
		}
	}
	return out
}

// gaussLegendre8 returns the 8-point Gauss–Legendre nodes and weights on
// [−1, 1] (Abramowitz & Stegun, Table 25.4).
func gaussLegendre8() (x, w []float64) {
	p := []float64{0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363}
	q := []float64{0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763}
	for i := range p {
		x, w = append(x, -p[i], p[i]), append(w, q[i], q[i])
	}
	return x, w
}

// solveNoise solves the residual's lag-0 and lag-1 covariances of fit f
// for the diffusion Q (symmetric) and the diagonal read noise N, given the
// residual's read-noise weights ls and noise factors g (diffusion's doc).
func solveNoise(f *fit, k int, ls []*mat.Dense, g [][]*mat.Dense) (q, rn []float64, err error) {
	type pair struct{ i, j int }
	var qs, r0s []pair
	for i := range k {
		for j := i; j < k; j++ {
			qs = append(qs, pair{i, j})
			r0s = append(r0s, pair{i, j})
		}
	}
	rows, cols := len(r0s)+k*k, len(qs)+k
	a := mat.NewDense(rows, cols, nil)
	b := mat.NewVecDense(rows, nil)
	// term returns Σ x(i,c)·y(j,d) + (c ≠ d) x(i,d)·y(j,c) over pairs.
	term := func(xs, ys []*mat.Dense, i, j, c, d int) float64 {
		v := 0.0
		for t := range xs {
			v += xs[t].At(i, c) * ys[t].At(j, d)
			if c != d {
				v += xs[t].At(i, d) * ys[t].At(j, c)
			}
		}
		return v
	}
	var g0, g1, g1a, l0, l1, l1a []*mat.Dense
	for mi := range g {
		g0 = append(g0, g[mi]...)
		if mi < 2 {
			g1 = append(g1, g[mi+1]...)
			g1a = append(g1a, g[mi]...)
		}
	}
	l0 = ls
	l1, l1a = ls[1:], ls[:3]
	for r, p := range r0s {
		b.SetVec(r, f.Resid[p.i*k+p.j])
		for c, u := range qs {
			a.Set(r, c, term(g0, g0, p.i, p.j, u.i, u.j))
		}
		for c := range k {
			a.Set(r, len(qs)+c, term(l0, l0, p.i, p.j, c, c))
		}
	}
	for e := range k * k {
		r, i, j := len(r0s)+e, e/k, e%k
		b.SetVec(r, f.Lag1[e])
		for c, u := range qs {
			a.Set(r, c, term(g1, g1a, i, j, u.i, u.j))
		}
		for c := range k {
			a.Set(r, len(qs)+c, term(l1, l1a, i, j, c, c))
		}
	}
	// Unit columns: Q (V²/s) and N (V²) differ in scale by ≈ 10⁵.
	sc := make([]float64, cols)
	for c := range cols {
		sc[c] = mat.Norm(a.ColView(c), 2)
		if sc[c] == 0 {
			return nil, nil, fmt.Errorf("calibration: noise through the ADC filter: unknown %d is not observed: %w", c, hal.ErrUnsupported)
		}
		for r := range rows {
			a.Set(r, c, a.At(r, c)/sc[c])
		}
	}
	var x mat.VecDense
	if err := x.SolveVec(a, b); err != nil {
		return nil, nil, fmt.Errorf("calibration: noise through the ADC filter: %v: %w", err, hal.ErrUnsupported)
	}
	q = make([]float64, k*k)
	for c, u := range qs {
		v := x.AtVec(c) / sc[c]
		q[u.i*k+u.j], q[u.j*k+u.i] = v, v
	}
	rn = make([]float64, k)
	for c := range k {
		rn[c] = x.AtVec(len(qs)+c) / sc[len(qs)+c]
	}
	return q, rn, nil
}

// nelderMead2 minimises a smooth function of two variables from x0 by
// Nelder–Mead (reflection 1, expansion 2, contraction ½, shrink ½) with an
// initial simplex of size step, until the simplex's values agree to 10⁻¹⁴
// (the function is scaled to ≈ 1 at x0) or after 4000 iterations.
func nelderMead2(fn func([2]float64) float64, x0 [2]float64, step float64) [2]float64 {
	p := [3][2]float64{x0, {x0[0] + step, x0[1]}, {x0[0], x0[1] + step}}
	v := [3]float64{fn(p[0]), fn(p[1]), fn(p[2])}
	at := func(a [2]float64, t float64, b [2]float64) [2]float64 {
		return [2]float64{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
	}
	for range 4000 {
		// Order: p[0] best, p[2] worst.
		for i := 0; i < 2; i++ {
			for j := 0; j < 2-i; j++ {
				if v[j+1] < v[j] {
					v[j], v[j+1], p[j], p[j+1] = v[j+1], v[j], p[j+1], p[j]
				}
			}
		}
		if v[2]-v[0] <= 1e-14 {
			break
		}
		c := at(p[0], 0.5, p[1]) // centroid of the two best
		r := at(p[2], 2, c)      // reflection: c + (c − worst)
		fr := fn(r)
		switch {
		case fr < v[0]:
			if e := at(p[2], 3, c); fn(e) < fr {
				p[2], v[2] = e, fn(e)
			} else {
				p[2], v[2] = r, fr
			}
		case fr < v[1]:
			p[2], v[2] = r, fr
		default:
			if ct := at(p[2], 0.5, c); fn(ct) < v[2] {
				p[2], v[2] = ct, fn(ct)
			} else {
				for i := 1; i < 3; i++ {
					p[i] = at(p[0], 0.5, p[i])
					v[i] = fn(p[i])
				}
			}
		}
	}
	if v[1] < v[0] {
		p[0] = p[1]
	}
	if v[2] < v[0] && v[2] < v[1] {
		p[0] = p[2]
	}
	return p[0]
}
