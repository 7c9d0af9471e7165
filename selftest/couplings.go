package selftest

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/spukit/spukit/hal"
)

// element is what the coupling sweep measured for one element A[i][j]:
// the realised ĉ for each programmed c.
type element struct {
	i, j      int
	c, got    []float64
	tol       []float64
	measured  []string // a spoiled reading's text, per c
	component string
}

// couplings measures every element the board realises (on a symmetric
// board one per pair) at both signs of c (see the package doc).
func (t *tester) couplings(ctx context.Context) error {
	var els [][2]int
	for i := range t.k {
		for j := range t.k {
			if t.info.Topology == hal.General || j >= i {
				els = append(els, [2]int{i, j})
			}
		}
	}
	var measured []*element
	for n, e := range els {
		el, err := t.element(ctx, e[0], e[1])
		if err != nil {
			return err
		}
		t.add(t.elementRow(el))
		measured = append(measured, el)
		t.progress(float64(n+1) / float64(len(els)))
	}
	t.add(t.polarityRow(measured))
	return nil
}

// polarityRow sums up the sign switching of the off-diagonal elements
// measured at a negative c: one row for the polarity bits as a whole, so
// that a missing or stuck sign register reads as one fault, not as 56
// element faults. It fails when any element kept its sign, and is
// skipped when no element was measured at a negative c.
func (t *tester) polarityRow(els []*element) Check {
	var kept []string
	total := 0
	for _, el := range els {
		for n, c := range el.c {
			if el.i == el.j || c >= 0 || el.measured[n] != "" {
				continue
			}
			total++
			if el.got[n] > 0.5*math.Abs(c) {
				kept = append(kept, fmt.Sprintf("A[%d][%d]", el.i, el.j))
			}
		}
	}
	c := Check{Name: "polarity", Component: "sign bits", Pass: true, Skipped: true,
		Measured: "not measured: no element could be measured at a negative value", Expected: "every element switches sign"}
	if total == 0 {
		return c
	}
	c = Check{Name: "polarity", Component: "sign bits", Pass: len(kept) == 0,
		Measured: fmt.Sprintf("%d of %d elements switch sign", total-len(kept), total),
		Expected: fmt.Sprintf("%d of %d", total, total)}
	switch {
	case c.Pass:
	case len(kept) == total:
		c.Hint = "no element takes a negative sign: the polarity chain (74HC595 on ref8) is missing, unpowered, not latched (RCLK) or disabled (OE high), or a 3.3 V host drives a 5 V 74HC595 (use a 74HCT595, §1)"
	default:
		c.Hint = fmt.Sprintf("these elements keep their sign: %s — their polarity bits (a stuck register output, or a broken link in the chain from the first of them on) or their polarity switches", strings.Join(kept, ", "))
	}
	return c
}

// offDiag returns the values of c an off-diagonal element is swept over:
// ±1, within half the coupling range on each side (on a symmetric board
// ±0.5: A = I + c(E_ij + E_ji) has eigenvalues 1 ± c).
func (t *tester) offDiag() []float64 {
	m := 1.0
	if t.info.Topology != hal.General {
		m = 0.5
	}
	cs := []float64{math.Min(m, t.info.Coupling.Max/2)}
	if t.info.Coupling.Min < 0 {
		cs = append(cs, -math.Min(m, -t.info.Coupling.Min/2))
	}
	return cs
}

// element measures A[i][j] at every c. The source cell j gets the bias v,
// small enough that every node stays within 80 % of the half-range.
func (t *tester) element(ctx context.Context, i, j int) (*element, error) {
	el := &element{i: i, j: j, component: t.elementName(i, j)}
	if !t.usable[i] || !t.usable[j] {
		return el, nil
	}
	mid, half := (t.lo+t.hi)/2, (t.hi-t.lo)/2
	cs := t.offDiag()
	if i == j {
		cs = []float64{-0.5}
		if cd := math.Min(0.5, t.info.Coupling.Max-1); cd >= 0.1 {
			cs = []float64{cd, -0.5}
		}
	}
	for _, c := range cs {
		v := mid + math.Min(0.4*half, 0.8*half/math.Max(1, math.Abs(c)))
		if i == j {
			v = mid + math.Min(0.4*half, 0.8*half*(1+c))
		}
		x0 := t.biasWith(-1, 0)
		x0[j] = v
		if i == j {
			x0[i] = t.p0 + (v-t.p0)/(1+c)
		} else {
			x0[i] = t.p0 - c*(v-t.p0)
		}
		r, err := t.measure(ctx, t.identity(i, j, c), t.biasWith(j, v), x0, t.n)
		if err != nil {
			return nil, err
		}
		got, tol, bad := t.realised(r, i, j, c, v)
		el.c, el.got, el.tol, el.measured = append(el.c, c), append(el.got, got), append(el.tol, tol), append(el.measured, bad)
	}
	return el, nil
}

