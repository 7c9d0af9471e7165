package calibration

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// regression accumulates the sufficient statistics of the multivariate
// linear regression y = Bᵀ z with z = (x, 1): y and x are K-vectors.
type regression struct {
	k   int
	n   int
	sxx []float64 // (K+1)², row-major
	sxy []float64 // (K+1)×K
	syy []float64 // K×K
	z   []float64
	// Lag-1 moments of consecutive transitions (z₀, y₀), (z₁, y₁) in one
	// transient, for the residuals' lag-1 covariance (the signature of
	// read noise): Σ z₀z₁ᵀ and Σ z₀y₁ᵀ. Σ y₀z₁ᵀ and Σ y₀y₁ᵀ are sxx's and
	// sxy's top K rows less each transient's first transition, kept in
	// b0z = Σ r₀z₀ᵀ and b01 = Σ r₀r₁ᵀ.
	n1       int
	lzz, lzy []float64
	b0z, b01 []float64
	z1       []float64
	// Moments Σ ZZᵀ of filterSpan consecutive readings Z = (r_w, …,
	// r_{w+5}, 1) of one transient ((6K+1)², upper triangle), from which
	// filter.go fits the dynamics seen through an ADC anti-aliasing filter.
	sw []float64
	nw int
	// xw = Σ x₀·(Σ_{w<earlyWindows} Z_w)ᵀ over transients (K × (6K+1)),
	// x₀ the forced state: the instrument that fixes the filter's modes
	// (filter.go); sumw is the current transient's sum.
	xw, sumw []float64
	// xw1 and sumw1 are the same with the window w weighted by w.
	xw1, sumw1 []float64
	// Scratch of addWindows: running lag sums, their values at the ends
	// of each block's range, and prefix sums of the readings.
	lagRun, lagLo, lagHi, prefix []float64
}

func newRegression(k int) *regression {
	return &regression{k: k, sxx: make([]float64, (k+1)*(k+1)), sxy: make([]float64, (k+1)*k),
		syy: make([]float64, k*k), z: make([]float64, k+1),
		lzz: make([]float64, (k+1)*(k+1)), lzy: make([]float64, (k+1)*k),
		b0z: make([]float64, k*(k+1)), b01: make([]float64, k*k), z1: make([]float64, k+1),
		sw: make([]float64, (filterSpan*k+1)*(filterSpan*k+1)),
		xw: make([]float64, k*(filterSpan*k+1)), sumw: make([]float64, filterSpan*k+1),
		xw1: make([]float64, k*(filterSpan*k+1)), sumw1: make([]float64, filterSpan*k+1)}
}

// addTransient adds the readings of one transient (window rows of K,
// row-major): every transition (r_w, r_{w+1}) to the regression and the
// lag-1 moments of consecutive transitions. All data must come this way
// for the lag-1 moments to match the regression's.
func (r *regression) addTransient(buf []float64, window int) {
	k := r.k
	row := func(w int) []float64 { return buf[w*k : (w+1)*k] }
	for w := 0; w+1 < window; w++ {
		r.add(row(w), row(w+1))
	}
	if window < 3 {
		return
	}
	r0, r1 := row(0), row(1)
	for i, x := range r0 {
		for j, y := range r1 {
			r.b01[i*k+j] += x * y
		}
		for j, y := range r0 {
			r.b0z[i*(k+1)+j] += x * y
		}
		r.b0z[i*(k+1)+k] += x
	}
	for w := 0; w+2 < window; w++ {
		copy(r.z, row(w))
		r.z[k] = 1
		copy(r.z1, row(w+1))
		r.z1[k] = 1
		y1 := row(w + 2)
		for a, za := range r.z {
			for b, zb := range r.z1 {
				r.lzz[a*(k+1)+b] += za * zb
			}
			for j, y := range y1 {
				r.lzy[a*k+j] += za * y
			}
		}
		r.n1++
	}
	r.addWindows(buf, window)
}

