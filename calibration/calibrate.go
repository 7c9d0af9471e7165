package calibration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/mat"

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

// session is one measurement on a board.
type session struct {
	b      hal.Board
	info   hal.Info
	k      int
	period time.Duration
	clock  hal.Clock
	t0     time.Duration
	spent  time.Duration // requested board time when there is no clock
	w0     time.Time
	hits   []int
	events int
	rows   int
	buf    []float64
}

func newSession(b hal.Board) (*session, error) {
	info := b.Info()
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("board reports an invalid description: %w", err)
	}
	s := &session{b: b, info: info, k: info.Cells, period: info.MinSamplePeriod, hits: make([]int, info.Cells), w0: time.Now()}
	if c, ok := b.(hal.Clock); ok {
		s.clock, s.t0 = c, c.BoardTime()
	}
	return s, nil
}

// zeroBias programs the bias nearest 0 V on every cell (on the DAC's code
// grid): the transients then relax toward the origin.
func (s *session) zeroBias(ctx context.Context) error {
	v := snap(math.Min(math.Max(0, s.info.Bias.Min), s.info.Bias.Max), s.info.Bias)
	zero := make([]float64, s.k)
	for i := range zero {
		zero[i] = v
	}
	if err := s.b.SetBias(ctx, zero); err != nil {
		return fmt.Errorf("programming zero bias: %w", err)
	}
	return nil
}

func (s *session) cost() Cost {
	c := Cost{WallS: time.Since(s.w0).Seconds(), Events: s.events, Samples: s.rows}
	if s.clock != nil {
		c.BoardTimeS, c.Clocked = (s.clock.BoardTime() - s.t0).Seconds(), true
	} else {
		c.BoardTimeS = s.spent.Seconds()
	}
	return c
}

// snap puts v on a converter's code grid (inside its range), so that every
// transport (direct, serial codes) programs exactly the same value.
func snap(v float64, c hal.Converter) float64 {
	lsb := c.LSB()
	if lsb == 0 {
		return math.Min(math.Max(v, c.Min), c.Max)
	}
	top := math.Exp2(float64(c.Bits)) - 1
	code := math.Min(math.Max(math.Round((v-c.Min)/lsb), 0), top)
	return c.Min + code*lsb
}

// snapCoupling puts a on the coupling grid, inside the range.
func snapCoupling(a float64, info hal.Info) float64 {
	if info.CouplingStep > 0 {
		a = math.Round(a/info.CouplingStep) * info.CouplingStep
	}
	return math.Min(math.Max(a, info.Coupling.Min), info.Coupling.Max)
}

// probes draws the probe coupling matrices: a diagonal alternating between
// two levels and random-sign off-diagonal elements, each matrix stable with
// a margin (its slowest eigenvalue has real part ≥ 0.3).
func probes(info hal.Info, o Options) ([][]float64, error) {
	k := info.Cells
	r := rand.New(rand.NewPCG(o.Seed, streamProbes))
	hi := math.Min(2, 0.95*info.Coupling.Max)
	lo := 0.6 * hi
	out := make([][]float64, o.Probes)
	for c := range out {
		d := hi
		if c%2 == 1 {
			d = lo
		}
		p := 0.45 * d / 2
		if info.Topology == hal.Symmetric {
			p /= 2
		}
		if info.Coupling.Min > -p {
			p = 0 // a board without negative couplings: positive probes only
		}
		var a []float64
		for try := 0; ; try++ {
			if try == 200 {
				return nil, fmt.Errorf("calibration: no stable probe matrix found for board %s: %w", info.Model, hal.ErrUnsupported)
			}
			a = make([]float64, k*k)
			for i := range k {
				a[i*k+i] = snapCoupling(d, info)
				for j := range k {
					if i == j || (info.Topology == hal.Symmetric && j < i) {
						continue
					}
					v := p
					if r.IntN(2) == 0 && p > 0 {
						v = -p
					}
					if p == 0 {
						v = 0.2 * d / 2 * r.Float64()
					}
					a[i*k+j] = snapCoupling(v, info)
					if info.Topology == hal.Symmetric {
						a[j*k+i] = a[i*k+j]
					}
				}
			}
			if minRe(a, k) >= 0.3*d/2 && hal.CheckCouplings(info, a) == nil {
				break
			}
			if try%20 == 19 {
				p *= 0.85
			}
		}
		out[c] = a
	}
	return out, nil
}

func minRe(a []float64, k int) float64 {
	var eig mat.Eigen
	if !eig.Factorize(mat.NewDense(k, k, append([]float64(nil), a...)), mat.EigenNone) {
		return math.Inf(-1)
	}
	m := math.Inf(1)
	for _, v := range eig.Values(nil) {
		m = math.Min(m, real(v))
	}
	return m
}

