package calibration

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// The ADC's anti-aliasing filter. An AD7606 reads every channel through an
// on-chip second-order low-pass (−3 dB at 15–23 kHz, group delay ≈ 15 µs
// at 15 kHz, docs/profiles.md), comparable with the sample period and the
// couplings' time scales. The readings are then not a first-order
// autoregression: after a forcing (which leaves the filter settled on the
// forced voltages) the reading starts with zero slope, and regressing
// r_{n+1} on r_n misses the couplings by up to 30 %.
//
// The model here needs no datasheet value. Let the filter be linear, with
// unit DC gain and the same on every channel (one die), so that its two
// modes are the same scalars μ± on every channel. The mean path of the
// readings after a forcing, w_n = r_n − r̄, is then a slow part e^{−Mnh}s
// plus μ₊ⁿa + μ₋ⁿb. The scalar difference operator p(S) = S² − a₁S + a₂
// (S the shift, a₁ = μ₊ + μ₋, a₂ = μ₊μ₋) removes the filter's modes and
// commutes with the slow ones, so y_n = r_{n+2} − a₁r_{n+1} + a₂r_n obeys
//
//	y_{n+1} = Φ y_n + c,   Φ = e^{−Mh},   c = (I − Φ)·p(1)·r̄,
//
// exactly for the mean path, from the first reading on: the same linear
// regression as without a filter, on filtered readings. a₁ and a₂ are found
// by minimising the regression's residual sum of squares (variable
// projection: for each (a₁, a₂) the regression is linear), which is the
// prediction error of r_{n+3}. The filter's continuous poles follow from
// μ±; its corner is reported, and it enters the ADC backcast (backcast) and
// the noise (diffusion) exactly.
//
// Without a filter a₁ = a₂ = 0 and the plain regression is used: the
// filter is taken as present only when it lowers the residual sum of
// squares by far more than two free parameters fitted to white residuals
// would (filterEvidence).

// filterEvidence is the threshold on (RSS₀ − RSS₁)/(RSS₁/(K·n)): with no
// filter, fitting (a₁, a₂) lowers the pooled RSS of K·n residuals by about
// χ²₂ residual variances; 100 is a χ²₂ tail of e^{−50}, a margin for
// residuals that are not white (read noise makes them MA(1)). A 15 kHz
// filter on proto8 gives ≈ 10⁷.
const filterEvidence = 100

// adcFilter is the anti-aliasing filter the transients show: H(s) =
// Ω²/(s² + D s + Ω²), common to every channel.
type adcFilter struct {
	A1, A2 float64 // its modes are the roots of z² − A1·z + A2, per sample
	H      float64 // sample period, s
	Omega  float64 // Ω, rad/s
	Damp   float64 // D = Ω/q, 1/s
}

// newADCFilter returns the continuous filter whose sampled modes are the
// roots of z² − a1·z + a2 at period h: both roots must be in (0, 1) or
// form a complex pair inside the unit circle (a decaying low-pass).
func newADCFilter(a1, a2, h float64) (*adcFilter, error) {
	if !(a2 > 0 && a2 < 1) {
		return nil, fmt.Errorf("ADC filter: modes with product %g, want in (0, 1): %w", a2, hal.ErrUnsupported)
	}
	f := &adcFilter{A1: a1, A2: a2, H: h, Damp: -math.Log(a2) / h}
	if d := a1*a1 - 4*a2; d < 0 {
		rho := math.Sqrt(a2)
		th := math.Acos(a1 / (2 * rho))
		f.Omega = math.Hypot(math.Log(rho), th) / h
	} else {
		lo, hi := (a1-math.Sqrt(d))/2, (a1+math.Sqrt(d))/2
		if !(lo > 0 && hi < 1) {
			return nil, fmt.Errorf("ADC filter: real modes %g and %g, want in (0, 1): %w", lo, hi, hal.ErrUnsupported)
		}
		f.Omega = math.Sqrt(math.Log(lo)*math.Log(hi)) / h
	}
	return f, nil
}