// addWindows adds every run of filterSpan consecutive readings of one
// transient to the moments sw, and its first earlyWindows runs to sumw and
// sumw1. Block (a, b) of Σ_w Z_wZ_wᵀ is Σ_w r_{w+a}r_{w+b}ᵀ, a range sum
// of the lag-(b−a) products: running sums of r_p r_{p+d}ᵀ (d < filterSpan)
// read at the ends of each range give every block at filterSpan·K²
// multiply-adds per reading instead of (filterSpan·K+1)²/2.
func (r *regression) addWindows(buf []float64, window int) {
	k, span := r.k, filterSpan
	nw := window - span + 1
	clear(r.sumw)
	clear(r.sumw1)
	if nw <= 0 {
		return
	}
	kk := k * k
	if len(r.lagRun) < span*kk {
		r.lagRun = make([]float64, span*kk)
		r.lagLo, r.lagHi = make([]float64, span*span*kk), make([]float64, span*span*kk)
	}
	clear(r.lagRun)
	r.prefix = slices.Grow(r.prefix[:0], 2*(window+1)*k)[:2*(window+1)*k]
	ps, pt := r.prefix[:(window+1)*k], r.prefix[(window+1)*k:] // Σ_{p'<p} r_p', Σ p'·r_p'
	clear(ps[:k])
	clear(pt[:k])
	for p := 0; p <= window; p++ {
		for d := range span {
			run := r.lagRun[d*kk : (d+1)*kk]
			if p < span {
				copy(r.lagLo[(d*span+p)*kk:], run)
			}
			if a := p - nw; a >= 0 && a < span {
				copy(r.lagHi[(d*span+a)*kk:], run)
			}
			if p+d >= window {
				continue
			}
			x, y := buf[p*k:(p+1)*k], buf[(p+d)*k:(p+d+1)*k]
			for i, xi := range x {
				row := run[i*k : (i+1)*k]
				for j, yj := range y {
					row[j] += xi * yj
				}
			}
		}
		if p < window {
			for i := range k {
				ps[(p+1)*k+i] = ps[p*k+i] + buf[p*k+i]
				pt[(p+1)*k+i] = pt[p*k+i] + float64(p)*buf[p*k+i]
			}
		}
	}
	n := span*k + 1
	for a := range span {
		for b := a; b < span; b++ {
			d := b - a
			lo, hi := r.lagLo[(d*span+a)*kk:], r.lagHi[(d*span+a)*kk:]
			for i := range k {
				j0 := 0
				if a == b {
					j0 = i
				}
				row := r.sw[(a*k+i)*n:]
				for j := j0; j < k; j++ {
					row[b*k+j] += hi[i*k+j] - lo[i*k+j]
				}
			}
		}
		m := min(earlyWindows, nw)
		for i := range k {
			sum := ps[(a+nw)*k+i] - ps[a*k+i]
			r.sw[(a*k+i)*n+n-1] += sum
			early := ps[(a+m)*k+i] - ps[a*k+i]
			r.sumw[a*k+i] = early
			r.sumw1[a*k+i] = pt[(a+m)*k+i] - pt[a*k+i] - float64(a)*early
		}
		r.sumw[n-1], r.sumw1[n-1] = float64(m), float64(m*(m-1)/2)
	}
	r.sw[n*n-1] += float64(nw)
	r.nw += nw
}

// addForced adds the forced state x0 of the transient added last.
func (r *regression) addForced(x0 []float64) {
	n := len(r.sumw)
	for i, x := range x0 {
		row, row1 := r.xw[i*n:(i+1)*n], r.xw1[i*n:(i+1)*n]
		for a := range n {
			row[a] += x * r.sumw[a]
			row1[a] += x * r.sumw1[a]
		}
	}
}

