package selftest

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/internal/adcfilter"
	"github.com/spukit/spukit/internal/linfit"
)

// noise records A = I, b = p0 for noiseTaus and checks each cell's rms
// against Info.Noise. The record's means are the zero point of the
// loopback and coupling checks.
func (t *tester) noise(ctx context.Context) error {
	rows := max(64, int(math.Ceil(noiseTaus*float64(t.info.Tau)/float64(t.period))))
	x0 := t.biasWith(-1, 0)
	for i := range x0 {
		x0[i] = math.Min(math.Max(x0[i], t.info.ADC.Min), t.info.ADC.Max)
	}
	r, err := t.measure(ctx, t.identity(-1, -1, 0), t.biasWith(-1, 0), x0, rows)
	if err != nil {
		return err
	}
	t.base = r
	want, tol := t.noiseExpected(rows)
	for i := range t.k {
		c := Check{Name: "noise", Component: fmt.Sprintf("cell %d", i),
			Expected: fmt.Sprintf("rms %s ± %s", volts(want), volts(tol))}
		if c.Measured = spoiled(r, i); c.Measured != "" {
			c.Hint = fmt.Sprintf("cell %d does not sit near %s with A = I: a node stuck at a rail, the ADC channel's input, or the board's supplies", i, volts(t.p0))
			t.add(c)
			continue
		}
		c.Measured = fmt.Sprintf("rms %s (mean %s)", volts(r.sd[i]), volts(r.mean[i]))
		c.Pass = within(r.sd[i], want, tol)
		switch {
		case c.Pass:
		case r.sd[i] == 0:
			c.Measured = fmt.Sprintf("constant %s (rms 0)", volts(r.mean[i]))
			c.Hint = fmt.Sprintf("ADC channel %d reads a constant: a dead channel — check its input pin and trace to cell %d's node, and the AD7606 channel (V%d)", i, i, i+1)
		case r.sd[i] < want:
			c.Hint = fmt.Sprintf("cell %d is quieter than the injected noise: the noise source is not reaching it, or the ADC channel is filtered or stuck on a few codes", i)
		default:
			c.Hint = fmt.Sprintf("cell %d is noisier than the injected noise: pick-up, a missing decoupling capacitor, an oscillating op-amp, or ground loops — look at the node on a scope", i)
		}
		t.add(c)
	}
	return nil
}

// noiseExpected is the rms of a good cell at A = I and its tolerance for a
// record of n samples. The rms is sqrt(σ²/A_ii + LSB²/12) (hal: the
// variance is σ²/A_ii; quantisation adds LSB²/12), A_ii within the element
// tolerance. The sample variance of an AR(1) process has relative standard
// error sqrt(2(1+ρ²)/((1−ρ²)n)), the rms half of it.
func (t *tester) noiseExpected(n int) (want, tol float64) {
	in, tl := t.info, t.o.Tolerances
	lsb := in.ADC.LSB()
	want = math.Sqrt(in.Noise*in.Noise + lsb*lsb/12)
	rho := t.rho()
	rel := 0.5 * math.Sqrt(2*(1+rho*rho)/((1-rho*rho)*float64(n)))
	return want, want*(tl.Noise+tl.Element/2+t.o.Sigmas*rel) + lsb/2
}