// CornerHz returns the filter's −3 dB frequency: |H(jw)|² = ½ at
// w² = X with X² − (2Ω² − D²)X − Ω⁴ = 0.
func (f *adcFilter) CornerHz() float64 {
	o2, b := f.Omega*f.Omega, 2*f.Omega*f.Omega-f.Damp*f.Damp
	return math.Sqrt((b+math.Sqrt(b*b+4*o2*o2))/2) / (2 * math.Pi)
}

// Q returns the filter's quality factor Ω/D (1/√2 for a Butterworth).
func (f *adcFilter) Q() float64 { return f.Omega / f.Damp }

// augDrift returns the drift of the augmented state z = (x, v, u), dz =
// −A z dt + …, for node drift m (1/s): v the filter's output and u = v̇/Ω,
// dv = Ω u dt, du = (Ω x − Ω v − D u) dt.
func (f *adcFilter) augDrift(m mat.Matrix) *mat.Dense {
	k, _ := m.Dims()
	a := mat.NewDense(3*k, 3*k, nil)
	for i := range k {
		for j := range k {
			a.Set(i, j, m.At(i, j))
		}
		a.Set(k+i, 2*k+i, -f.Omega)
		a.Set(2*k+i, i, -f.Omega)
		a.Set(2*k+i, k+i, f.Omega)
		a.Set(2*k+i, 2*k+i, f.Damp)
	}
	return a
}

// transition returns e^{−A t} for the augmented drift a.
func transition(a *mat.Dense, t float64) *mat.Dense {
	var s, e mat.Dense
	s.Scale(-t, a)
	e.Exp(&s)
	return &e
}

// earlyWindows is the number of windows at the start of each transient
// whose residuals are tested against the forced state (filterModes): the
// filter's modes decay by e^{−ΩTh/√2} per sample (≈ 0.72 at 15 kHz and
// 5 µs), so a wrong (a₁, a₂) shows in the first few residuals, while every
// later one would add only noise to the test.
const earlyWindows = 8

// filterSpan is the number of consecutive readings whose moments the
// filter fit needs: Z = (r_{n−1}, …, r_{n+4}): the instrument r_{n−1}, the
// regression's y_n and y_{n+1} (r_n … r_{n+3}) and the next residual's
// (… r_{n+4}).
const filterSpan = 6

// coef are weights on the filterSpan readings of Z.
type coef [filterSpan]float64

// windowMoments returns Σ ZZᵀ as a full symmetric matrix.
func (r *regression) windowMoments() *mat.SymDense {
	return upperSym(r.sw, filterSpan*r.k+1)
}

// upperSym returns the symmetric n×n matrix whose upper triangle is u's
// (row-major).
func upperSym(u []float64, n int) *mat.SymDense {
	s := mat.NewSymDense(n, nil)
	for a := range n {
		for b := a; b < n; b++ {
			s.SetSym(a, b, u[a*n+b])
		}
	}
	return s
}

// filterCoeffs are the weights of y_n = r_{n+2} − a1·r_{n+1} + a2·r_n on
// Z (y) and of y_{n+1} (u).
func filterCoeffs(a1, a2 float64) (y, u coef) {
	return coef{0, a2, -a1, 1, 0, 0}, coef{0, 0, a2, -a1, 1, 0}
}

// instrument weighs r_{n−1}, the instrument of the filtered regression.
var instrument = coef{1}

// momentBlock returns Σ (Σ_a p_a r_{n+a})(Σ_b q_b r_{n+b})ᵀ (K×K) from the
// window moments s.
func momentBlock(s *mat.SymDense, k int, p, q coef) *mat.Dense {
	out := make([]float64, k*k)
	raw := s.RawSymmetric()
	for a, wa := range p {
		for b, wb := range q {
			if wa == 0 || wb == 0 {
				continue
			}
			w := wa * wb
			for i := range k {
				for j := range k {
					// The upper triangle holds the symmetric matrix.
					r, c := a*k+i, b*k+j
					if r > c {
						r, c = c, r
					}
					out[i*k+j] += w * raw.Data[r*raw.Stride+c]
				}
			}
		}
	}
	return mat.NewDense(k, k, out)
}