func (r *regression) add(x, y []float64) {
	k := r.k
	copy(r.z, x)
	r.z[k] = 1
	for a, za := range r.z {
		row := r.sxx[a*(k+1) : (a+1)*(k+1)]
		for b := a; b <= k; b++ {
			row[b] += za * r.z[b]
		}
		ry := r.sxy[a*k : (a+1)*k]
		for j, yj := range y {
			ry[j] += za * yj
		}
	}
	for i, yi := range y {
		row := r.syy[i*k : (i+1)*k]
		for j := i; j < k; j++ {
			row[j] += yi * y[j]
		}
	}
	r.n++
}

// fit is the outcome of a regression: y_{k+1} = Phi y_k + C + w.
type fit struct {
	Phi, PhiSE []float64 // K², row-major
	C, CSE     []float64 // K
	Resid      []float64 // K×K residual covariance per step
	// Lag1 is the residuals' lag-1 covariance E[e_k e_{k+1}ᵀ] (K×K): zero
	// for a white process, −NΦᵀ for white read noise of covariance N.
	Lag1 []float64
	// XXInv is the top-left K×K block of (Σ z zᵀ)⁻¹: with the residual
	// covariance R it gives Cov(Φ_ij, Φ_lm) = R_il·XXInv_jm.
	XXInv []float64
	N     int
	// Filter is the ADC anti-aliasing filter the readings showed (nil:
	// none); then the regression is of the filtered readings y_n
	// (filter.go) and C = (I − Φ)·p(1)·r̄.
	Filter *adcFilter
}

