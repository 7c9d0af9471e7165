package calibration

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/linfit"
)

// Defaults of CheckOptions.
const (
	DefaultCheckEvents = 6000
	// DefaultMinEffect is the rms coupling deviation (1/τ) below which a
	// statistically significant drift is still accepted as harmless.
	DefaultMinEffect = 5e-4
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
	// within its statistics (χ²/dof ≤ 1 + 5·√(2/dof): five standard
	// deviations of χ²/dof above its mean, the couplings compared by their
	// full covariance), or the deviation is too small to matter (rms
	// coupling deviation ≤ MinEffect).
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
//
// The comparison: the reference's realised couplings against the
// prediction (compareCouplings), then what the corrected ADC still shows
// (compareADC), pooled into one χ²/dof.
func Check(ctx context.Context, b hal.Board, cal *Calibration, o *CheckOptions) (*CheckReport, error) {
	opt, err := o.withDefaults()
	if err != nil {
		return nil, err
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
	m, err := s.measureReference(ctx, cal, opt.Seed, opt.Events)
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{MinEffect: opt.MinEffect}
	chi2, err := rep.compareCouplings(m, cal, float64(s.info.Tau)/float64(s.period))
	if err != nil {
		return nil, err
	}
	dof := len(m.realised)
	if chi2, dof, err = rep.compareADC(m, cal, chi2, dof); err != nil {
		return nil, err
	}
	rep.Dof = dof
	rep.Chi2PerDof = chi2 / float64(dof)
	rep.Threshold = 1 + 5*math.Sqrt(2/float64(dof))
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

// withDefaults returns the options (nil: all defaults) with the defaults
// filled in, refusing too few events.
func (o *CheckOptions) withDefaults() (CheckOptions, error) {
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
		return opt, fmt.Errorf("calibration check: %d events, want ≥ 50: %w", opt.Events, hal.ErrInvalid)
	}
	return opt, nil
}

// reference is the check's measurement: the reference couplings as
// programmed, their transients (ADC-corrected), the regression fit and the
// realised τ_ref·M with its standard errors.
type reference struct {
	k            int // cells
	programmed   []float64
	t            *transients
	f            *fit
	realised, se []float64
}

// measureReference programs the reference matrix (the first probe of a
// seeded draw) at zero bias and records events transients through the
// calibration's ADC correction, with the calibration's window.
func (s *session) measureReference(ctx context.Context, cal *Calibration, seed uint64, events int) (*reference, error) {
	po := Options{Seed: seed ^ 0xc4ec4, Probes: 3, Events: 30, Window: 3, BiasLevels: 3, BiasTaus: 10}
	pr, err := probes(s.info, po)
	if err != nil {
		return nil, err
	}
	m := &reference{k: s.k, programmed: pr[0]}
	if err := s.b.SetCouplings(ctx, m.programmed); err != nil {
		return nil, fmt.Errorf("calibration check: programming the reference: %w", err)
	}
	// The transients relax toward the bias: zero it, as calibration does
	// (a board left at the last bias level would rail).
	if err := s.zeroBias(ctx); err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, streamStates^0xc4ec4))
	if m.t, err = s.record(ctx, rng, events, cal.Options.forBoard(s.info).Window, cal.correctADC, nil); err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	// Through the calibration's own ADC filter, if it measured one: the
	// check then compares like with like (the filter's error, common to
	// both, is in the calibration's standard errors already).
	if cal.ADCFilter != nil {
		m.f, err = m.t.reg.solveAt(cal.ADCFilter.Modes, s.period.Seconds())
	} else {
		m.f, err = m.t.reg.solveDynamics(s.period.Seconds())
	}
	if err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	if m.realised, m.se, err = drift(m.f, s.k, s.info.Tau, s.period); err != nil {
		return nil, fmt.Errorf("calibration check: %w", err)
	}
	return m, nil
}