// augBlock returns the moments of (Σ p r, 1) against (Σ q r, 1),
// (K+1)×(K+1).
func augBlock(s *mat.SymDense, k int, p, q coef) *mat.Dense {
	one := filterSpan * k
	out := mat.NewDense(k+1, k+1, nil)
	out.Slice(0, k, 0, k).(*mat.Dense).Copy(momentBlock(s, k, p, q))
	for i := range k {
		for a := range filterSpan {
			out.Set(i, k, out.At(i, k)+p[a]*s.At(a*k+i, one))
			out.Set(k, i, out.At(k, i)+q[a]*s.At(a*k+i, one))
		}
	}
	out.Set(k, k, s.At(one, one))
	return out
}

// filtered returns the least-squares regression of y_{n+1} on (y_n, 1)
// built from the window moments s.
func (r *regression) filtered(s *mat.SymDense, a1, a2 float64) *regression {
	k := r.k
	cy, cu := filterCoeffs(a1, a2)
	xx, xu, uu := augBlock(s, k, cy, cy), augBlock(s, k, cy, cu), momentBlock(s, k, cu, cu)
	// Only the moments solve reads (no window moments: this is called
	// for every trial of the filter's modes).
	out := &regression{k: k, n: r.nw, sxx: make([]float64, (k+1)*(k+1)), sxy: make([]float64, (k+1)*k),
		syy: make([]float64, k*k)}
	for a := range k + 1 {
		for b := a; b <= k; b++ {
			out.sxx[a*(k+1)+b] = xx.At(a, b)
		}
		for j := range k {
			out.sxy[a*k+j] = xu.At(a, j)
		}
	}
	for i := range k {
		for j := i; j < k; j++ {
			out.syy[i*k+j] = uu.At(i, j)
		}
	}
	return out
}

// filteredIV returns the fit of y_{n+1} = Φ y_n + c by instrumental
// variables, the instrument (r_{n−1}, 1): least squares would regress on
// y_n, whose read and node noise overlaps the residual's (both are
// moving averages of the same few samples), a bias of ≈ 10⁻³ in the
// couplings on proto8; r_{n−1} is independent of every noise in the
// residual e_n and as informative as y_n. B = S_wx⁻¹S_wu; Cov(B_·i) =
// s_i²·S_wx⁻¹S_ww S_wx⁻ᵀ, which takes XXInv's place.
func filteredIV(s *mat.SymDense, k, n int, a1, a2 float64) (*fit, error) {
	cy, cu := filterCoeffs(a1, a2)
	wx, ww := augBlock(s, k, instrument, cy), augBlock(s, k, instrument, instrument)
	wu := augBlock(s, k, instrument, cu).Slice(0, k+1, 0, k)
	xx, xu := augBlock(s, k, cy, cy), augBlock(s, k, cy, cu).Slice(0, k+1, 0, k)
	uu := momentBlock(s, k, cu, cu)
	var lu mat.LU
	lu.Factorize(wx)
	var b, t, v mat.Dense
	if err := lu.SolveTo(&b, false, wu); err != nil {
		return nil, fmt.Errorf("filtered regression: the instrument does not span the regressors: %v: %w", err, hal.ErrInvalid)
	}
	if err := lu.SolveTo(&t, false, ww); err != nil {
		return nil, fmt.Errorf("filtered regression: %v: %w", err, hal.ErrInvalid)
	}
	if err := lu.SolveTo(&v, false, t.T()); err != nil { // S_wx⁻¹(S_wx⁻¹S_ww)ᵀ
		return nil, fmt.Errorf("filtered regression: %v: %w", err, hal.ErrInvalid)
	}
	// Residual moments: S_uu − BᵀS_xu − S_uxB + BᵀS_xxB.
	var e, p1 mat.Dense
	p1.Mul(b.T(), xu)
	e.Sub(uu, &p1)
	e.Sub(&e, p1.T())
	var q1, q2 mat.Dense
	q1.Mul(xx, &b)
	q2.Mul(b.T(), &q1)
	e.Add(&e, &q2)
	dof := float64(n - k - 1)
	f := &fit{Phi: make([]float64, k*k), PhiSE: make([]float64, k*k), C: make([]float64, k), CSE: make([]float64, k),
		Resid: make([]float64, k*k), N: n}
	for i := range k {
		for j := range k {
			f.Resid[i*k+j] = e.At(i, j) / dof
		}
	}
	f.setCoefficients(&b, &v, k)
	return f, nil
}