// realised returns the element ĉ that reading r shows and its tolerance.
// Off the diagonal ĉ = −(x_i − x_i⁰)/x_j with x_i⁰ the noise record's
// mean: the ratio of two ADC channels, so within two channels' gain budget
// (each holds the element's and the converters' errors), half a coupling
// step, the source's offset over its level, and k standard errors of the
// ratio, se·sqrt(1 + c²)/|x_j|. On the diagonal the element is 1 + ĉ =
// g_i·(v − p0)/(x_i − x_i⁰) (the loopback gain g_i carries the converters'
// gains, which cancel), within half a step and k standard errors of the
// ratio's two parts.
func (t *tester) realised(r *reading, i, j int, c, v float64) (got, tol float64, bad string) {
	if bad = spoiled(r, i); bad == "" {
		bad = spoiled(r, j)
	}
	if bad != "" {
		return 0, 0, bad
	}
	tl, k := t.o.Tolerances, t.o.Sigmas
	se := math.Max(t.se(i, t.n), t.se(j, t.n))
	dxi := r.mean[i] - t.base.mean[i]
	if i != j {
		xj := r.mean[j]
		got = -dxi / xj
		tol = math.Abs(c)*(2*tl.Gain+tl.Offset/math.Abs(xj)) + t.info.CouplingStep/2 + k*se*math.Sqrt(1+c*c)/math.Abs(xj)
		return got, tol, ""
	}
	a := t.gain[i] * (v - t.p0) / dxi
	rel := math.Hypot(se/math.Abs(dxi), t.gainSE[i]/math.Abs(t.gain[i]))
	return a - 1, (1+c)*k*rel + t.info.CouplingStep/2, ""
}

// elementRow turns an element's measurements into a row.
func (t *tester) elementRow(el *element) Check {
	c := Check{Name: "coupling", Component: el.component}
	if len(el.c) == 0 {
		c.Pass, c.Skipped = true, true
		c.Measured = fmt.Sprintf("not measured: the loopback of channel %d or %d failed", el.i, el.j)
		c.Expected = "usable loopbacks of both cells"
		return c
	}
	var got, want []string
	c.Pass = true
	for n, cv := range el.c {
		want = append(want, fmt.Sprintf("%+.3f ± %.3f", t.nominal(el, cv), el.tol[n]))
		if el.measured[n] != "" {
			got = append(got, el.measured[n])
			c.Pass = false
			continue
		}
		got = append(got, fmt.Sprintf("%+.3f", t.nominal(el, el.got[n])))
		c.Pass = c.Pass && within(el.got[n], cv, el.tol[n])
	}
	c.Measured, c.Expected = strings.Join(got, " / "), strings.Join(want, " / ")
	if !c.Pass {
		c.Hint = t.elementHint(el)
	}
	return c
}

// nominal is the element's value for a sweep value c: c off the
// diagonal, 1 + c on it.
func (t *tester) nominal(el *element, c float64) float64 {
	if el.i == el.j {
		return 1 + c
	}
	return c
}

// elementHint names the likely cause from the pattern of ĉ over the
// signs of c.
func (t *tester) elementHint(el *element) string {
	name := fmt.Sprintf("A[%d][%d]", el.i, el.j)
	dead, flipped := true, false
	for n, c := range el.c {
		if el.measured[n] != "" {
			return fmt.Sprintf("a node saturated or the board refused while %s was programmed: see the driver's error and the loopback rows", name)
		}
		if math.Abs(el.got[n]) > 0.2*math.Abs(c) {
			dead = false
		}
		if c < 0 && el.got[n] > 0.5*math.Abs(c) {
			flipped = true
		}
	}
	switch {
	case dead:
		return fmt.Sprintf("%s does not respond: its rheostat ignores writes (write-protected, or its frame lost: check the chain's SDO→SDI link to it and the chain length) or the coupling amplifier's path is open", name)
	case flipped:
		return fmt.Sprintf("%s keeps one sign: its polarity bit does not switch — check the 74HC595 chain (SER, SRCLK, RCLK, OE low; a 74HCT595 or 3.3 V supply on a 3.3 V host) and the polarity switch", name)
	}
	return fmt.Sprintf("%s realises a wrong value: a corrupted rheostat frame (the chain clocked too fast for its pull-ups: lower coupling.chain_hz) or the element's gain resistor", name)
}

// elementName names A[i][j], with the driver's name for its part when a
// diagnostic's component tags the element (driver/spi: "AD5293 #5
// (A[0][5]) on /dev/spidev1.0" gives "A[0][5] (AD5293 #5)").
func (t *tester) elementName(i, j int) string {
	name := fmt.Sprintf("A[%d][%d]", i, j)
	for _, d := range t.diags {
		if k := strings.Index(d.Component, "("+name+")"); k >= 0 {
			if part := strings.TrimSpace(d.Component[:k]); part != "" {
				return name + " (" + part + ")"
			}
			return name
		}
	}
	return name
}
