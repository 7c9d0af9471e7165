// Package linfit holds the small least-squares fits that calibration and
// selftest share: a straight line with standard errors, and a sample mean
// with its standard deviation; and the piecewise-linear table lookup that
// applies a tabulated INL.
package linfit

import "math"

// Line fits y = g·x + o by ordinary least squares and returns the
// estimates, their standard errors and the rms residual. ok is false for
// fewer than 3 points or when every x is the same (nothing to fit).
func Line(x, y []float64) (g, o, gse, ose, rms float64, ok bool) {
	n := float64(len(x))
	if n < 3 {
		return 0, 0, 0, 0, 0, false
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxx, sxy float64
	for i := range x {
		sxx += (x[i] - mx) * (x[i] - mx)
		sxy += (x[i] - mx) * (y[i] - my)
	}
	if !(sxx > 0) {
		return 0, 0, 0, 0, 0, false
	}
	g = sxy / sxx
	o = my - g*mx
	var ss float64
	for i := range x {
		r := y[i] - g*x[i] - o
		ss += r * r
	}
	s2 := ss / (n - 2)
	return g, o, math.Sqrt(s2 / sxx), math.Sqrt(s2 * (1/n + mx*mx/sxx)), math.Sqrt(ss / n), true
}

// LineSE returns the standard errors of the slope and intercept of a
// least-squares line through points at x whose y values each have the
// known standard deviation sigma: σ/√Sxx and σ·√(1/n + x̄²/Sxx), with
// Sxx = Σ(x − x̄)². Line uses the same formulas with σ estimated from its
// residuals; LineSE is for a σ known from elsewhere (selftest's noise).
// Both are +Inf when every x is the same.
func LineSE(x []float64, sigma float64) (gse, ose float64) {
	n := float64(len(x))
	var mx, sxx float64
	for _, v := range x {
		mx += v
	}
	mx /= n
	for _, v := range x {
		sxx += (v - mx) * (v - mx)
	}
	return sigma / math.Sqrt(sxx), sigma * math.Sqrt(1/n+mx*mx/sxx)
}

// MeanSD returns the mean of v and its sample standard deviation (with
// n − 1; 0 for fewer than two values).
func MeanSD(v []float64) (float64, float64) {
	var m, s float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	if len(v) < 2 {
		return m, 0
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

// Interp evaluates the piecewise-linear table (xs increasing, ys) at x,
// holding the end values outside; 0 for an empty table.
func Interp(xs, ys []float64, x float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	if x <= xs[0] {
		return ys[0]
	}
	if x >= xs[n-1] {
		return ys[n-1]
	}
	for j := 1; j < n; j++ {
		if x <= xs[j] {
			f := (x - xs[j-1]) / (xs[j] - xs[j-1])
			return ys[j-1] + f*(ys[j]-ys[j-1])
		}
	}
	return ys[n-1]
}
