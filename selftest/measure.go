package selftest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// Measurement plan, in units of the board's τ: every measurement starts
// from the state it should settle to, waits settleTaus (the slowest mode
// of a good board decays as e^{−t/(1.06τ)}: after 12τ a start 1 V off is
// 12 µV off), then samples every τ/4 for measureTaus. The noise record is
// longer: its rms carries the noise checks.
const (
	settleTaus  = 12
	measureTaus = 40
	// loopTaus is longer: the loopback's offset and linearity are
	// millivolt checks.
	loopTaus  = 160
	noiseTaus = 2000
	// transients of the τ check, alternating sign, each sampled for
	// transientTaus.
	transients    = 8
	transientTaus = 5
)

// tester holds one selftest run.
type tester struct {
	s    *solver.Session
	info hal.Info
	k    int
	o    Options
	w0   time.Time
	rows []Check

	stage, stages int // for Progress
	stageName     string

	period  time.Duration // sample period of every measurement
	n       int           // samples per measurement
	nLoop   int           // samples per loopback level
	settle  time.Duration
	p0      float64   // the bias every unused channel gets (0 V when the DAC has it)
	lo, hi  float64   // node voltages both the bias DAC and the ADC reach
	cur     []float64 // couplings programmed last (nil: none yet)
	diags   []hal.Diagnostic
	base    *reading  // the noise record at A = I, b = p0
	gain    []float64 // loopback gain per channel
	gainSE  []float64
	usable  []bool // loopback good enough to measure couplings with
	timedOK bool   // the noise record's board time was measured
	timed   time.Duration
	calls   int // Sample calls of the noise record
	late0   int
}

// init derives the measurement plan from Info.
func (t *tester) init() {
	in := t.info
	t.period = max(in.Tau/4, in.MinSamplePeriod)
	t.n = max(16, int(math.Ceil(measureTaus*float64(in.Tau)/float64(t.period))))
	t.nLoop = t.n * loopTaus / measureTaus
	t.settle = settleTaus * in.Tau
	t.p0 = math.Min(math.Max(0, in.Bias.Min), in.Bias.Max)
	t.lo, t.hi = math.Max(in.Bias.Min, in.ADC.Min), math.Min(in.Bias.Max, in.ADC.Max)
	if t.o.Late != nil {
		t.late0, _ = t.o.Late()
	}
}

// progress reports fraction f of the current stage.
func (t *tester) progress(f float64) {
	if t.o.Progress != nil {
		t.o.Progress(t.stageName, (float64(t.stage)+f)/float64(t.stages))
	}
}

// identity returns the K × K identity with a[i][j] += c (i, j ≥ 0).
func (t *tester) identity(i, j int, c float64) []float64 {
	a := make([]float64, t.k*t.k)
	for d := range t.k {
		a[d*t.k+d] = 1
	}
	if i >= 0 {
		a[i*t.k+j] += c
		if t.info.Topology == hal.Symmetric && i != j {
			a[j*t.k+i] += c
		}
	}
	return a
}

// biasWith returns the bias vector p0 everywhere but v on cell i (i ≥ 0).
func (t *tester) biasWith(i int, v float64) []float64 {
	b := make([]float64, t.k)
	for c := range b {
		b[c] = t.p0
	}
	if i >= 0 {
		b[i] = v
	}
	return b
}

// reading is what one measurement saw per cell.
type reading struct {
	mean, sd []float64
	sat      []int // saturated readings
	n        int
	// err is a board error that spoiled the measurement (a refused
	// programming); the rows it feeds fail with it.
	err error
}

// saturated says whether cell i hit the end of the ADC or a rail.
func (r *reading) saturated(i int) bool { return r.sat != nil && r.sat[i] > 0 }

// prepare programs a (when it differs from what is programmed) and bias,
// forces x0 and waits the settling time. A refused call is returned as it
// is; the caller tells fatal errors apart.
func (t *tester) prepare(ctx context.Context, a, bias, x0 []float64) error {
	if !slices.Equal(a, t.cur) {
		if err := t.s.ProgramDense(ctx, a, t.k, 1); err != nil {
			t.cur = nil
			return err
		}
		t.cur = a
	}
	if err := t.s.SetRHS(ctx, bias, 1, 1); err != nil {
		return err
	}
	if _, err := t.s.ForceVolts(ctx, x0); err != nil {
		return err
	}
	return t.s.Relax(ctx, t.settle)
}

