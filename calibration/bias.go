package calibration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/linfit"
)

// biasBatches is the number of batch means per bias level.
const biasBatches = 10

// biasSweep measures the bias transfer: A = d·I, bias levels across the
// DAC range, equilibrium means from batch means.
func biasSweep(ctx context.Context, s *session, cal *Calibration, o Options, success []bool, progress func(float64)) error {
	info, k := s.info, s.k
	d := snapCoupling(math.Min(2, 0.95*info.Coupling.Max), info)
	a := make([]float64, k*k)
	for i := range k {
		a[i*k+i] = d
	}
	if err := s.b.SetCouplings(ctx, a); err != nil {
		return fmt.Errorf("calibration: bias sweep couplings: %w", err)
	}
	am := cal.realised(a)
	// Levels: equally spaced over 90 % of the DAC range, limited so that the
	// equilibrium v/d stays within 60 % of the ADC range.
	bias := info.Bias
	adcHalf := (info.ADC.Max - info.ADC.Min) / 2
	lo := math.Max(bias.Min+0.05*(bias.Max-bias.Min), -0.6*adcHalf*d)
	hi := math.Min(bias.Max-0.05*(bias.Max-bias.Min), 0.6*adcHalf*d)
	L := o.BiasLevels
	bd := &cal.Bias
	bd.Affine = newAffine(k)
	bd.Levels = make([]float64, L)
	bd.Measured, bd.MeasuredSE = make([][]float64, k), make([][]float64, k)
	for i := range k {
		bd.Measured[i], bd.MeasuredSE[i] = make([]float64, L), make([]float64, L)
	}
	m := newBiasMeter(s, cal, o, d)
	// sat[i][l]: channel i saturated at level l; that level is left out of
	// the channel's fit (a clipped mean is biased).
	sat := make([][]bool, k)
	for i := range sat {
		sat[i] = make([]bool, L)
	}
	for l := range L {
		lv := snap(lo+(hi-lo)*float64(l)/float64(L-1), bias)
		bd.Levels[l] = lv
		bm, clipped, err := m.level(ctx, lv)
		if err != nil {
			return err
		}
		for i, c := range clipped {
			if c {
				sat[i][l] = true
			}
		}
		// β = τ_ref·M x̄ per batch, then batch means.
		for i := range k {
			vals := make([]float64, biasBatches)
			for bi := range biasBatches {
				acc := 0.0
				for j := range k {
					acc += am[i*k+j] * bm[bi][j]
				}
				vals[bi] = acc
			}
			mu, sd := linfit.MeanSD(vals)
			bd.Measured[i][l], bd.MeasuredSE[i][l] = mu, sd/math.Sqrt(biasBatches)
		}
		progress(float64(l+1) / float64(L))
	}
	poolBiasSE(bd)
	fitBias(cal, am, sat, success)
	return nil
}

// biasMeter measures the equilibrium at one bias level after another on
// the sweep's diagonal couplings d·I.
type biasMeter struct {
	s      *session
	cal    *Calibration
	d      float64
	rows   int           // readings per batch
	chunk  int           // readings per Sample call
	settle time.Duration // board time run before sampling a level
	buf    []float64
	v, x0  []float64
}

func newBiasMeter(s *session, cal *Calibration, o Options, d float64) *biasMeter {
	info, k := s.info, s.k
	rows := int(math.Ceil(o.BiasTaus * float64(info.Tau) / float64(s.period) / biasBatches))
	rows = max(rows, 2)
	chunk := min(rows, 4096)
	return &biasMeter{s: s, cal: cal, d: d, rows: rows, chunk: chunk,
		buf:    make([]float64, chunk*k),
		settle: time.Duration(math.Ceil(20 / d * float64(info.Tau))),
		v:      make([]float64, k), x0: make([]float64, k)}
}

// level programs bias lv on every cell, starts from the expected
// equilibrium lv/d, lets it settle and returns the batch means of the
// ADC-corrected readings and which channels saturated.
func (m *biasMeter) level(ctx context.Context, lv float64) ([][]float64, []bool, error) {
	s := m.s
	for i := range m.v {
		m.v[i] = lv
		m.x0[i] = snap(lv/m.d, s.info.ADC)
	}
	if err := s.b.SetBias(ctx, m.v); err != nil {
		return nil, nil, fmt.Errorf("calibration: bias level %g V: %w", lv, err)
	}
	if err := s.b.SetState(ctx, m.x0); err != nil {
		return nil, nil, fmt.Errorf("calibration: bias level %g V: %w", lv, err)
	}
	if err := s.b.Run(ctx, m.settle); err != nil {
		return nil, nil, fmt.Errorf("calibration: bias level %g V: %w", lv, err)
	}
	s.spent += m.settle
	clipped := make([]bool, s.k)
	bm := make([][]float64, biasBatches)
	for bi := range biasBatches {
		sum, err := m.batch(ctx, lv, clipped)
		if err != nil {
			return nil, nil, err
		}
		bm[bi] = sum
	}
	return bm, clipped, nil
}

