package calibration

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spukit/spukit/hal"
)

// Defaults of CheckOptions.
const (
	DefaultCheckEvents = 6000
	// DefaultMinEffect is the rms coupling deviation (1/τ) below which a
	// statistically significant drift is still accepted as harmless.
	DefaultMinEffect = 5e-4
	// seFactor widens the χ²/dof threshold, which treats the 64
	// deviations as independent although they are correlated (shared row
	// residuals): measured, not derived — fresh calibrations check at
	// χ²/dof 0.8–1.75 on sim:proto8 (docs/calibration.md, Drift check).
	seFactor = 1.5
)

// CheckOptions tune Check. The zero value selects the defaults.
type CheckOptions struct {
	// Events is the number of forced-state transients of the reference
	// measurement.
	Events int
	// MinEffect is the smallest rms coupling deviation, in 1/τ, that makes
	// a calibration fail (see CheckReport.Holds).
	MinEffect float64
	// Limits bound age and temperature change for the staleness warnings.
	Limits Limits
	// Seed fixes the reference matrix and the forced states.
	Seed uint64
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	// Holds is true when the board still behaves as the calibration says:
	// the reference measurement agrees with the calibration's prediction
	// within its statistics (χ²/dof ≤ 1.5·(1 + 5·√(2/dof)), where 1.5
	// allows for the optimism of first-order standard errors), or the
	// deviation is
	// too small to matter (rms coupling deviation ≤ MinEffect).
	Holds bool `json:"holds"`
	// Chi2PerDof compares the measured realised couplings and the ADC line
	// with the calibration's prediction, in units of the combined
	// standard errors; Dof is the number of compared quantities.
	Chi2PerDof float64 `json:"chi2_per_dof"`
	Dof        int     `json:"dof"`
	Threshold  float64 `json:"chi2_per_dof_threshold"`
	// RMSCoupling and MaxCoupling are the rms and largest |deviation| of
	// the realised couplings from the prediction, in 1/τ; RMSCouplingSE is
	// the rms standard error of one deviation.
	RMSCoupling   float64 `json:"rms_coupling"`
	MaxCoupling   float64 `json:"max_coupling"`
	RMSCouplingSE float64 `json:"rms_coupling_se"`
	MinEffect     float64 `json:"min_effect"`
	// ADCGainShift and ADCOffsetShift are what the corrected ADC still
	// shows (0 and 0 V when the calibration holds).
	ADCGainShift   []float64 `json:"adc_gain_shift"`
	ADCOffsetShift []float64 `json:"adc_offset_shift_v"`
	// Warnings are the staleness warnings (age, temperature, firmware).
	Warnings   []string `json:"warnings"`
	BoardTimeS float64  `json:"board_time_s"`
	WallS      float64  `json:"wall_s"`
}

// Check measures a reference coupling matrix on board b (a raw board or a
// calibrated Board, which is looked through) and compares it with what cal
// predicts. It reprograms the board.
func Check(ctx context.Context, b hal.Board, cal *Calibration, o *CheckOptions) (*CheckReport, error) {
	var opt CheckOptions
	if o != nil {
		opt = *o
	}
	if opt.Events == 0 {
		opt.Events = DefaultCheckEvents
	}
	if opt.MinEffect == 0 {
		opt.MinEffect = DefaultMinEffect
	}
	if opt.Events < 50 {
		return nil, fmt.Errorf("calibration check: %d events, want ≥ 50: %w", opt.Events, hal.ErrInvalid)
	}
	if cb, ok := b.(Board); ok {
		b = cb.Unwrap()
	}
	if b == nil || cal == nil {
		return nil, fmt.Errorf("calibration check: nil board or calibration: %w", hal.ErrInvalid)
	}
	if err := cal.Validate(); err != nil {
		return nil, err
	}
	if err := cal.Matches(b.Info()); err != nil {
		return nil, err
	}
	s, err := newSession(b)
	if err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	k := s.k
	po := Options{Seed: opt.Seed ^ 0xc4ec4, Probes: 3, Events: 30, Window: 3, BiasLevels: 3, BiasTaus: 10}
	pr, err := probes(s.info, po)
	if err != nil {
		return nil, err
	}
	ref := pr[0]
	if err := b.SetCouplings(ctx, ref); err != nil {
		return nil, fmt.Errorf("calibration check: programming the reference: %w", err)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, streamStates^0xc4ec4))
	t, err := s.record(ctx, rng, opt.Events, cal.Options.forBoard(s.info).Window, cal.correctADC, nil)
	if err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	f, err := t.reg.solve()
	if err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	a, se, err := drift(f, k, s.info.Tau, s.period)
	if err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	want := cal.realised(ref)
	rep := &CheckReport{MinEffect: opt.MinEffect}
	var chi2, ss, sse float64
	for e := range a {
		d := a[e] - want[e]
		v := se[e]*se[e] + math.Pow(cal.Couplings.GainSE[e]*ref[e], 2) + math.Pow(cal.Couplings.OffsetSE[e], 2)
		chi2 += d * d / v
		ss += d * d
		sse += v
		rep.MaxCoupling = math.Max(rep.MaxCoupling, math.Abs(d))
	}
	n := float64(len(a))
	rep.RMSCoupling, rep.RMSCouplingSE = math.Sqrt(ss/n), math.Sqrt(sse/n)
	dof := len(a)
	bc, err := backcast(f, t, k)
	if err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	rep.ADCGainShift, rep.ADCOffsetShift = make([]float64, k), make([]float64, k)
	for i := range k {
		xs, ys := make([]float64, len(bc)), make([]float64, len(bc))
		for e, z := range bc {
			xs[e], ys[e] = t.forced[e][i], z[i]
		}
		g, off, gse, ose, _, ok := line(xs, ys)
		if !ok {
			continue
		}
		rep.ADCGainShift[i], rep.ADCOffsetShift[i] = g-1, off
		gv := gse*gse + math.Pow(cal.ADC.GainSE[i]/cal.ADC.Gain[i], 2)
		ov := ose*ose + math.Pow(cal.ADC.OffsetSE[i]/cal.ADC.Gain[i], 2)
		chi2 += (g-1)*(g-1)/gv + off*off/ov
		dof += 2
	}
	rep.Dof = dof
	rep.Chi2PerDof = chi2 / float64(dof)
	rep.Threshold = seFactor * (1 + 5*math.Sqrt(2/float64(dof)))
	rep.Holds = rep.Chi2PerDof <= rep.Threshold || rep.RMSCoupling <= opt.MinEffect
	var temp *float64
	if tc, ok := Temperature(b); ok {
		temp = &tc
	}
	rep.Warnings = cal.Staleness(time.Now(), s.info, temp, opt.Limits)
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	c := s.cost()
	rep.BoardTimeS, rep.WallS = c.BoardTimeS, c.WallS
	return rep, nil
}