// transients holds the data of one probe's forced-state transients:
// the regression of successive readings, and the forced states with the
// first reading after each.
type transients struct {
	reg    *regression
	forced [][]float64
	first  [][]float64
}

// record runs n forced-state transients on the currently programmed
// couplings: force a random state on the ADC grid, read Window samples.
// correct, when set, maps readings to volts in place (a calibrated ADC).
func (s *session) record(ctx context.Context, r *rand.Rand, n, window int, correct func([]float64), progress func(int)) (*transients, error) {
	k := s.k
	t := &transients{reg: newRegression(k)}
	if len(s.buf) < window*k {
		s.buf = make([]float64, window*k)
	}
	buf := s.buf[:window*k]
	adc := s.info.ADC
	mid, half := (adc.Min+adc.Max)/2, (adc.Max-adc.Min)/2
	v := make([]float64, k)
	for e := range n {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("calibration: %w", err)
		}
		for i := range v {
			v[i] = snap(mid+0.8*half*(2*r.Float64()-1), adc)
		}
		if err := s.b.SetState(ctx, v); err != nil {
			return nil, fmt.Errorf("calibration: forcing a state: %w", err)
		}
		got, err := s.b.Sample(ctx, s.period, buf)
		s.spent += time.Duration(window) * s.period
		s.rows += got
		var se *hal.SaturationError
		if errors.As(err, &se) {
			for i, c := range se.Counts {
				if i < k {
					s.hits[i] += c
				}
			}
			continue // a clipped transient would bias the regression
		}
		if err != nil {
			return nil, fmt.Errorf("calibration: sampling a transient: %w", err)
		}
		if got != window {
			return nil, fmt.Errorf("calibration: board returned %d of %d samples: %w", got, window, hal.ErrDisconnected)
		}
		if correct != nil {
			for w := range window {
				correct(buf[w*k : (w+1)*k])
			}
		}
		t.reg.addTransient(buf, window)
		t.forced = append(t.forced, append([]float64(nil), v...))
		t.first = append(t.first, append([]float64(nil), buf[:k]...))
		s.events++
		if progress != nil && e%256 == 255 {
			progress(e + 1)
		}
	}
	return t, nil
}

