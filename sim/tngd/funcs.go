package tngd

import (
	"errors"
	"math"
)

// ErrNotConverged reports that a Krylov (Lanczos) evaluation of the exact
// transition did not reach its tolerance within its step cap.
var ErrNotConverged = errors.New("lanczos did not converge")

// phi1 is (e^z − 1)/z, 1 at z = 0.
func phi1(z float64) float64 {
	if z == 0 {
		return 1
	}
	return math.Expm1(z) / z
}

// expDD02 returns the second divided difference exp[0, x, y] of the
// exponential at the points 0, x, y (confluent points allowed). It is
// positive for all real x, y and computed without cancellation: the
// divided differences of exp are the entries of exp(M) for the bidiagonal
// M = [[0,1,0],[0,x,1],[0,0,y]] (McCurdy, Ng & Parlett 1984). A Taylor
// series gives the corner entry of exp(M/2ʲ) with the points scaled into
// [−½, ½]; squaring j times undoes the scaling,
//
//	E₀₂ ← E₀₂(1 + e^{yᵢ}) + E₀₁E₁₂,
//
// a sum of positive terms, with E₀₁ = σᵢ·exp[0, xᵢ], E₁₂ = σᵢ·exp[xᵢ, yᵢ]
// and e^{yᵢ} evaluated afresh at each level (squaring them instead would
// amplify their rounding by 2ʲ when the points are far apart).
func expDD02(x, y float64) float64 {
	mx := math.Max(math.Abs(x), math.Abs(y))
	j := 0
	if mx > 0.5 {
		_, e := math.Frexp(mx / 0.5) // mx/0.5 = f·2^e, f ∈ [½, 1)
		j = e
	}
	sc := math.Ldexp(1, -j)
	a, b := x*sc, y*sc
	// exp[0,a,b] = Σ hₙ/(n+2)!, hₙ = Σ_{i≤n} aⁱ b^{n−i}.
	var d02 float64
	an, hn := 1.0, 1.0
	f := 0.5 // 1/(n+2)!
	for n := 0; n < 20; n++ {
		d02 += hn * f
		an *= a
		hn = b*hn + an
		f /= float64(n + 3)
	}
	d02 *= sc * sc
	for i := range j {
		s := math.Ldexp(1, i-j)
		xi, yi := x*s, y*s
		lo, hi := math.Min(xi, yi), math.Max(xi, yi)
		d01 := s * phi1(xi)
		d12 := s * math.Exp(hi) * phi1(lo-hi)
		d02 = d02*(1+math.Exp(yi)) + d01*d12
	}
	return d02
}

// transFuncs are the scalar parts of one transition over t τ: f₂(λ),
// f₃(λ) and the divided differences ψ₂, ψ₃ on the spectrum of G.
type transFuncs struct {
	t, lam, kappa float64
	f2, f3        float64
}

func newTransFuncs(t, lam, kappa float64) transFuncs {
	tf := transFuncs{t: t, lam: lam, kappa: kappa}
	tf.f2 = t * phi1(-lam*t)
	if kappa > 0 {
		tf.f3 = math.Sqrt(2 * kappa * t * phi1(-2*lam*t))
	}
	return tf
}

// psi2 is (f₂(λ+s) − f₂(λ))/s = −t²·exp[0, −λt, −(λ+s)t].
func (tf *transFuncs) psi2(s float64) float64 {
	s = math.Max(s, 0)
	return -tf.t * tf.t * expDD02(-tf.lam*tf.t, -(tf.lam+s)*tf.t)
}

// psi3 is (f₃(λ+s) − f₃(λ))/s. With h(a) = 2κ₀t·exp[0, −2at] (so f₃ = √h),
// f₃(b) − f₃(a) = (h(b) − h(a))/(f₃(b) + f₃(a)) and h's difference is
// again a divided difference of exp: no cancellation anywhere.
func (tf *transFuncs) psi3(s float64) float64 {
	if tf.kappa == 0 {
		return 0
	}
	s = math.Max(s, 0)
	t, k := tf.t, tf.kappa
	fs := math.Sqrt(2 * k * t * phi1(-2*(tf.lam+s)*t))
	return -4 * k * t * t * expDD02(-2*tf.lam*t, -2*(tf.lam+s)*t) / (fs + tf.f3)
}
