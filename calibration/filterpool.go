package calibration

import (
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
)

// ADCFilter is the ADC anti-aliasing filter a calibration measured
// (filter.go): a second-order low-pass with unit DC gain, the same on
// every channel, pooled over the probes that showed it.
type ADCFilter struct {
	// CornerHz is the −3 dB frequency and CornerHzSE its standard error.
	CornerHz   float64 `json:"corner_hz"`
	CornerHzSE float64 `json:"corner_hz_se"`
	// Q is the quality factor (1/√2 for a Butterworth) and QSE its
	// standard error.
	Q   float64 `json:"q"`
	QSE float64 `json:"q_se"`
	// Modes are (a₁, a₂) at the calibration's sample period: the filter's
	// modes are the roots of z² − a₁z + a₂; ModesCov is the covariance of
	// their mean (c₁₁, c₁₂, c₂₂).
	Modes    [2]float64 `json:"modes"`
	ModesCov [3]float64 `json:"modes_cov"`
	// Probes is the number of probes whose transients showed the filter.
	Probes int `json:"probes"`
}

// directions returns the two perturbations ±1 standard deviation along the
// principal axes of the modes' covariance: Σ_k (f(a + d_k) − f(a))² is
// the first-order variance of any f of the modes.
func (a *ADCFilter) directions() [][2]float64 {
	c11, c12, c22 := a.ModesCov[0], a.ModesCov[1], a.ModesCov[2]
	tr, det := c11+c22, c11*c22-c12*c12
	disc := math.Sqrt(math.Max(tr*tr/4-det, 0))
	var out [][2]float64
	for _, l := range []float64{tr/2 + disc, tr/2 - disc} {
		if !(l > 0) {
			continue
		}
		// Eigenvector of [[c11 c12] [c12 c22]] for l.
		v := [2]float64{c12, l - c11}
		if math.Abs(c12) < 1e-300 {
			v = [2]float64{1, 0}
			if math.Abs(l-c22) < math.Abs(l-c11) {
				v = [2]float64{0, 1}
			}
		}
		n := math.Hypot(v[0], v[1])
		s := math.Sqrt(l) / n
		out = append(out, [2]float64{a.Modes[0] + s*v[0], a.Modes[1] + s*v[1]})
	}
	return out
}

// poolFilter pools the filter modes of the probes whose fits show one
// (their mean, and its covariance from their spread) and refits every
// probe at the pooled modes: the filter is one property of the board. It
// returns nil when no probe showed a filter.
func poolFilter(data []*transients, fits []*fit, h time.Duration) (*ADCFilter, error) {
	var as [][2]float64
	for _, f := range fits {
		if f.Filter != nil {
			as = append(as, [2]float64{f.Filter.A1, f.Filter.A2})
		}
	}
	if len(as) == 0 {
		return nil, nil
	}
	if len(as) < 2 {
		return nil, fmt.Errorf("calibration: only one probe of %d showed the ADC filter, its uncertainty is unknown: %w", len(fits), hal.ErrUnsupported)
	}
	n := float64(len(as))
	out := &ADCFilter{Probes: len(as)}
	for _, a := range as {
		out.Modes[0] += a[0] / n
		out.Modes[1] += a[1] / n
	}
	for _, a := range as {
		d0, d1 := a[0]-out.Modes[0], a[1]-out.Modes[1]
		// Covariance of the mean: the spread's over n − 1, divided by n.
		out.ModesCov[0] += d0 * d0 / (n - 1) / n
		out.ModesCov[1] += d0 * d1 / (n - 1) / n
		out.ModesCov[2] += d1 * d1 / (n - 1) / n
	}
	hs := h.Seconds()
	af, err := newADCFilter(out.Modes[0], out.Modes[1], hs)
	if err != nil {
		return nil, fmt.Errorf("calibration: pooled %w", err)
	}
	out.CornerHz, out.Q = af.CornerHz(), af.Q()
	for _, d := range out.directions() {
		p, err := newADCFilter(d[0], d[1], hs)
		if err != nil {
			return nil, fmt.Errorf("calibration: perturbed %w", err)
		}
		out.CornerHzSE = math.Hypot(out.CornerHzSE, p.CornerHz()-out.CornerHz)
		out.QSE = math.Hypot(out.QSE, p.Q()-out.Q)
	}
	for c, t := range data {
		if fits[c], err = t.reg.solveAt(out.Modes, hs); err != nil {
			return nil, fmt.Errorf("calibration: probe %d at the pooled ADC filter: %w", c+1, err)
		}
	}
	return out, nil
}

// refitAt returns every probe's fit at filter modes a.
func refitAt(data []*transients, a [2]float64, h time.Duration) ([]*fit, error) {
	out := make([]*fit, len(data))
	for c, t := range data {
		f, err := t.reg.solveAt(a, h.Seconds())
		if err != nil {
			return nil, fmt.Errorf("calibration: probe %d: %w", c+1, err)
		}
		out[c] = f
	}
	return out, nil
}

// addFilterUncertainty adds the filter modes' uncertainty to the standard
// errors of everything fitted from the transients: the fits are repeated
// at the modes moved by one standard deviation along each principal axis,
// and the shifts are added in quadrature (first-order propagation; the
// modes' error is common to every probe, so the per-probe standard errors
// do not contain it).
func addFilterUncertainty(cal *Calibration, pr [][]float64, data []*transients, s *session) error {
	for _, d := range cal.ADCFilter.directions() {
		fits, err := refitAt(data, d, s.period)
		if err != nil {
			return err
		}
		alt := &Calibration{}
		if _, _, err := fitDynamics(alt, pr, data, fits, s); err != nil {
			return fmt.Errorf("calibration: at the perturbed ADC filter: %w", err)
		}
		quad := func(se, a, b []float64) {
			for i := range se {
				se[i] = math.Hypot(se[i], a[i]-b[i])
			}
		}
		quad(cal.ADC.GainSE, cal.ADC.Gain, alt.ADC.Gain)
		quad(cal.ADC.OffsetSE, cal.ADC.Offset, alt.ADC.Offset)
		quad(cal.Couplings.GainSE, cal.Couplings.Gain, alt.Couplings.Gain)
		quad(cal.Couplings.OffsetSE, cal.Couplings.Offset, alt.Couplings.Offset)
		quad(cal.Cells.TauSE, cal.Cells.TauS, alt.Cells.TauS)
		quad(cal.Cells.NoiseSE, cal.Cells.NoiseV, alt.Cells.NoiseV)
	}
	return nil
}

// fitDynamics fits, from the probes' transients and fits, the ADC lines,
// the coupling gains, each cell's τ and its noise into cal, and returns
// the fits in volts and the channels' success flags.
func fitDynamics(cal *Calibration, pr [][]float64, data []*transients, fits []*fit, s *session) ([]*fit, []bool, error) {
	success, err := fitADC(cal, data, fits, s.info)
	if err != nil {
		return nil, nil, err
	}
	volts, err := fitCouplings(cal, pr, fits, s.info, s.period, success)
	if err != nil {
		return nil, nil, err
	}
	fitTaus(cal, s.info, success)
	if err := fitNoise(cal, volts, s.info); err != nil {
		return nil, nil, err
	}
	return volts, success, nil
}