// backcast returns, for every forced event, Φ⁻¹(r_1 − c): the reading
// the regression predicts at the forcing instant.
func backcast(f *fit, t *transients, k int) ([][]float64, error) {
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

// line fits y = g·x + o by ordinary least squares with standard errors and
// the rms residual.
func line(x, y []float64) (g, o, gse, ose, rms float64, ok bool) {
	n := float64(len(x))
	if n < 3 {
		return 0, 0, 0, 0, 0, false
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxx, sxy float64
	for i := range x {
		sxx += (x[i] - mx) * (x[i] - mx)
		sxy += (x[i] - mx) * (y[i] - my)
	}
	if !(sxx > 0) {
		return 0, 0, 0, 0, 0, false
	}
	g = sxy / sxx
	o = my - g*mx
	var ss float64
	for i := range x {
		r := y[i] - g*x[i] - o
		ss += r * r
	}
	s2 := ss / (n - 2)
	return g, o, math.Sqrt(s2 / sxx), math.Sqrt(s2 * (1/n + mx*mx/sxx)), math.Sqrt(ss / n), true
}

// toVolts converts a reading-space fit into node-voltage space given the
// ADC line r = G x + O: Φ = G⁻¹ Φ_r G, c = G⁻¹(c_r + Φ_r O − O),
// residual covariance G⁻¹ R G⁻¹.
func toVolts(f *fit, g, o []float64, k int) *fit {
	out := &fit{Phi: make([]float64, k*k), PhiSE: make([]float64, k*k), C: make([]float64, k), CSE: make([]float64, k),
		Resid: make([]float64, k*k), N: f.N}
	if f.Lag1 != nil {
		out.Lag1 = make([]float64, k*k)
	}
	for i := range k {
		acc := f.C[i] - o[i]
		for j := range k {
			e := i*k + j
			out.Phi[e] = f.Phi[e] * g[j] / g[i]
			out.PhiSE[e] = f.PhiSE[e] * g[j] / g[i]
			out.Resid[e] = f.Resid[e] / (g[i] * g[j])
			if f.Lag1 != nil {
				out.Lag1[e] = f.Lag1[e] / (g[i] * g[j])
			}
			acc += f.Phi[e] * o[j]
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
	info, k := s.info, s.k
	cal := &Calibration{Format: FormatName, Version: FormatVersion, Key: ContentKey(info, o),
		Board: BoardID{Model: info.Model, Serial: info.Serial, Firmware: info.Firmware, Cells: k,
			TauS: info.Tau.Seconds(), CouplingStep: info.CouplingStep, CouplingMax: info.Coupling.Max,
			SamplePeriodS: s.period.Seconds()},
		MeasuredAt: time.Now().UTC().Round(time.Second), Options: o}
	if t, ok := Temperature(b); ok {
		cal.TemperatureC = &t
	}
	stage := ""
	progress := func(f float64) {
		if o.Progress != nil {
			o.Progress(stage, math.Min(1, f))
		}
	}
	// Fractions of the work: transients 85 %, bias sweep 15 %.
	pr, err := probes(info, o)
	if err != nil {
		return nil, err
	}
	if err := s.zeroBias(ctx); err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	rs := rand.New(rand.NewPCG(o.Seed, streamStates))
	per := o.Events / o.Probes
	data := make([]*transients, len(pr))
	fits := make([]*fit, len(pr))
	for c, a := range pr {
		if err := b.SetCouplings(ctx, a); err != nil {
			return nil, fmt.Errorf("calibration: programming probe %d: %w", c+1, err)
		}
		done := c
		stage = StageProbe(c+1, len(pr))
		progress(0.85 * float64(done) / float64(len(pr)))
		t, err := s.record(ctx, rs, per, o.Window, nil, func(e int) {
			progress(0.85 * (float64(done) + float64(e)/float64(per)) / float64(len(pr)))
		})
		if err != nil {
			return nil, fmt.Errorf("probe %d: %w", c+1, err)
		}
		if fits[c], err = t.reg.solve(); err != nil {
			return nil, fmt.Errorf("calibration: probe %d: %w", c+1, err)
		}
		data[c] = t
	}

	// ADC: pooled over probes, backcast readings against forced states.
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
		g, off, gse, ose, rms, ok := line(xs[i], ys[i])
		success[i] = ok && math.Abs(g-1) < 0.1 && math.Abs(off) < 0.05*(info.ADC.Max-info.ADC.Min)
		if !ok {
			g = 1
		}
		cal.ADC.Gain[i], cal.ADC.Offset[i], cal.ADC.GainSE[i], cal.ADC.OffsetSE[i], cal.ADC.Residual[i] = g, off, gse, ose, rms
	}

	// Couplings: each probe's realised τ_ref·M in volts space, then the
	// probe-plus-offset line per element.
	cp := &cal.Couplings
	for c := range pr {
		fv := toVolts(fits[c], cal.ADC.Gain, cal.ADC.Offset, k)
		fits[c] = fv
		a, se, err := drift(fv, k, info.Tau, s.period)
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
			g, off, gse, ose, chi2, ok = wls(av, yv, sv, false)
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

	// Cells: τ_i under the row gauge, noise from the residual covariance.
	cl := &cal.Cells
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
	sig := make([][]float64, k)
	for c, f := range fits {
		// Read noise (white, diagonal N) adds N + ΦNΦᵀ to the residual
		// covariance; its lag-1 signature −NΦᵀ measures it, so it is
		// taken out before the diffusion is solved for.
		rn, err := readNoise(f, k)
		if err != nil {
			return nil, fmt.Errorf("calibration: probe %d noise: %w", c+1, err)
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
			return nil, fmt.Errorf("calibration: probe %d noise: %w", c+1, err)
		}
		m := make([]float64, k*k)
		for e := range m {
			m[e] = cp.Realised[c][e] / info.Tau.Seconds() // 1/s
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
		mu, sd := meanSD(sig[i])
		// σ_i² = Q_ii·τ_i/2 carries τ_i's gauge uncertainty, common to
		// every probe: relative ½·se(τ_i)/τ_i, added in quadrature.
		gauge := 0.5 * mu * cl.TauSE[i] / cl.TauS[i]
		cl.NoiseV[i], cl.NoiseSE[i] = mu, math.Hypot(sd/math.Sqrt(float64(len(sig[i]))), gauge)
		cl.EffectiveNoiseV[i] = mu * math.Sqrt(info.Tau.Seconds()/cl.TauS[i])
	}
	stage = StageBias
	progress(0.85)

	// Bias sweep on a diagonal coupling with known realised values.
	if err := biasSweep(ctx, s, cal, o, success, func(f float64) { progress(0.85 + 0.15*f) }); err != nil {
		return nil, err
	}
	cal.Success = success
	cal.BoundaryHits = append([]int(nil), s.hits...)
	for i, h := range s.hits {
		if h > 0 {
			cal.Notes = append(cal.Notes, fmt.Sprintf("channel %d: %d saturated readings (their transients were dropped)", i, h))
		}
	}
	cal.Cost = s.cost()
	progress(1)
	return cal, nil
}

func meanSD(v []float64) (float64, float64) {
	var m, s float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	if len(v) < 2 {
		return m, 0
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

func newAffine(k int) Affine {
	return Affine{Gain: make([]float64, k), GainSE: make([]float64, k), Offset: make([]float64, k),
		OffsetSE: make([]float64, k), Residual: make([]float64, k)}
}

// realised returns the model's τ_ref·M for programmed couplings a.
func (c *Calibration) realised(a []float64) []float64 {
	out := make([]float64, len(a))
	for e, v := range a {
		out[e] = c.Couplings.Gain[e]*v + c.Couplings.Offset[e]
	}
	return out
}

// correctADC maps raw readings to volts in place: x = (r − O)/G.
func (c *Calibration) correctADC(r []float64) {
	for i := range r {
		r[i] = (r[i] - c.ADC.Offset[i]) / c.ADC.Gain[i]
	}
}

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
	const batches = 10
	rows := int(math.Ceil(o.BiasTaus * float64(info.Tau) / float64(s.period) / batches))
	rows = max(rows, 2)
	chunk := min(rows, 4096)
	buf := make([]float64, chunk*k)
	settle := time.Duration(math.Ceil(20 / d * float64(info.Tau)))
	v := make([]float64, k)
	x0 := make([]float64, k)
	// sat[i][l]: channel i saturated at level l; that level is left out of
	// the channel's fit (a clipped mean is biased).
	sat := make([][]bool, k)
	for i := range sat {
		sat[i] = make([]bool, L)
	}
	for l := range L {
		lv := snap(lo+(hi-lo)*float64(l)/float64(L-1), bias)
		bd.Levels[l] = lv
		for i := range v {
			v[i] = lv
			x0[i] = snap(lv/d, info.ADC)
		}
		if err := s.b.SetBias(ctx, v); err != nil {
			return fmt.Errorf("calibration: bias level %g V: %w", lv, err)
		}
		if err := s.b.SetState(ctx, x0); err != nil {
			return fmt.Errorf("calibration: bias level %g V: %w", lv, err)
		}
		if err := s.b.Run(ctx, settle); err != nil {
			return fmt.Errorf("calibration: bias level %g V: %w", lv, err)
		}
		s.spent += settle
		bm := make([][]float64, batches)
		for bi := range batches {
			sum := make([]float64, k)
			for left := rows; left > 0; {
				n := min(left, chunk)
				got, err := s.b.Sample(ctx, s.period, buf[:n*k])
				s.spent += time.Duration(n) * s.period
				s.rows += got
				var se *hal.SaturationError
				if errors.As(err, &se) {
					for i, c := range se.Counts {
						if i < k && c > 0 {
							s.hits[i] += c
							sat[i][l] = true
						}
					}
					err = nil
				}
				if err != nil {
					return fmt.Errorf("calibration: bias level %g V: %w", lv, err)
				}
				for r := range got {
					row := buf[r*k : (r+1)*k]
					cal.correctADC(row)
					for i, x := range row {
						sum[i] += x
					}
				}
				left -= n
			}
			for i := range sum {
				sum[i] /= float64(rows)
			}
			bm[bi] = sum
		}
		// β = τ_ref·M x̄ per batch, then batch means.
		for i := range k {
			vals := make([]float64, batches)
			for bi := range batches {
				acc := 0.0
				for j := range k {
					acc += am[i*k+j] * bm[bi][j]
				}
				vals[bi] = acc
			}
			mu, sd := meanSD(vals)
			bd.Measured[i][l], bd.MeasuredSE[i][l] = mu, sd/math.Sqrt(batches)
		}
		progress(float64(l+1) / float64(L))
	}
	// The fluctuation does not depend on the level: pool each channel's
	// batch variance over the levels (9 × 9 degrees of freedom instead of
	// 9), so the weights 1/se² are not biased by noisy small variances.
	for i := range k {
		var v float64
		for l := range L {
			v += bd.MeasuredSE[i][l] * bd.MeasuredSE[i][l]
		}
		pooled := math.Sqrt(v / float64(L))
		for l := range L {
			bd.MeasuredSE[i][l] = pooled
		}
	}
	bd.Chi2 = make([]float64, k)
	var inl [][]float64
	for i := range k {
		var lv, ms, mse []float64
		for l := range L {
			if !sat[i][l] {
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
			success[i] = false
			g = 1
		}
		if math.Abs(g-1) > 0.3 {
			success[i] = false
		}
		var ss float64
		res := make([]float64, L)
		for l, lv := range bd.Levels {
			if sat[i][l] {
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
		if dof := float64(len(lv) - 2); dof > 0 && chi2/dof > 1+5*math.Sqrt(2/dof) {
			if inl == nil {
				inl = make([][]float64, k)
			}
			inl[i] = res
		}
	}
	bd.INL = inl
	return nil
}