// rss is the residual sum of squares of a regression, summed over rows.
func rss(f *fit, k int) float64 {
	v := 0.0
	for i := range k {
		v += f.Resid[i*k+i]
	}
	return v * float64(f.N-k-1)
}

// solveDynamics fits a probe's transients: through the ADC filter when the
// readings show one (filterModes), else the plain regression.
func (r *regression) solveDynamics(h float64) (*fit, error) {
	a, ok := r.filterModes()
	if !ok {
		return r.solve()
	}
	return r.solveAt(a, h)
}

// solveAt returns the fit of the filtered readings for the filter modes
// a = (a₁, a₂) at sample period h.
func (r *regression) solveAt(a [2]float64, h float64) (*fit, error) {
	af, err := newADCFilter(a[0], a[1], h)
	if err != nil {
		return nil, err
	}
	s := r.windowMoments()
	f, err := filteredIV(s, r.k, r.nw, a[0], a[1])
	if err != nil {
		return nil, err
	}
	f.Filter = af
	f.Lag1 = filteredLag1(f, s, r.k, a[0], a[1])
	return f, nil
}

// filterModes returns the filter's modes (a₁, a₂) the transients show, and
// false when they show no filter (see the top of this file).
func (r *regression) filterModes() ([2]float64, bool) {
	k := r.k
	if r.nw <= 4*(k+1) {
		return [2]float64{}, false
	}
	s := r.windowMoments()
	cost := func(a [2]float64) float64 {
		f, err := r.filtered(s, a[0], a[1]).solve()
		if err != nil {
			return math.Inf(1)
		}
		return rss(f, k)
	}
	r0 := cost([2]float64{})
	// Start from the best Butterworth on a grid of Ωh from 0.02 to 20.
	best, x := r0, [2]float64{}
	for g := range 48 {
		al := 0.02 * math.Pow(1000, float64(g)/47) / math.Sqrt2
		a := [2]float64{2 * math.Exp(-al) * math.Cos(al), math.Exp(-2 * al)}
		if v := cost(a); v < best {
			best, x = v, a
		}
	}
	if x[1] == 0 {
		return x, false
	}
	x = nelderMead2(func(a [2]float64) float64 { return cost(a) / best }, x, 0.01)
	if r1 := cost(x); !(r0-r1 > filterEvidence*r1/float64(k*r.nw)) {
		return x, false
	}
	// The residual sum of squares also holds the noise, whose share grows
	// with (a₁, a₂): its minimum sits ≈ 1 % low in the filter's corner on
	// proto8 (read noise pulls it down), biasing the ADC gains by ≈ 100
	// standard errors. The forced state x₀ is an instrument: independent of
	// every noise, so E[x₀ᵀe_n] = 0 at the true (a₁, a₂), while a wrong
	// pair leaves filter modes in the first residuals that scale with x₀.
	// Two such conditions, on the first earlyWindows residuals weighted 1
	// and w (their position), fix the two unknowns: solve them (a
	// just-identified system — minimising many conditions' squares instead
	// would weigh their noise, which again depends on (a₁, a₂)).
	xw, xw1 := mat.NewDense(k, filterSpan*k+1, r.xw), mat.NewDense(k, filterSpan*k+1, r.xw1)
	conds := func(a [2]float64) (float64, float64) {
		f, err := filteredIV(s, k, r.nw, a[0], a[1])
		if err != nil {
			return math.Inf(1), math.Inf(1)
		}
		cy, cu := filterCoeffs(a[0], a[1])
		e := residualMap(f, k, cy, cu)
		var m, m1 mat.Dense
		m.Mul(xw, e.T())
		m1.Mul(xw1, e.T())
		return mat.Trace(&m), mat.Trace(&m1)
	}
	g0, g1 := conds(x)
	if g0 != 0 && g1 != 0 {
		x = nelderMead2(func(a [2]float64) float64 {
			u, v := conds(a)
			return (u/g0)*(u/g0) + (v/g1)*(v/g1)
		}, x, 0.001)
	}
	return x, true
}