// taus forces ±x₀ on every cell transients times, samples each decay for
// transientTaus and fits x_{k+1} = φ x_k + c per cell (τ̂ = −h/ln φ̂); the
// first reading after each forcing checks the forcing itself.
func (t *tester) taus(ctx context.Context) error {
	a := t.identity(-1, -1, 0)
	if err := t.prepare(ctx, a, t.biasWith(-1, 0), nil); err != nil {
		if fatal(err) {
			return err
		}
		t.failCells("tau", err)
		return nil
	}
	rows := max(4, int(math.Ceil(transientTaus*float64(t.info.Tau)/float64(t.period))))
	mid, half := (t.lo+t.hi)/2, (t.hi-t.lo)/2
	x0 := [2]float64{mid + 0.6*half, mid - 0.6*half}
	d := newDecays(t.k)
	for e := range transients {
		v := make([]float64, t.k)
		for i := range v {
			v[i] = x0[e%2]
		}
		if _, err := t.s.ForceVolts(ctx, v); err != nil {
			if fatal(err) {
				return err
			}
			t.failCells("force", err)
			return nil
		}
		data, sat, err := t.collect(ctx, rows)
		if err != nil {
			if fatal(err) {
				return err
			}
			t.failCells("tau", err)
			return nil
		}
		d.add(data, sat, e%2, rows)
		t.progress(float64(e+1) / transients)
	}
	for i := range t.k {
		t.add(t.tauRow(d, i))
	}
	for i := range t.k {
		t.add(t.forceRow(d, i, x0))
	}
	return nil
}

// failCells adds one failed row per cell for a check the board refused.
func (t *tester) failCells(name string, err error) {
	for i := range t.k {
		t.add(Check{Name: name, Component: fmt.Sprintf("cell %d", i), Measured: "board refused: " + err.Error(),
			Expected: "the board takes A = I, b = 0 and a forced state", Hint: "see the driver's error; the board could not be programmed"})
	}
}

// decays collects, per cell, the pairs (x_k, x_{k+1}) of every transient
// and the first reading after each forcing by sign.
type decays struct {
	x, y  [][]float64
	first [][2][]float64
	sat   []int
	n     int
}

func newDecays(k int) *decays {
	return &decays{x: make([][]float64, k), y: make([][]float64, k), first: make([][2][]float64, k), sat: make([]int, k)}
}

func (d *decays) add(buf []float64, sat []int, sign, rows int) {
	k := len(d.x)
	for i := range k {
		if sat != nil && sat[i] > 0 {
			d.sat[i] += sat[i]
			continue // a clipped transient would bias the fit
		}
		d.first[i][sign] = append(d.first[i][sign], buf[i])
		for r := 0; r+1 < rows; r++ {
			d.x[i] = append(d.x[i], buf[r*k+i])
			d.y[i] = append(d.y[i], buf[(r+1)*k+i])
		}
	}
	d.n += rows
}

// tauRow checks cell i's τ̂ against Info.Tau: tolerance Tau·τ plus k
// standard errors, se(τ̂) = h·se(φ̂)/(φ̂·ln²φ̂) by the delta method.
func (t *tester) tauRow(d *decays, i int) Check {
	tau := t.info.Tau.Seconds()
	c := Check{Name: "tau", Component: fmt.Sprintf("cell %d", i)}
	h := t.period.Seconds()
	phi, _, phiSE, _, _, ok := linfit.Line(d.x[i], d.y[i])
	c.Expected = fmt.Sprintf("τ %s ± %.0f %% (+ %g standard errors)", t.info.Tau, 100*t.o.Tolerances.Tau, t.o.Sigmas)
	switch {
	case d.sat[i] > 0 && len(d.x[i]) == 0:
		c.Measured = fmt.Sprintf("saturated in every transient (%d readings)", d.sat[i])
		c.Hint = fmt.Sprintf("cell %d saturates when forced to ±60 %% of the range: the ADC range (AD7606 RANGE pin) or the state DAC's output", i)
		return c
	case !ok || !(phi > 0 && phi < 1):
		c.Measured = fmt.Sprintf("no decay (φ̂ = %.3g)", phi)
		c.Hint = fmt.Sprintf("cell %d does not relax: a constant or dead ADC channel, an open feedback resistor (A_ii), or an integrator without its leak", i)
		return c
	}
	est := -h / math.Log(phi)
	se := h * phiSE / (phi * math.Log(phi) * math.Log(phi))
	tol := t.o.Tolerances.Tau*tau + t.o.Sigmas*se
	c.Pass = within(est, tau, tol)
	c.Measured = fmt.Sprintf("τ %s ± %s", time.Duration(est*1e9).Round(10*time.Nanosecond), time.Duration(se*1e9).Round(10*time.Nanosecond))
	c.Expected = fmt.Sprintf("τ %s ± %s", t.info.Tau, time.Duration(tol*1e9).Round(10*time.Nanosecond))
	if !c.Pass {
		c.Hint = fmt.Sprintf("cell %d's time constant is off: its capacitor (value, C0G/NP0 part) or the diagonal element A[%d][%d]'s rheostat (see the coupling row)", i, i, i)
	}
	return c
}