// batch samples one batch of rows readings and returns their mean per
// channel, marking in clipped the channels that saturated (their readings
// still count, the level is dropped from their fit).
func (m *biasMeter) batch(ctx context.Context, lv float64, clipped []bool) ([]float64, error) {
	s, k := m.s, m.s.k
	sum := make([]float64, k)
	for left := m.rows; left > 0; {
		n := min(left, m.chunk)
		got, err := s.b.Sample(ctx, s.period, m.buf[:n*k])
		s.spent += time.Duration(n) * s.period
		s.rows += got
		var se *hal.SaturationError
		if errors.As(err, &se) {
			for i, c := range se.Counts {
				if i < k && c > 0 {
					s.hits[i] += c
					clipped[i] = true
				}
			}
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("calibration: bias level %g V: %w", lv, err)
		}
		for r := range got {
			row := m.buf[r*k : (r+1)*k]
			m.cal.correctADC(row)
			for i, x := range row {
				sum[i] += x
			}
		}
		left -= n
	}
	for i := range sum {
		sum[i] /= float64(m.rows)
	}
	return sum, nil
}

// poolBiasSE replaces each level's standard error by the channel's pooled
// one. The fluctuation does not depend on the level: pool each channel's
// batch variance over the levels (9 × 9 degrees of freedom instead of
// 9), so the weights 1/se² are not biased by noisy small variances.
func poolBiasSE(bd *BiasDAC) {
	L := len(bd.Levels)
	for i := range bd.MeasuredSE {
		var v float64
		for l := range L {
			v += bd.MeasuredSE[i][l] * bd.MeasuredSE[i][l]
		}
		pooled := math.Sqrt(v / float64(L))
		for l := range L {
			bd.MeasuredSE[i][l] = pooled
		}
	}
}

// fitBias fits every channel's bias line over its unsaturated levels and
// keeps the residuals as the INL of the channels whose χ² says the line
// is not enough.
func fitBias(cal *Calibration, am []float64, sat [][]bool, success []bool) {
	bd := &cal.Bias
	k := len(sat)
	bd.Chi2 = make([]float64, k)
	var inl [][]float64
	for i := range k {
		res, nonlinear, ok := fitBiasChannel(cal, i, am, sat[i])
		if !ok {
			success[i] = false
		}
		if nonlinear {
			if inl == nil {
				inl = make([][]float64, k)
			}
			inl[i] = res
		}
	}
	bd.INL = inl
}

// fitBiasChannel fits channel i's bias line by weighted least squares (a
// note for every saturated level left out), widens the standard errors by
// the couplings' and ADC's shared errors, and returns the residual at each
// level, whether χ² calls for an INL correction, and whether the channel
// passed (fit made, gain positive and within 30 % of 1).
func fitBiasChannel(cal *Calibration, i int, am []float64, sat []bool) (res []float64, nonlinear, pass bool) {
	bd := &cal.Bias
	k, L := len(bd.Measured), len(bd.Levels)
	pass = true
	var lv, ms, mse []float64
	for l := range L {
		if !sat[l] {
			lv, ms, mse = append(lv, bd.Levels[l]), append(ms, bd.Measured[i][l]), append(mse, bd.MeasuredSE[i][l])
		} else {
			cal.Notes = append(cal.Notes, fmt.Sprintf("channel %d: bias level %g V saturated and was left out of the bias fit", i, bd.Levels[l]))
		}
	}
	g, off, gse, ose, chi2, ok := 1.0, 0.0, 0.0, 0.0, 0.0, false
	if len(lv) >= 3 {
		g, off, gse, ose, chi2, ok = wls(lv, ms, mse, true)
	}
	if !ok || !(g > 0) {
		pass = false
		g = 1
	}
	if math.Abs(g-1) > 0.3 {
		pass = false
	}
	var ss float64
	res = make([]float64, L)
	for l, lv := range bd.Levels {
		if sat[l] {
			continue // its residual stays 0: no INL correction there
		}
		res[l] = bd.Measured[i][l] - g*lv - off
		ss += res[l] * res[l]
	}
	// β = τ_ref·M̂_ii·x̄ with x̄ = (r̄ − O_adc)/G_adc: the errors of the
	// fitted diagonal gain E_ii and of the ADC line are shared by every
	// level, so they scale the whole line: var(g) gains
	// g²·(se(E_ii)²/E_ii² + se(G)²/G²), var(off) gains (β'·se(O)/G)²
	// with β' = τ_ref·M̂_ii.
	e := i*k + i
	relE := cal.Couplings.GainSE[e] / cal.Couplings.Gain[e]
	relG := cal.ADC.GainSE[i] / cal.ADC.Gain[i]
	gse = math.Sqrt(gse*gse + g*g*(relE*relE+relG*relG))
	ose = math.Sqrt(ose*ose + math.Pow(am[e]*cal.ADC.OffsetSE[i]/cal.ADC.Gain[i], 2))
	bd.Gain[i], bd.Offset[i], bd.GainSE[i], bd.OffsetSE[i] = g, off, gse, ose
	bd.Residual[i], bd.Chi2[i] = math.Sqrt(ss/float64(max(len(lv), 1))), chi2
	dof := float64(len(lv) - 2)
	nonlinear = dof > 0 && chi2/dof > 1+5*math.Sqrt(2/dof)
	return res, nonlinear, pass
}