// collect samples rows readings every t.period into a rows × K slice and
// returns it with the saturated readings per cell (nil when none).
func (t *tester) collect(ctx context.Context, rows int) ([]float64, []int, error) {
	t.s.ResetSaturation()
	buf := make([]float64, 0, rows*t.k)
	err := t.s.Stream(ctx, t.period, rows, func(x []float64) { buf = append(buf, x...) })
	if err != nil {
		return nil, nil, err
	}
	var sat []int
	if t.s.Saturated() > 0 {
		sat = t.s.SaturationError(rows).Counts
	}
	return buf, sat, nil
}

// measure settles the board at couplings a, bias and start x0 and reads
// rows samples: mean and rms per cell. A fatal
// error is returned; any other board error is kept in the reading.
func (t *tester) measure(ctx context.Context, a, bias, x0 []float64, rows int) (*reading, error) {
	r := &reading{}
	err := t.prepare(ctx, a, bias, x0)
	var buf []float64
	if err == nil {
		buf, r.sat, err = t.collect(ctx, rows)
	}
	if err != nil {
		if fatal(err) {
			return nil, err
		}
		r.err = err
		return r, nil
	}
	r.mean, r.sd = moments(buf, t.k)
	r.n = rows
	return r, nil
}

// moments returns the mean and the rms (with n − 1) of each column of the
// rows × k slice buf.
func moments(buf []float64, k int) (mean, sd []float64) {
	rows := len(buf) / k
	mean, sd = make([]float64, k), make([]float64, k)
	for r := range rows {
		for i := range k {
			mean[i] += buf[r*k+i]
		}
	}
	for i := range k {
		mean[i] /= float64(rows)
	}
	for i := range k {
		var ss float64
		for r := range rows {
			d := buf[r*k+i] - mean[i]
			ss += d * d
		}
		if rows > 1 {
			sd[i] = math.Sqrt(ss / float64(rows-1))
		}
	}
	return mean, sd
}

// rho is the lag-1 autocorrelation of a good cell's samples t.period
// apart, exp(−h/τ), with τ at the top of its tolerance (more correlation,
// larger errors).
func (t *tester) rho() float64 {
	return math.Exp(-t.period.Seconds() / (t.info.Tau.Seconds() * (1 + t.o.Tolerances.Tau)))
}

// se is the standard error of the mean of n samples, t.period apart, of
// cell i: an AR(1) process with ρ = exp(−h/τ) and rms σ, whose mean has
// variance σ²(1+ρ)/((1−ρ)·n). σ and τ are Info's, widened by their
// tolerances (a larger τ correlates the samples more), σ by the ADC's
// quantisation too (LSB²/12). A cell the noise record found noisier than
// that uses its measured rms instead: its noise row fails already, and
// its other rows should not fail on the same noise.
func (t *tester) se(i, n int) float64 {
	in, tol := t.info, t.o.Tolerances
	sigma := in.Noise * (1 + tol.Noise) / math.Sqrt(1-tol.Element)
	lsb := in.ADC.LSB()
	sigma = math.Sqrt(sigma*sigma + lsb*lsb/12)
	if t.base != nil && t.base.sd != nil {
		sigma = math.Max(sigma, t.base.sd[i])
	}
	rho := t.rho()
	return sigma * math.Sqrt((1+rho)/((1-rho)*float64(n)))
}

// volts formats a voltage for a row.
func volts(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1:
		return fmt.Sprintf("%.3f V", v)
	case a >= 1e-3:
		return fmt.Sprintf("%.2f mV", v*1e3)
	}
	return fmt.Sprintf("%.0f µV", v*1e6)
}

// spoiled returns the measured text of a reading that could not be used
// for cell i, or "" when it can.
func spoiled(r *reading, i int) string {
	switch {
	case r.err != nil:
		return "board refused: " + r.err.Error()
	case r.saturated(i):
		return fmt.Sprintf("saturated (%d of %d readings at the ADC's end or a rail)", r.sat[i], r.n)
	}
	return ""
}