func (r *regression) solve() (*fit, error) {
	k := r.k
	if r.n <= 2*(k+1) {
		return nil, fmt.Errorf("regression: %d transitions for %d unknowns per row: %w", r.n, k+1, hal.ErrInvalid)
	}
	sxx := mat.NewSymDense(k+1, nil)
	for a := 0; a <= k; a++ {
		for b := a; b <= k; b++ {
			sxx.SetSym(a, b, r.sxx[a*(k+1)+b])
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(sxx) {
		return nil, fmt.Errorf("regression: the excitation does not span every direction (singular normal equations): %w", hal.ErrInvalid)
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return nil, fmt.Errorf("regression: %v: %w", err, hal.ErrInvalid)
	}
	sxy := mat.NewDense(k+1, k, append([]float64(nil), r.sxy...))
	var b mat.Dense
	b.Mul(&inv, sxy) // (K+1)×K
	// Residual covariance: (Syy − Bᵀ Sxy) / (n − K − 1).
	var bs mat.Dense
	bs.Mul(b.T(), sxy)
	dof := float64(r.n - k - 1)
	f := &fit{Phi: make([]float64, k*k), PhiSE: make([]float64, k*k), C: make([]float64, k), CSE: make([]float64, k),
		Resid: make([]float64, k*k), N: r.n}
	for i := range k {
		for j := range k {
			a, c := min(i, j), max(i, j)
			f.Resid[i*k+j] = (r.syy[a*k+c] - bs.At(i, j)) / dof
		}
	}
	f.setCoefficients(&b, &inv, k)
	if r.n1 > 0 {
		// E[e₀e₁ᵀ] = Lyy − Lyz B − Bᵀ Lzy + Bᵀ Lzz B, per pair, with
		// Lyz and Lyy from the regression's own sums (see the fields).
		lyy := mat.NewDense(k, k, nil)
		lyz := mat.NewDense(k, k+1, nil)
		for i := range k {
			for j := range k {
				lyy.Set(i, j, r.sxy[i*k+j]-r.b01[i*k+j])
			}
			for j := range k + 1 {
				a, c := min(i, j), max(i, j) // sxx holds its upper triangle
				lyz.Set(i, j, r.sxx[a*(k+1)+c]-r.b0z[i*(k+1)+j])
			}
		}
		lzy := mat.NewDense(k+1, k, r.lzy)
		lzz := mat.NewDense(k+1, k+1, r.lzz)
		var t1, t2, t3, t4 mat.Dense
		t1.Mul(lyz, &b)
		t2.Mul(b.T(), lzy)
		t3.Mul(b.T(), lzz)
		t4.Mul(&t3, &b)
		var c1 mat.Dense
		c1.Sub(lyy, &t1)
		c1.Sub(&c1, &t2)
		c1.Add(&c1, &t4)
		c1.Scale(1/float64(r.n1), &c1)
		f.Lag1 = append([]float64(nil), c1.RawMatrix().Data...)
	}
	return f, nil
}

// setCoefficients fills in Φ, c, their standard errors and XXInv from the
// coefficients b ((K+1)×K: Φᵀ over cᵀ) and the kernel v of their
// covariance, Cov(b_ji, b_li) = R_ii·v_jl; f.Resid must be set.
func (f *fit) setCoefficients(b, v mat.Matrix, k int) {
	f.XXInv = make([]float64, k*k)
	for i := range k {
		s2 := f.Resid[i*k+i]
		for j := range k {
			f.XXInv[i*k+j] = v.At(i, j)
			f.Phi[i*k+j] = b.At(j, i)
			f.PhiSE[i*k+j] = math.Sqrt(s2 * v.At(j, j))
		}
		f.C[i] = b.At(k, i)
		f.CSE[i] = math.Sqrt(s2 * v.At(k, k))
	}
}

// readNoise returns the diagonal read-noise covariance N implied by a fit
// in which the readings carry white noise, from E[e_k e_{k+1}ᵀ] = −NΦᵀ:
// N = −Lag1·Φ^{−T}, diagonal kept and clamped at zero.
func readNoise(f *fit, k int) ([]float64, error) {
	if f.Lag1 == nil {
		return make([]float64, k), nil
	}
	var pinv mat.Dense
	if err := pinv.Inverse(mat.NewDense(k, k, append([]float64(nil), f.Phi...)).T()); err != nil {
		return nil, fmt.Errorf("read noise: Φ is singular: %w", hal.ErrUnsupported)
	}
	var n mat.Dense
	n.Mul(mat.NewDense(k, k, append([]float64(nil), f.Lag1...)), &pinv)
	out := make([]float64, k)
	for i := range k {
		out[i] = math.Max(-n.At(i, i), 0)
	}
	return out, nil
}

// logm returns −log(Φ), the principal logarithm, by inverse scaling and
// squaring: square roots (Denman–Beavers iteration) until ‖I − Φ^{1/2^s}‖_F
// < 1/4 (the Frobenius norm bounds the spectral one, so the series
// converges), the series −log(I − X) = Σ X^j/j there, times 2^s. Φ = e^{−Mh} of
// a stable M has no eigenvalue on the closed negative real axis as long as
// h·|Im λ| < π for every eigenvalue λ of M, which any sample period that
// resolves the dynamics satisfies; otherwise the roots do not converge and
// that is the error.
func logm(phi []float64, k int) ([]float64, error) {
	y := mat.NewDense(k, k, append([]float64(nil), phi...))
	id := identityDense(k)
	s := 0
	for {
		var x mat.Dense
		x.Sub(id, y)
		if mat.Norm(&x, 2) < 0.25 {
			break
		}
		if s == 30 {
			return nil, fmt.Errorf("log Φ: no convergence after %d square roots (Φ has an eigenvalue on or near the negative real axis: the sample period is too long for the board's dynamics): %w", s, hal.ErrUnsupported)
		}
		r, err := sqrtm(y, k)
		if err != nil {
			return nil, err
		}
		y = r
		s++
	}
	var x mat.Dense
	x.Sub(id, y)
	sum := mat.DenseCopyOf(&x)
	p := mat.DenseCopyOf(&x)
	var t mat.Dense
	for j := 2; j < 200; j++ {
		t.Mul(p, &x)
		p.Copy(&t)
		var term mat.Dense
		term.Scale(1/float64(j), p)
		sum.Add(sum, &term)
		if mat.Norm(&term, 1) < 1e-17*mat.Norm(sum, 1) {
			break
		}
	}
	sum.Scale(math.Ldexp(1, s), sum)
	return append([]float64(nil), sum.RawMatrix().Data...), nil
}

func identityDense(k int) *mat.Dense {
	id := mat.NewDense(k, k, nil)
	for i := range k {
		id.Set(i, i, 1)
	}
	return id
}

// sqrtm returns the principal square root of a by the Denman–Beavers
// iteration Y ← (Y + Z⁻¹)/2, Z ← (Z + Y⁻¹)/2 from Y = a, Z = I.
func sqrtm(a *mat.Dense, k int) (*mat.Dense, error) {
	y := mat.DenseCopyOf(a)
	z := identityDense(k)
	for range 100 {
		var yi, zi mat.Dense
		if err := yi.Inverse(y); err != nil {
			return nil, fmt.Errorf("square root of Φ: singular iterate: %w", hal.ErrUnsupported)
		}
		if err := zi.Inverse(z); err != nil {
			return nil, fmt.Errorf("square root of Φ: singular iterate: %w", hal.ErrUnsupported)
		}
		var yn, zn, d mat.Dense
		yn.Add(y, &zi)
		yn.Scale(0.5, &yn)
		zn.Add(z, &yi)
		zn.Scale(0.5, &zn)
		d.Sub(&yn, y)
		y, z = &yn, &zn
		if mat.Norm(&d, 1) <= 1e-15*mat.Norm(y, 1) {
			return y, nil
		}
	}
	return nil, fmt.Errorf("square root of Φ: Denman–Beavers did not converge (an eigenvalue on the negative real axis?): %w", hal.ErrUnsupported)
}

// dlyap solves Σ = Φ Σ Φᵀ + Q by Smith's doubling iteration; Φ must be
// stable (spectral radius < 1).
func dlyap(phi, q []float64, k int) ([]float64, error) {
	a := mat.NewDense(k, k, append([]float64(nil), phi...))
	s := mat.NewDense(k, k, append([]float64(nil), q...))
	var t, u mat.Dense
	for range 64 {
		t.Mul(a, s)
		u.Mul(&t, a.T())
		s.Add(s, &u)
		t.Mul(a, a)
		a.Copy(&t)
		if mat.Norm(a, 1) < 1e-16 {
			return append([]float64(nil), s.RawMatrix().Data...), nil
		}
	}
	return nil, fmt.Errorf("discrete Lyapunov equation did not converge (the identified Φ is not stable): %w", hal.ErrUnstable)
}

// wls fits y ≈ g·a + o (or y ≈ g·a when withOffset is false) by weighted
// least squares with weights 1/se², returning the estimates, their standard
// errors and χ² of the fit.
func wls(a, y, se []float64, withOffset bool) (g, o, gse, ose, chi2 float64, ok bool) {
	var s, sa, saa, sy, say float64
	for i := range a {
		w := 1 / (se[i] * se[i])
		s += w
		sa += w * a[i]
		saa += w * a[i] * a[i]
		sy += w * y[i]
		say += w * a[i] * y[i]
	}
	if withOffset {
		det := s*saa - sa*sa
		if !(det > 1e-12*s*saa) {
			return 0, 0, 0, 0, 0, false
		}
		g = (s*say - sa*sy) / det
		o = (saa*sy - sa*say) / det
		gse = math.Sqrt(s / det)
		ose = math.Sqrt(saa / det)
	} else {
		if !(saa > 0) {
			return 0, 0, 0, 0, 0, false
		}
		g = say / saa
		gse = math.Sqrt(1 / saa)
	}
	for i := range a {
		r := (y[i] - g*a[i] - o) / se[i]
		chi2 += r * r
	}
	return g, o, gse, ose, chi2, true
}
