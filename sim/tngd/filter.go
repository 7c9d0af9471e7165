package tngd

import (
	"context"
	"math"
	"time"

	"github.com/spukit/spukit/ggn"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// The ADC's anti-aliasing filter (Profile.ADCFilterHz > 0): every channel
// reads its cell through a second-order Butterworth low-pass, two more
// linear states per cell (v the filter's output, u = v̇/ω), so that in
// units of τ
//
//	dx = −(A x − b) dt + sqrt(2κ₀) dW
//	dv = ω u dt
//	du = (ω x − ω v − √2 ω u) dt,      ω = 2π·adc_filter_hz·τ,
//
// i.e. v̈ + √2ωv̇ + ω²v = ω²x, the filter of the dense board (sim/rails.go).
// The ADC reads v. Since the filter is the same on every channel, the
// augmented drift is a 3 × 3 block matrix whose blocks are polynomials in
// A, so every block of the exact transition over t is a scalar function of
// A, evaluated per eigenvalue a from the 3 × 3 matrix F(a) =
// [[−a, 0, 0], [0, 0, ω], [ω, −ω, −√2ω]]:
//
//	s(t) = E(A) s0 + D(A) b + L(A) [z₁; z₂; z₃],   z_k ~ N(0, I)
//
// with E = e^{F t}, D = ∫₀ᵗ e^{F r} dr e₁ and L the Cholesky factor of the
// covariance C = ∫₀ᵗ e^{F r} Q e^{Fᵀ r} dr, Q = diag(2κ₀, 0, 0), both from
// Van Loan's block exponentials. E's (v, u) block does not depend on a (F
// is block lower triangular), so v0 and u0 enter with constants. Each
// function f of A is applied by the push-through identity of the package
// doc, f(A)y = f(λ)y + Uᵀψ_f(G)Uy with ψ_f(s) = (f(λ+s) − f(λ))/s, on the
// eigendecomposition of G: an eigenvector q with eigenvalue s adds
// ψ_f(s)·(qᵀUy)·Uᵀq, of norm |ψ_f(s)|·s·‖y‖, so rounding in ψ_f at small s
// (≈ ε|f|/s) costs ≈ ε|f|‖y‖, and s ≤ ε·max(s) is dropped (ψ_f bounded by
// |f'|). With the filter on, every transition takes the
// eigendecomposition path (O(m³) once per programming, cached per
// duration), whatever `method` says.

// filterRows are the three rows (x, v, u) of the transition, each a
// combination of x0, b, z₁, z₂, z₃ through functions of A.
const (
	inX = iota
	inB
	inZ1
	inZ2
	inZ3
	nIn
)

// cellFns are the transition's scalar functions at one eigenvalue a of A:
// f[r][k] multiplies input k in row r; vu holds the constant (v, u) block
// of E.
type cellFns struct {
	f  [3][nIn]float64
	vu [2][2]float64
}

// filterOmega is ω in units of 1/τ.
func (b *Board) filterOmega() float64 { return 2 * math.Pi * b.p.ADCFilterHz * b.p.TauS }

// newCellFns evaluates the transition over t at eigenvalue a.
func newCellFns(a, t, w, kappa float64) cellFns {
	f := mat.NewDense(3, 3, []float64{
		-a, 0, 0,
		0, 0, w,
		w, -w, -math.Sqrt2 * w,
	})
	// [[F, e₁], [0, 0]]·t: E and D.
	m4 := mat.NewDense(4, 4, nil)
	for i := range 3 {
		for j := range 3 {
			m4.Set(i, j, f.At(i, j)*t)
		}
	}
	m4.Set(0, 3, t)
	var e4 mat.Dense
	e4.Exp(m4)
	var c cellFns
	for r := range 3 {
		c.f[r][inX] = e4.At(r, 0)
		c.f[r][inB] = e4.At(r, 3)
	}
	c.vu = [2][2]float64{{e4.At(1, 1), e4.At(1, 2)}, {e4.At(2, 1), e4.At(2, 2)}}
	if kappa == 0 {
		return c
	}
	// Van Loan: exp([[−F, Q], [0, Fᵀ]]·t) = [[·, P₁₂], [0, P₂₂]],
	// E = P₂₂ᵀ, C = P₂₂ᵀP₁₂.
	m6 := mat.NewDense(6, 6, nil)
	for i := range 3 {
		for j := range 3 {
			m6.Set(i, j, -f.At(i, j)*t)
			m6.Set(3+i, 3+j, f.At(j, i)*t)
		}
	}
	m6.Set(0, 3, 2*kappa*t)
	var e6, cv mat.Dense
	e6.Exp(m6)
	cv.Mul(e6.Slice(3, 6, 3, 6).T(), e6.Slice(0, 3, 3, 6))
	l := chol3(&cv)
	for r := range 3 {
		c.f[r][inZ1], c.f[r][inZ2], c.f[r][inZ3] = l[r][0], l[r][1], l[r][2]
	}
	return c
}

// chol3 is the lower Cholesky factor of a symmetric positive semidefinite
// 3 × 3 matrix (symmetrised), a zero pivot giving a zero column: for
// short t the filter states are barely excited and C is nearly singular.
func chol3(c mat.Matrix) [3][3]float64 {
	var l [3][3]float64
	s := func(i, j int) float64 { return (c.At(i, j) + c.At(j, i)) / 2 }
	for j := range 3 {
		d := s(j, j)
		for k := range j {
			d -= l[j][k] * l[j][k]
		}
		if d <= 0 {
			continue
		}
		l[j][j] = math.Sqrt(d)
		for i := j + 1; i < 3; i++ {
			v := s(i, j)
			for k := range j {
				v -= l[i][k] * l[j][k]
			}
			l[i][j] = v / l[j][j]
		}
	}
	return l
}

// filterPsi caches, for one duration, the functions at λ and ψ_f on the
// spectrum of G (psi[r][k][i] for eigenvalue i).
type filterPsi struct {
	lam cellFns
	psi [3][nIn][]float64
}

func (b *Board) newFilterPsi(pr *program, t float64) *filterPsi {
	w, kappa := b.filterOmega(), b.p.NoiseV*b.p.NoiseV
	fp := &filterPsi{lam: newCellFns(b.lam, t, w, kappa)}
	if pr == nil {
		return fp
	}
	ge := pr.eig
	smax := floats.Max(ge.s)
	for r := range 3 {
		for k := range nIn {
			fp.psi[r][k] = make([]float64, ge.m)
		}
	}
	for i, s := range ge.s {
		if !(s > 1e-15*smax) {
			continue // the eigenvector's share is ψ·s·‖y‖ ≤ |f'|·s·‖y‖
		}
		c := newCellFns(b.lam+s, t, w, kappa)
		for r := range 3 {
			for k := range nIn {
				fp.psi[r][k][i] = (c.f[r][k] - fp.lam.f[r][k]) / s
			}
		}
	}
	return fp
}

// advanceFiltered applies the exact transition of cells and filters over
// d (see above). On error the state is unchanged.
func (b *Board) advanceFiltered(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := d.Seconds() / b.p.TauS
	noise := b.p.NoiseV > 0
	if noise {
		for _, z := range [][]float64{b.z, b.z2, b.z3} {
			for i := range z {
				z[i] = b.noise.NormFloat64()
			}
		}
	}
	pr := b.prog
	var fp *filterPsi
	if pr == nil {
		fp = b.newFilterPsi(nil, t)
	} else {
		if err := b.filterEig(pr); err != nil {
			return err
		}
		if fp = pr.filterPsi[d]; fp == nil {
			if len(pr.filterPsi) >= 16 {
				clear(pr.filterPsi)
			}
			fp = b.newFilterPsi(pr, t)
			pr.filterPsi[d] = fp
		}
	}
	in := [nIn][]float64{b.x, b.biasProg, b.z, b.z2, b.z3}
	rows := [3][]float64{b.xn, b.fvn, b.fun}
	for r, dst := range rows {
		c := &fp.lam.f[r]
		for i := range dst {
			v := c[inX]*in[inX][i] + c[inB]*in[inB][i]
			if noise {
				v += c[inZ1]*in[inZ1][i] + c[inZ2]*in[inZ2][i] + c[inZ3]*in[inZ3][i]
			}
			if r > 0 {
				e := fp.lam.vu[r-1]
				v += e[0]*b.fv[i] + e[1]*b.fu[i]
			}
			dst[i] = v
		}
	}
	if pr != nil {
		b.filterRowSpace(pr, fp, in, rows, noise)
	}
	b.x, b.xn = b.xn, b.x
	b.fv, b.fvn = b.fvn, b.fv
	b.fu, b.fun = b.fun, b.fu
	b.stats.Transitions++
	return nil
}

// filterEig makes sure pr has the eigendecomposition of G.
func (b *Board) filterEig(pr *program) error {
	if pr.eig == nil {
		ge, err := newGramEig(pr.g, pr.m)
		if err != nil {
			return err
		}
		pr.eig, pr.eigPsi = ge, map[time.Duration]*eigPsi{}
		b.stats.Eigendecompositions++
	}
	if pr.filterPsi == nil {
		pr.filterPsi = map[time.Duration]*filterPsi{}
	}
	return nil
}

// filterRowSpace adds Uᵀ Σ_k ψ_{r,k}(G) U y_k to each row r: the inputs'
// coordinates on G's eigenvectors, c_{k,i} = q_iᵀ U y_k, then one
// product with Uᵀ per row.
func (b *Board) filterRowSpace(pr *program, fp *filterPsi, in [nIn][]float64, rows [3][]float64, noise bool) {
	n, m, ge := pr.n, pr.m, pr.eig
	nk := nIn
	if !noise {
		nk = inZ1
	}
	var coords [nIn][]float64
	uy := make([]float64, m)
	for k := range nk {
		ggn.MulVec(uy, &pr.u, in[k][:n], pr.work)
		coords[k] = make([]float64, m)
		for i := range m {
			coords[k][i] = floats.Dot(ge.qt[i*m:i*m+m], uy)
		}
	}
	for r, dst := range rows {
		for i := range m {
			c := 0.0
			for k := range nk {
				c += fp.psi[r][k][i] * coords[k][i]
			}
			pr.coef[i] = c
		}
		clear(pr.out)
		for i, c := range pr.coef[:m] {
			if c != 0 {
				floats.AddScaled(pr.out, c, ge.qt[i*m:i*m+m])
			}
		}
		ggn.MulTransVec(pr.back, &pr.u, pr.out, pr.work)
		floats.Add(dst[:n], pr.back)
	}
}