// forceRow checks that forcing cell i to x₀ took: the first reading after
// forcing must be what the decay fit predicts from x₀. Without an ADC
// filter that is c + φ̂·(x₀ − c), c = ĉ/(1 − φ̂) the fit's equilibrium;
// through a second-order anti-aliasing filter (the AD7606's) that the
// forcing left settled on x₀ it lags: c + g·(x₀ − c) with g =
// adcfilter.SettledDecay(−ln φ̂/h, ω, h) > φ̂, largest at the lowest corner
// minFilterHz. So the reading must lie between the two, widened by the
// converters' gain and offset (the state DAC's and the ADC's, scaled by
// g) and k standard errors of the mean first reading, σ·sqrt(1−φ²)/√m
// (one period of noise after an exact start; the filter only lowers it).
func (t *tester) forceRow(d *decays, i int, x0 [2]float64) Check {
	c := Check{Name: "force", Component: fmt.Sprintf("cell %d", i)}
	phi, off, _, _, _, ok := linfit.Line(d.x[i], d.y[i])
	if !ok || !(phi > 0 && phi < 1) || len(d.first[i][0]) == 0 || len(d.first[i][1]) == 0 {
		c.Measured = "no usable transient"
		c.Expected = fmt.Sprintf("first reading after forcing %s and %s", volts(x0[0]), volts(x0[1]))
		c.Hint = fmt.Sprintf("cell %d could not be forced and read back: see its tau and noise rows", i)
		return c
	}
	tl := t.o.Tolerances
	sigma, _ := t.noiseExpected(1)
	h := t.period.Seconds()
	eq := off / (1 - phi)
	g := adcfilter.SettledDecay(-math.Log(phi)/h, 2*math.Pi*minFilterHz, h)
	c.Pass = true
	var got, lo, hi [2]float64
	for s := range 2 {
		got[s], _ = linfit.MeanSD(d.first[i][s])
		lo[s], hi[s] = eq+phi*(x0[s]-eq), eq+g*(x0[s]-eq)
		if lo[s] > hi[s] {
			lo[s], hi[s] = hi[s], lo[s]
		}
		se := sigma * math.Sqrt(math.Max(0, 1-phi*phi)/float64(len(d.first[i][s])))
		tol := g*(tl.Gain*math.Abs(x0[s])+tl.Offset) + t.o.Sigmas*se
		lo[s], hi[s] = lo[s]-tol, hi[s]+tol
		c.Pass = c.Pass && got[s] >= lo[s] && got[s] <= hi[s]
	}
	c.Measured = fmt.Sprintf("%s / %s one period after forcing %s / %s", volts(got[0]), volts(got[1]), volts(x0[0]), volts(x0[1]))
	c.Expected = fmt.Sprintf("%s … %s / %s … %s (unfiltered … through a %.0f kHz ADC filter)", volts(lo[0]), volts(hi[0]), volts(lo[1]), volts(hi[1]), minFilterHz/1e3)
	if !c.Pass {
		c.Hint = fmt.Sprintf("forcing cell %d does not take: the state DAC's channel %d, its forcing switch, or the FORCE GPIO (every cell failing points at FORCE or the state DAC's chip select; every cell reading between the range and the forced voltage: an ADC filter slower than %.0f kHz)", i, i, minFilterHz/1e3)
	}
	return c
}
