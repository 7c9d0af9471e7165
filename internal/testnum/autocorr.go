package testnum

import (
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// MeanSE returns the mean of a stationary series y and its standard error
//
//	SE = sqrt(c₀·τ_int/N),   τ_int = 1 + 2·Σ_{k=1}^{W} ρ_k,
//
// c₀ the sample variance, ρ_k the sample autocorrelation at lag k and N/τ_int
// the effective sample size. W is Sokal's automatic window: the smallest
// W ≥ 5·τ_int(W), which keeps the noise of the summed tail small while the
// truncation bias is e^{−5}-small for an exponential decay. The
// autocorrelation is computed by FFT (zero-padded to 2N, so it is not
// circular). Series shorter than 2 give SE = +Inf.
func MeanSE(y []float64) (mean, se float64) {
	n := len(y)
	if n < 2 {
		return meanOf(y), math.Inf(1)
	}
	mean = meanOf(y)
	m := 1
	for m < 2*n {
		m <<= 1
	}
	buf := make([]float64, m)
	for i, v := range y {
		buf[i] = v - mean
	}
	fft := fourier.NewFFT(m)
	c := fft.Coefficients(nil, buf)
	for i, z := range c {
		c[i] = complex(real(z)*real(z)+imag(z)*imag(z), 0)
	}
	acf := fft.Sequence(nil, c) // m·Σ_t d_t d_{t+k}; gonum does not normalise
	c0 := acf[0]
	if c0 == 0 {
		return mean, 0
	}
	tau := 1.0
	for w := 1; w < n; w++ {
		tau += 2 * acf[w] / c0
		if float64(w) >= 5*tau {
			break
		}
	}
	tau = math.Max(tau, 1/float64(n)) // a negative sum is noise; keep SE > 0
	return mean, math.Sqrt(c0 / float64(m) / float64(n) * tau / float64(n))
}

func meanOf(y []float64) float64 {
	var s float64
	for _, v := range y {
		s += v
	}
	return s / float64(len(y))
}
