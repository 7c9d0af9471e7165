package calibration

import (
	"fmt"
	"math"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/linfit"
)

// fitTaus splits each row's fitted gains into the cell's τ_i under the row
// gauge (the gains of a row average to one) and clears the success flag of
// a cell whose τ is more than 30 % off the nominal. It allocates every
// per-cell slice, the noise ones included.
func fitTaus(cal *Calibration, info hal.Info, success []bool) {
	k := info.Cells
	cp, cl := &cal.Couplings, &cal.Cells
	cl.TauS, cl.TauSE = make([]float64, k), make([]float64, k)
	cl.NoiseV, cl.NoiseSE, cl.EffectiveNoiseV = make([]float64, k), make([]float64, k), make([]float64, k)
	for i := range k {
		row := cp.Gain[i*k : (i+1)*k]
		var m, v float64
		for _, g := range row {
			m += g
		}
		m /= float64(k)
		for _, g := range row {
			v += (g - m) * (g - m)
		}
		sd := 0.0
		if k > 1 {
			sd = math.Sqrt(v / float64(k-1))
		}
		cl.TauS[i] = info.Tau.Seconds() / m
		cl.TauSE[i] = cl.TauS[i] * sd / math.Sqrt(float64(k))
		if math.Abs(cl.TauS[i]/info.Tau.Seconds()-1) > 0.3 {
			success[i] = false
		}
	}
}

// fitNoise estimates each cell's injected noise from the probes' residual
// covariances (fits in volts): per probe the continuous diffusion Q, then
// σ_i = √(Q_ii·τ_i/2) averaged over the probes, and the largest noise
// correlation between cells. fitTaus must have run.
func fitNoise(cal *Calibration, fits []*fit, info hal.Info) error {
	k := info.Cells
	cl := &cal.Cells
	sig := make([][]float64, k)
	for c, f := range fits {
		q, err := diffusion(f, cal.Couplings.Realised[c], info.Tau.Seconds(), k)
		if err != nil {
			return fmt.Errorf("calibration: probe %d noise: %w", c+1, err)
		}
		for i := range k {
			sig[i] = append(sig[i], math.Sqrt(math.Max(q[i*k+i], 0)*cl.TauS[i]/2))
			for j := range i {
				if d := q[i*k+i] * q[j*k+j]; d > 0 {
					cl.NoiseCorrMax = math.Max(cl.NoiseCorrMax, math.Abs(q[i*k+j])/math.Sqrt(d))
				}
			}
		}
	}
	for i := range k {
		mu, sd := linfit.MeanSD(sig[i])
		// σ_i² = Q_ii·τ_i/2 carries τ_i's gauge uncertainty, common to
		// every probe: relative ½·se(τ_i)/τ_i, added in quadrature.
		gauge := 0.5 * mu * cl.TauSE[i] / cl.TauS[i]
		cl.NoiseV[i], cl.NoiseSE[i] = mu, math.Hypot(sd/math.Sqrt(float64(len(sig[i]))), gauge)
		cl.EffectiveNoiseV[i] = mu * math.Sqrt(info.Tau.Seconds()/cl.TauS[i])
	}
	return nil
}

// diffusion returns one probe's continuous diffusion Q (V²/s, row-major)
// from its fit in volts and its realised τ_ref·M, τ_ref = tau seconds.
func diffusion(f *fit, realised []float64, tau float64, k int) ([]float64, error) {
	if f.Filter != nil {
		q, _, err := f.Filter.diffusion(f, realised, tau, k)
		return q, err
	}
	// Read noise (white, diagonal N) adds N + ΦNΦᵀ to the residual
	// covariance; its lag-1 signature −NΦᵀ measures it, so it is
	// taken out before the diffusion is solved for.
	rn, err := readNoise(f, k)
	if err != nil {
		return nil, err
	}
	qd := append([]float64(nil), f.Resid...)
	for i := range k {
		for j := range k {
			v := 0.0
			for l := range k {
				v += f.Phi[i*k+l] * rn[l] * f.Phi[j*k+l]
			}
			qd[i*k+j] -= v
		}
		qd[i*k+i] -= rn[i]
	}
	sd, err := dlyap(f.Phi, qd, k)
	if err != nil {
		return nil, err
	}
	m := make([]float64, k*k)
	for e := range m {
		m[e] = realised[e] / tau // 1/s
	}
	// Q = MΣ + ΣMᵀ, the continuous diffusion.
	q := make([]float64, k*k)
	for i := range k {
		for j := range k {
			acc := 0.0
			for l := range k {
				acc += m[i*k+l]*sd[l*k+j] + sd[i*k+l]*m[j*k+l]
			}
			q[i*k+j] = acc
		}
	}
	return q, nil
}
