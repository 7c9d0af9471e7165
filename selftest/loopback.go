package selftest

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/spukit/spukit/internal/linfit"
)

// loopLevels are the bias levels of the loopback, as fractions of the
// half-range both the bias DAC and the ADC reach; the noise record at p0
// is the fit's fifth point.
var loopLevels = []float64{-0.6, -0.3, 0.3, 0.6}

// line is a straight-line fit of one cell's mean against one bias
// channel's level, with standard errors from the measurement plan.
type line struct {
	g, o, gse, ose, nonlin float64
	ok                     bool
	// inner is the slope over the levels within ±35 % of mid-range: an
	// ADC whose codes wrap at half its range (codes shifted by one bit)
	// still shows its ×2 there.
	inner   float64
	dropped []string // levels left out (saturated)
}

// loopback sets one bias channel at a time to every level, with the
// couplings the identity, and fits every cell's mean against the level:
// the channel's own cell gives gain, offset and linearity, the others the
// crosstalk.
func (t *tester) loopback(ctx context.Context) error {
	mid, half := (t.lo+t.hi)/2, (t.hi-t.lo)/2
	levels := make([]float64, len(loopLevels))
	for l, f := range loopLevels {
		levels[l] = mid + f*half
	}
	t.gain, t.gainSE, t.usable = make([]float64, t.k), make([]float64, t.k), make([]bool, t.k)
	a := t.identity(-1, -1, 0)
	var cross []Check // after the loopback rows, so that each check's rows stay together
	for ch := range t.k {
		rs := make([]*reading, len(levels))
		for l, v := range levels {
			x0 := t.biasWith(-1, 0)
			x0[ch] = v
			r, err := t.measure(ctx, a, t.biasWith(ch, v), x0, t.nLoop)
			if err != nil {
				return err
			}
			rs[l] = r
			t.progress(float64(ch*len(levels)+l+1) / float64(t.k*len(levels)))
		}
		fits := make([]line, t.k)
		for c := range t.k {
			fits[c] = t.fitLine(levels, rs, c)
		}
		t.add(t.loopRow(ch, fits[ch], rs))
		cross = append(cross, t.crosstalkRow(ch, fits))
	}
	t.rows = append(t.rows, cross...)
	return nil
}

// fitLine fits cell c's mean against the levels (plus the noise record at
// p0), leaving out saturated or refused levels. Every mean of n samples
// has standard error se(n) (the noise record's is smaller; se(t.nLoop)
// bounds both), so g and o have the textbook errors se/√Sxx and
// se·sqrt(1/N + x̄²/Sxx).
func (t *tester) fitLine(levels []float64, rs []*reading, c int) line {
	xs, ys := []float64{t.p0}, []float64{t.base.mean[c]}
	var f line
	for l, r := range rs {
		if spoiled(r, c) != "" {
			f.dropped = append(f.dropped, volts(levels[l]))
			continue
		}
		xs, ys = append(xs, levels[l]), append(ys, r.mean[c])
	}
	if spoiled(t.base, c) != "" {
		xs, ys = xs[1:], ys[1:]
	}
	f.g, f.o, _, _, _, f.ok = linfit.Line(xs, ys)
	if !f.ok {
		return f
	}
	mid, half := (t.lo+t.hi)/2, (t.hi-t.lo)/2
	var ix, iy []float64
	for i, x := range xs {
		if math.Abs(x-mid) <= 0.35*half {
			ix, iy = append(ix, x), append(iy, ys[i])
		}
	}
	f.inner, _, _, _, _, _ = linfit.Line(ix, iy)
	for i, x := range xs {
		f.nonlin = math.Max(f.nonlin, math.Abs(ys[i]-f.g*x-f.o))
	}
	f.gse, f.ose = linfit.LineSE(xs, t.se(c, t.nLoop))
	return f
}

