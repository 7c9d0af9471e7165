package calibration

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
)

// Defaults of Options.
const (
	DefaultProbes     = 8
	DefaultEvents     = 120000
	DefaultWindowTaus = 2.5 // samples read after each forcing span 2.5 τ
	DefaultBiasLevels = 9
	DefaultBiasTaus   = 3000 // board time per bias level, in τ
)

// Options tune Calibrate. The zero value selects every default. The options
// (with defaults filled in) are part of the calibration's content key.
type Options struct {
	// Seed fixes the probe matrices and the forced states.
	Seed uint64 `json:"seed"`
	// Probes is the number of probe coupling matrices (≥ 3).
	Probes int `json:"probes"`
	// Events is the total number of forced-state transients, spread over
	// the probes; each costs the forcing time plus Window samples.
	Events int `json:"events"`
	// Window is the number of samples read after each forcing (≥ 3); zero
	// means as many as span DefaultWindowTaus time constants at the
	// board's minimum sample period (50 on a 5 µs, τ = 100 µs board).
	Window int `json:"window"`
	// BiasLevels is the number of levels of the bias sweep (≥ 3).
	BiasLevels int `json:"bias_levels"`
	// BiasTaus is the sampling time per bias level in units of τ.
	BiasTaus float64 `json:"bias_taus"`
	// Progress, when set, is called with the stage being measured (see
	// the Stage functions, e.g. "probe 2 of 4: transients for ADC,
	// couplings, τ, noise", then "bias DAC sweep") and the fraction of the
	// whole calibration done (0…1).
	Progress func(stage string, done float64) `json:"-"`
}

func (o Options) withDefaults() Options {
	if o.Probes == 0 {
		o.Probes = DefaultProbes
	}
	if o.Events == 0 {
		o.Events = DefaultEvents
	}
	if o.BiasLevels == 0 {
		o.BiasLevels = DefaultBiasLevels
	}
	if o.BiasTaus == 0 {
		o.BiasTaus = DefaultBiasTaus
	}
	return o
}

// forBoard fills in every default, including the window, which depends on
// the board's τ and minimum sample period.
func (o Options) forBoard(info hal.Info) Options {
	o = o.withDefaults()
	if o.Window == 0 && info.MinSamplePeriod > 0 {
		o.Window = max(3, int(math.Round(DefaultWindowTaus*float64(info.Tau)/float64(info.MinSamplePeriod))))
	}
	return o
}

func (o Options) check() error {
	switch {
	case o.Probes < 3:
		return fmt.Errorf("calibration options: probes = %d, want ≥ 3: %w", o.Probes, hal.ErrInvalid)
	case o.Events < 10*o.Probes:
		return fmt.Errorf("calibration options: events = %d, want ≥ 10 per probe: %w", o.Events, hal.ErrInvalid)
	case o.Window < 3:
		return fmt.Errorf("calibration options: window = %d, want ≥ 3: %w", o.Window, hal.ErrInvalid)
	case o.BiasLevels < 3:
		return fmt.Errorf("calibration options: bias levels = %d, want ≥ 3: %w", o.BiasLevels, hal.ErrInvalid)
	case !(o.BiasTaus >= 10) || math.IsInf(o.BiasTaus, 0):
		return fmt.Errorf("calibration options: bias taus = %g, want ≥ 10: %w", o.BiasTaus, hal.ErrInvalid)
	}
	return nil
}

// PCG streams of the procedure.
const (
	streamProbes = 0x70726f6265 // "probe"
	streamStates = 0x7374617465 // "state"
)

// Temperature returns the board's temperature in °C when it reports one
// (sim.Board does), looking through calibration wrappers.
func Temperature(b hal.Board) (float64, bool) {
	for b != nil {
		if t, ok := b.(interface{ Temperature() float64 }); ok {
			return t.Temperature(), true
		}
		u, ok := b.(interface{ Unwrap() hal.Board })
		if !ok {
			return 0, false
		}
		b = u.Unwrap()
	}
	return 0, false
}

// StageBias is the name Options.Progress gives the last stage, the bias
// DAC sweep.
const StageBias = "bias DAC sweep"

// StageProbe names the stage that records the forced-state transients of
// probe p of n, from which the ADC lines, the coupling gains, each cell's
// τ and its noise are fitted.
func StageProbe(p, n int) string {
	return fmt.Sprintf("probe %d of %d: transients for ADC, couplings, τ, noise", p, n)
}

// Calibrate measures board b (see the package doc) and returns the
// calibration. It leaves the board programmed with the last bias level
// of the sweep. A nil opts selects the defaults.
//
// The stages, in the order they touch the board: the probes' forced-state
// transients (recordProbes), then from those alone the ADC lines (fitADC),
// the coupling gains (fitCouplings), each cell's τ (fitTaus) and its noise
// (fitNoise); last the bias DAC sweep (biasSweep).
func Calibrate(ctx context.Context, b hal.Board, opts *Options) (*Calibration, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if b == nil {
		return nil, fmt.Errorf("calibration: nil board: %w", hal.ErrInvalid)
	}
	o = o.forBoard(b.Info())
	if err := o.check(); err != nil {
		return nil, err
	}
	s, err := newSession(b)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	cal := newCalibration(s, o)
	if t, ok := Temperature(b); ok {
		cal.TemperatureC = &t
	}
	p := &stageProgress{report: o.Progress}
	// Fractions of the work: transients 85 %, bias sweep 15 %.
	pr, err := probes(s.info, o)
	if err != nil {
		return nil, err
	}
	if err := s.zeroBias(ctx); err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	data, fits, err := s.recordProbes(ctx, pr, o, p)
	if err != nil {
		return nil, err
	}
	if cal.ADCFilter, err = poolFilter(data, fits, s.period); err != nil {
		return nil, err
	}
	_, success, err := fitDynamics(cal, pr, data, fits, s)
	if err != nil {
		return nil, err
	}
	if cal.ADCFilter != nil {
		if err := addFilterUncertainty(cal, pr, data, s); err != nil {
			return nil, err
		}
	}
	p.stage = StageBias
	p.done(0.85)

	// Bias sweep on a diagonal coupling with known realised values.
	if err := biasSweep(ctx, s, cal, o, success, func(f float64) { p.done(0.85 + 0.15*f) }); err != nil {
		return nil, err
	}
	s.finish(cal, success)
	p.done(1)
	return cal, nil
}

// newCalibration returns the calibration's header: format, content key,
// the board's identity and the options, with nothing measured yet.
func newCalibration(s *session, o Options) *Calibration {
	info, k := s.info, s.k
	return &Calibration{Format: FormatName, Version: FormatVersion, Key: ContentKey(info, o),
		Board: BoardID{Model: info.Model, Serial: info.Serial, Firmware: info.Firmware, Cells: k,
			TauS: info.Tau.Seconds(), CouplingStep: info.CouplingStep, CouplingMax: info.Coupling.Max,
			SamplePeriodS: s.period.Seconds()},
		MeasuredAt: time.Now().UTC().Round(time.Second), Options: o}
}

// stageProgress forwards Options.Progress with the name of the stage being
// measured; the stages set it as they start.
type stageProgress struct {
	report func(stage string, done float64)
	stage  string
}

// done reports fraction f (clamped to 1) of the whole calibration done.
func (p *stageProgress) done(f float64) {
	if p.report != nil {
		p.report(p.stage, math.Min(1, f))
	}
}
