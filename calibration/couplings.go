package calibration

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// toVolts converts a reading-space fit into node-voltage space given the
// ADC line r = G x + O: Φ = G⁻¹ Φ_r G, c = G⁻¹(c_r + Φ_r O − O),
// residual covariance G⁻¹ R G⁻¹.
func toVolts(f *fit, g, o []float64, k int) *fit {
	out := &fit{Phi: make([]float64, k*k), PhiSE: make([]float64, k*k), C: make([]float64, k), CSE: make([]float64, k),
		Resid: make([]float64, k*k), N: f.N}
	if f.Lag1 != nil {
		out.Lag1 = make([]float64, k*k)
	}
	// Through the ADC filter the constant is that of p(S)r (filter.go):
	// the offset enters scaled by p(1); the filter, the same on every
	// channel, commutes with the gains.
	p1 := 1.0
	if f.Filter != nil {
		out.Filter = f.Filter
		p1 = 1 - f.Filter.A1 + f.Filter.A2
	}
	for i := range k {
		acc := f.C[i] - p1*o[i]
		for j := range k {
			e := i*k + j
			out.Phi[e] = f.Phi[e] * g[j] / g[i]
			out.PhiSE[e] = f.PhiSE[e] * g[j] / g[i]
			out.Resid[e] = f.Resid[e] / (g[i] * g[j])
			if f.Lag1 != nil {
				out.Lag1[e] = f.Lag1[e] / (g[i] * g[j])
			}
			acc += p1 * f.Phi[e] * o[j]
		}
		out.C[i] = acc / g[i]
		out.CSE[i] = f.CSE[i] / g[i]
	}
	return out
}

// drift returns τ_ref·M = −(τ_ref/h)·log Φ and first-order standard
// errors. To first order d log Φ ≈ dΦ·Φ⁻¹ (exact when dΦ commutes with Φ,
// and dΦ itself when Φ ≈ I), so with independent entry errors
// SE(L_ij)² = Σ_m SE(Φ_im)²·(Φ⁻¹)_mj².
func drift(f *fit, k int, tauRef, h time.Duration) (a, se []float64, err error) {
	l, err := logm(f.Phi, k)
	if err != nil {
		return nil, nil, err
	}
	var inv mat.Dense
	if err := inv.Inverse(mat.NewDense(k, k, append([]float64(nil), f.Phi...))); err != nil {
		return nil, nil, fmt.Errorf("Φ⁻¹ for the error propagation: %v: %w", err, hal.ErrUnsupported)
	}
	s := float64(tauRef) / float64(h)
	a = make([]float64, k*k)
	se = make([]float64, k*k)
	for i := range k {
		for j := range k {
			e := i*k + j
			a[e] = s * l[e]
			v := 0.0
			for m := range k {
				v += f.PhiSE[i*k+m] * f.PhiSE[i*k+m] * inv.At(m, j) * inv.At(m, j)
			}
			se[e] = s * math.Sqrt(v)
		}
	}
	return a, se, nil
}

// realised returns the model's τ_ref·M for programmed couplings a.
func (c *Calibration) realised(a []float64) []float64 {
	out := make([]float64, len(a))
	for e, v := range a {
		out[e] = c.Couplings.Gain[e]*v + c.Couplings.Offset[e]
	}
	return out
}

// fitCouplings converts each probe's fit to volts with the fitted ADC
// lines, takes its realised τ_ref·M, then fits the probe-plus-offset line
// of every element over the probes (the offset kept only when
// significant). It returns the fits in volts, which the noise stage uses,
// and clears the success flag of a row whose gain cannot be fitted.
func fitCouplings(cal *Calibration, pr [][]float64, fits []*fit, info hal.Info, period time.Duration, success []bool) ([]*fit, error) {
	k := info.Cells
	cp := &cal.Couplings
	volts := make([]*fit, len(fits))
	for c := range pr {
		fv := toVolts(fits[c], cal.ADC.Gain, cal.ADC.Offset, k)
		volts[c] = fv
		a, se, err := drift(fv, k, info.Tau, period)
		if err != nil {
			return nil, fmt.Errorf("calibration: probe %d: %w", c+1, err)
		}
		cp.Probes = append(cp.Probes, pr[c])
		cp.Realised = append(cp.Realised, a)
		cp.RealisedSE = append(cp.RealisedSE, se)
	}
	cp.Gain, cp.GainSE = make([]float64, k*k), make([]float64, k*k)
	cp.Offset, cp.OffsetSE = make([]float64, k*k), make([]float64, k*k)
	cp.OffsetFitted, cp.Chi2, cp.Dof = make([]bool, k*k), make([]float64, k*k), make([]int, k*k)
	av, yv, sv := make([]float64, len(pr)), make([]float64, len(pr)), make([]float64, len(pr))
	for e := range k * k {
		for c := range pr {
			av[c], yv[c], sv[c] = pr[c][e], cp.Realised[c][e], cp.RealisedSE[c][e]
		}
		g, off, gse, ose, chi2, ok := wls(av, yv, sv, true)
		fitted := ok && math.Abs(off) >= 3*ose
		if !fitted {
			// The fit through the origin has no offset.
			g, _, gse, _, chi2, ok = wls(av, yv, sv, false)
			off, ose = 0, 0
		}
		if !ok || !(g > 0) {
			g = 1
			success[e/k] = false
		}
		cp.Gain[e], cp.GainSE[e], cp.Offset[e], cp.OffsetSE[e], cp.Chi2[e] = g, gse, off, ose, chi2
		cp.OffsetFitted[e] = fitted
		cp.Dof[e] = len(pr) - 1
		if fitted {
			cp.Dof[e]--
		}
	}
	return volts, nil
}