// loopRow checks channel ch's own cell: gain 1 within the gain budget
// (and half a coupling step: A_ii = 1 is programmed to the nearest step),
// offset 0 within the offset budget, residuals within the INL budget, each
// plus k standard errors.
func (t *tester) loopRow(ch int, f line, rs []*reading) Check {
	tl, k := t.o.Tolerances, t.o.Sigmas
	c := Check{Name: "loopback", Component: fmt.Sprintf("bias channel %d → cell %d", ch, ch)}
	gtol := tl.Gain + t.info.CouplingStep/2 + k*f.gse
	otol := tl.Offset + k*f.ose
	ntol := tl.INL + k*t.se(ch, t.nLoop)
	c.Expected = fmt.Sprintf("gain 1 ± %.4f, offset 0 ± %s, non-linearity ≤ %s", gtol, volts(otol), volts(ntol))
	for _, r := range rs {
		if r.err != nil {
			c.Measured = spoiled(r, ch)
			c.Hint = "the board refused a bias or state within its ranges: see the driver's error"
			return c
		}
	}
	if !f.ok {
		c.Measured = fmt.Sprintf("no fit (levels saturated: %s)", strings.Join(f.dropped, ", "))
		c.Hint = fmt.Sprintf("cell %d saturates at every level: the ADC range (AD7606 RANGE pin), a node stuck at a rail, or ADC codes shifted (adc.spi_mode)", ch)
		return c
	}
	t.gain[ch], t.gainSE[ch] = f.g, f.gse
	t.usable[ch] = len(f.dropped) == 0 && math.Abs(f.g-1) < 0.2
	gOK, oOK, nOK := within(f.g, 1, gtol), within(f.o, 0, otol), f.nonlin <= ntol
	c.Pass = gOK && oOK && nOK && len(f.dropped) == 0
	c.Measured = fmt.Sprintf("gain %.4f, offset %s, non-linearity %s", f.g, volts(f.o), volts(f.nonlin))
	if len(f.dropped) > 0 {
		c.Measured += ", saturated at " + strings.Join(f.dropped, ", ")
	}
	if !c.Pass {
		c.Hint = loopHint(ch, f, gOK, nOK)
	}
	return c
}

// loopHint names the most likely cause of a loopback failure from the
// shape of the fit.
func loopHint(ch int, f line, gOK, nOK bool) string {
	switch {
	case math.Abs(f.g) < 0.1:
		return fmt.Sprintf("cell %d does not follow bias channel %d: if its crosstalk row names another cell, the two channels are wired crosswise; else check the bias DAC's output %d and its level shifter, and that ADC channel %d is not dead (noise row)", ch, ch, ch, ch)
	case shifted(f.g) || shifted(f.inner):
		return "gain ×2 or ×½: the ADC's codes are shifted by one bit — host and ADC disagree on the SPI clock edge (wiring adc.spi_mode; docs/boards.md: read a known DC level in both modes) — or the AD7606 RANGE pin selects the other range"
	case f.g < 0:
		return "inverted: the level shifter's polarity, or the ADC's codes read as offset binary instead of two's complement"
	case len(f.dropped) > 0:
		return fmt.Sprintf("cell %d saturates inside the range: a node clipping at its op-amp's rail, or the ADC range", ch)
	case !nOK:
		return "non-linear: a stuck or swapped data bit of the bias DAC or the ADC (check the SPI frames), or clipping near a rail"
	case !gOK:
		return fmt.Sprintf("gain off: the bias DAC's reference or level-shifter resistors (channel %d), the ADC's reference, or A[%d][%d]'s rheostat (see its coupling row); a few %% can be calibrated out", ch, ch, ch)
	}
	return fmt.Sprintf("offset: the level shifter's reference or the bias DAC's channel %d offset, or the ADC channel's offset; calibration corrects small offsets", ch)
}

// shifted reports whether gain g is ×2 or ×½ give or take a quarter:
// what an ADC read one bit off gives.
func shifted(g float64) bool {
	g = math.Abs(g)
	return g > 1.5 && g < 2.5 || g > 0.35 && g < 0.65
}

// crosstalkRow checks that bias channel ch moves no other cell: every
// other cell's slope against the level is 0 within k standard errors and
// the ADC's LSB over the level span (AD7606 channel isolation −95 dB,
// AD5676 DC crosstalk µV: both far below).
func (t *tester) crosstalkRow(ch int, fits []line) Check {
	c := Check{Name: "crosstalk", Component: fmt.Sprintf("bias channel %d", ch), Pass: true}
	worst, wc := 0.0, -1
	for cell, f := range fits {
		if cell == ch || !f.ok {
			continue
		}
		tol := t.o.Sigmas*f.gse + t.info.ADC.LSB()/(t.hi-t.lo)
		if math.Abs(f.g) > tol && (wc < 0 || math.Abs(f.g) > math.Abs(worst)) {
			worst, wc = f.g, cell
		}
	}
	c.Expected = "other cells move < 5 standard errors (≈ 0 V/V)"
	if wc < 0 {
		c.Measured = "no other cell moves"
		return c
	}
	c.Pass = false
	c.Component = fmt.Sprintf("bias channel %d → cell %d", ch, wc)
	c.Measured = fmt.Sprintf("cell %d moves %.4f V/V", wc, worst)
	if math.Abs(worst-1) < 0.2 && math.Abs(fits[ch].g) < 0.1 {
		c.Hint = fmt.Sprintf("bias channel %d drives cell %d instead of cell %d: channels %d and %d are wired crosswise — check the bias DAC outputs' routing to the cells (and the wiring file's bias channel list)", ch, wc, ch, ch, wc)
	} else {
		c.Hint = fmt.Sprintf("cell %d follows bias channel %d: a coupling element A[%d][%d] that does not open (a rheostat ignoring writes: see the coupling rows), or a short between the two nets", wc, ch, wc, ch)
	}
	return c
}