// compareCouplings fills in the coupling deviations of the reference from
// cal's prediction (rms, largest, rms standard error) and returns their χ²
// by the full covariance; s = τ_ref/h.
func (rep *CheckReport) compareCouplings(m *reference, cal *Calibration, s float64) (float64, error) {
	a, se, ref := m.realised, m.se, m.programmed
	want := cal.realised(ref)
	var ss, sse float64
	d := make([]float64, len(a))
	pred := make([]float64, len(a))
	for e := range a {
		d[e] = a[e] - want[e]
		pred[e] = math.Pow(cal.Couplings.GainSE[e]*ref[e], 2) + math.Pow(cal.Couplings.OffsetSE[e], 2)
		ss += d[e] * d[e]
		sse += se[e]*se[e] + pred[e]
		rep.MaxCoupling = math.Max(rep.MaxCoupling, math.Abs(d[e]))
	}
	// The 64 deviations share their regression's row residuals: compare
	// them by their full covariance (Mahalanobis), not one by one.
	chi2, err := mahalanobis(m.f, m.k, s, d, pred)
	if err != nil {
		return 0, fmt.Errorf("calibration check: %w", err)
	}
	n := float64(len(a))
	rep.RMSCoupling, rep.RMSCouplingSE = math.Sqrt(ss/n), math.Sqrt(sse/n)
	return chi2, nil
}

// compareADC fits the ADC line that the corrected readings still show per
// channel (backcast against the forced states) and adds each channel's
// gain and offset shift to chi2 and dof.
func (rep *CheckReport) compareADC(m *reference, cal *Calibration, chi2 float64, dof int) (float64, int, error) {
	k := m.k
	bc, err := backcast(m.f, m.t, k)
	if err != nil {
		return 0, 0, fmt.Errorf("calibration check: %w", err)
	}
	rep.ADCGainShift, rep.ADCOffsetShift = make([]float64, k), make([]float64, k)
	for i := range k {
		xs, ys := make([]float64, len(bc)), make([]float64, len(bc))
		for e, z := range bc {
			xs[e], ys[e] = m.t.forced[e][i], z[i]
		}
		g, off, gse, ose, _, ok := linfit.Line(xs, ys)
		if !ok {
			continue
		}
		rep.ADCGainShift[i], rep.ADCOffsetShift[i] = g-1, off
		gv := gse*gse + math.Pow(cal.ADC.GainSE[i]/cal.ADC.Gain[i], 2)
		ov := ose*ose + math.Pow(cal.ADC.OffsetSE[i]/cal.ADC.Gain[i], 2)
		chi2 += (g-1)*(g-1)/gv + off*off/ov
		dof += 2
	}
	return chi2, dof, nil
}

// mahalanobis returns dᵀC⁻¹d for the deviations d of the realised τ_ref·M
// (K², row-major) from the calibration's prediction, with
// C = s²·(R ⊗ W) + diag(pred): the check's own estimate, L = −log Φ with
// dL ≈ dΦ·Φ⁻¹, has Cov(L_ij, L_lp) = R_il·W_jp with W = Φ⁻ᵀ·XXInv·Φ⁻¹
// (R the residual covariance, XXInv from the regression), scaled by
// s = τ_ref/h; pred are the prediction's independent variances.
func mahalanobis(f *fit, k int, s float64, d, pred []float64) (float64, error) {
	var pinv mat.Dense
	if err := pinv.Inverse(mat.NewDense(k, k, append([]float64(nil), f.Phi...))); err != nil {
		return 0, fmt.Errorf("Φ is singular: %w", hal.ErrUnsupported)
	}
	var t, w mat.Dense
	t.Mul(pinv.T(), mat.NewDense(k, k, f.XXInv))
	w.Mul(&t, &pinv)
	n := k * k
	c := mat.NewSymDense(n, nil)
	for i := range k {
		for j := range k {
			for l := range k {
				for p := range k {
					a, b := i*k+j, l*k+p
					if b < a {
						continue
					}
					v := s * s * f.Resid[i*k+l] * (w.At(j, p) + w.At(p, j)) / 2
					if a == b {
						v += pred[a]
					}
					c.SetSym(a, b, v)
				}
			}
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(c) {
		return 0, fmt.Errorf("the deviations' covariance is not positive definite: %w", hal.ErrUnsupported)
	}
	x := mat.NewVecDense(n, nil)
	if err := ch.SolveVecTo(x, mat.NewVecDense(n, append([]float64(nil), d...))); err != nil {
		return 0, err
	}
	return mat.Dot(x, mat.NewVecDense(n, d)), nil
}