// residualMap returns E with e_n = E·Z for the residual of the filtered
// regression f, y-weights cy and u-weights cu on the five readings Z.
func residualMap(f *fit, k int, cy, cu coef) *mat.Dense {
	m := mat.NewDense(k, filterSpan*k+1, nil)
	for i := range k {
		for b := range filterSpan {
			m.Set(i, b*k+i, m.At(i, b*k+i)+cu[b])
			for j := range k {
				m.Set(i, b*k+j, m.At(i, b*k+j)-f.Phi[i*k+j]*cy[b])
			}
		}
		m.Set(i, filterSpan*k, -f.C[i])
	}
	return m
}

// filteredLag1 returns the residuals' lag-1 covariance E[e_n e_{n+1}ᵀ] of
// the filtered regression f: both residuals are linear in the five
// readings, e_n = E₀Z and e_{n+1} = E₁Z, so it is E₀·(ΣZZᵀ)·E₁ᵀ/n.
func filteredLag1(f *fit, s *mat.SymDense, k int, a1, a2 float64) []float64 {
	cy, cu := filterCoeffs(a1, a2)
	e0, e1 := residualMap(f, k, cy, cu), residualMap(f, k, cu, coef{0, 0, 0, a2, -a1, 1})
	var t, l mat.Dense
	t.Mul(e0, s)
	l.Mul(&t, e1.T())
	l.Scale(1/float64(f.N), &l)
	return append([]float64(nil), l.RawMatrix().Data...)
}

// backcast returns, for every forced event of t, the reading the fit f
// (reading space, through this filter) predicts at the forcing instant.
// The forcing leaves the filter settled on the forced voltages, so the
// augmented state starts at (e₀, e₀, 0) with e₀ the deviation from the
// equilibrium r̄ = (I − Φ)⁻¹c/p(1); the first reading, one period later,
// is r̄ + G e₀ with G the v-rows of e^{−A h} applied to (I, I, 0).
func (af *adcFilter) backcast(f *fit, t *transients, k int) ([][]float64, error) {
	l, err := logm(f.Phi, k)
	if err != nil {
		return nil, err
	}
	m := mat.NewDense(k, k, l)
	m.Scale(1/af.H, m)
	psi := transition(af.augDrift(m), af.H)
	g := mat.NewDense(k, k, nil)
	g.Add(psi.Slice(k, 2*k, 0, k), psi.Slice(k, 2*k, k, 2*k))
	var id, lu mat.LU
	ia := mat.NewDense(k, k, nil)
	for i := range k {
		for j := range k {
			ia.Set(i, j, -f.Phi[i*k+j])
		}
		ia.Set(i, i, ia.At(i, i)+1)
	}
	id.Factorize(ia)
	var rbar mat.VecDense
	if err := id.SolveVecTo(&rbar, false, mat.NewVecDense(k, append([]float64(nil), f.C...))); err != nil {
		return nil, fmt.Errorf("calibration: I − Φ is singular: %v: %w", err, hal.ErrUnstable)
	}
	rbar.ScaleVec(1/(1-af.A1+af.A2), &rbar)
	lu.Factorize(g)
	out := make([][]float64, len(t.first))
	d := mat.NewVecDense(k, nil)
	for e, r1 := range t.first {
		for i := range k {
			d.SetVec(i, r1[i]-rbar.AtVec(i))
		}
		var x mat.VecDense
		if err := lu.SolveVecTo(&x, false, d); err != nil {
			return nil, fmt.Errorf("calibration: the filter's first-reading map is singular: %v: %w", err, hal.ErrUnstable)
		}
		x.AddVec(&x, &rbar)
		out[e] = append([]float64(nil), x.RawVector().Data...)
	}
	return out, nil
}
