package calibration

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/linfit"
)

// backcast returns, for every forced event, Φ⁻¹(r_1 − c): the reading
// the regression predicts at the forcing instant (through the ADC filter
// when the fit has one, adcFilter.backcast).
func backcast(f *fit, t *transients, k int) ([][]float64, error) {
	if f.Filter != nil {
		return f.Filter.backcast(f, t, k)
	}
	var lu mat.LU
	lu.Factorize(mat.NewDense(k, k, append([]float64(nil), f.Phi...)))
	out := make([][]float64, len(t.first))
	for e, r1 := range t.first {
		d := make([]float64, k)
		for i := range d {
			d[i] = r1[i] - f.C[i]
		}
		var x mat.VecDense
		if err := lu.SolveVecTo(&x, false, mat.NewVecDense(k, d)); err != nil {
			return nil, fmt.Errorf("calibration: identified Φ is singular: %v: %w", err, hal.ErrUnstable)
		}
		out[e] = append([]float64(nil), x.RawVector().Data...)
	}
	return out, nil
}

func newAffine(k int) Affine {
	return Affine{Gain: make([]float64, k), GainSE: make([]float64, k), Offset: make([]float64, k),
		OffsetSE: make([]float64, k), Residual: make([]float64, k)}
}

// correctADC maps raw readings to volts in place: x = (r − O)/G.
func (c *Calibration) correctADC(r []float64) {
	for i := range r {
		r[i] = (r[i] - c.ADC.Offset[i]) / c.ADC.Gain[i]
	}
}

// fitADC fits each channel's ADC line, pooled over the probes: the
// readings the regressions backcast to the forcing instants against the
// forced states. It returns the channels' success flags as far as the ADC
// goes (gain within 10 % of 1, offset within 5 % of the range).
func fitADC(cal *Calibration, data []*transients, fits []*fit, info hal.Info) ([]bool, error) {
	k := info.Cells
	xs, ys := make([][]float64, k), make([][]float64, k)
	for c, t := range data {
		bc, err := backcast(fits[c], t, k)
		if err != nil {
			return nil, fmt.Errorf("probe %d: %w", c+1, err)
		}
		for e, z := range bc {
			for i := range k {
				xs[i] = append(xs[i], t.forced[e][i])
				ys[i] = append(ys[i], z[i])
			}
		}
	}
	cal.ADC = newAffine(k)
	success := make([]bool, k)
	for i := range k {
		g, off, gse, ose, rms, ok := linfit.Line(xs[i], ys[i])
		success[i] = ok && math.Abs(g-1) < 0.1 && math.Abs(off) < 0.05*(info.ADC.Max-info.ADC.Min)
		if !ok {
			g = 1
		}
		cal.ADC.Gain[i], cal.ADC.Offset[i], cal.ADC.GainSE[i], cal.ADC.OffsetSE[i], cal.ADC.Residual[i] = g, off, gse, ose, rms
	}
	return success, nil
}
