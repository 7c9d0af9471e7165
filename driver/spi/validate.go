package spi

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/hal"
)

// problems collects what is wrong with a wiring, one message per bad
// field, in the order of the fields.
type problems []string

func (p *problems) bad(f string, args ...any) { *p = append(*p, fmt.Sprintf(f, args...)) }

func (p *problems) positive(field string, v float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		p.bad("%s = %g, want a finite value > 0", field, v)
	}
}

func (p *problems) nonNegative(field string, v float64) {
	if !(v >= 0) || math.IsInf(v, 0) {
		p.bad("%s = %g, want a finite value ≥ 0", field, v)
	}
}

// channels checks one channel per cell, distinct, below n.
func (p *problems) channels(field string, ch []int, k, n int) {
	if len(ch) != k {
		p.bad("%s has %d entries, want one per cell (%d)", field, len(ch), k)
		return
	}
	seen := map[int]bool{}
	for i, c := range ch {
		if c < 0 || c >= n || seen[c] {
			p.bad("%s[%d] = %d, want a distinct channel 0..%d", field, i, c, n-1)
		}
		seen[c] = true
	}
}

// maxCells is the most cells the wiring's converters serve, one channel
// of the bias DAC, of the state DAC and of the ADC each, from their rows
// of the wiring table, and who says so for a message ("one AD5676 and one
// AD7606 serve"). An unknown chip counts as its table's widest (its own
// message says it is unknown).
func (w Wiring) maxCells() (n int, who string) {
	var names []string
	add := func(chip string, channels int) {
		if n == 0 || channels < n {
			n = channels
		}
		if name := "one " + strings.ToUpper(chip); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	add(converter(dacChips, w.Bias.Chip, dacChannels))
	add(converter(dacChips, w.State.Chip, dacChannels))
	add(converter(adcChips, w.ADC.Chip, adcChannels))
	if len(names) > 1 {
		return n, strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " serve"
	}
	return n, strings.Join(names, "") + " serves"
}

func dacChannels(r dacChip) int { return r.channels }
func adcChannels(r adcChip) int { return r.channels }

// converter returns chip and its channels from its row of table; for a
// chip the table does not hold, the row with the most channels (the most
// any chip of the role could serve; ties to the first name).
func converter[R any](table map[string]R, chip string, channels func(R) int) (string, int) {
	if r, ok := table[chip]; ok {
		return chip, channels(r)
	}
	best, n := "", 0
	for name, r := range table {
		if c := channels(r); c > n || c == n && name < best {
			best, n = name, c
		}
	}
	return best, n
}

// Validate checks the wiring and names every bad field with what it
// should be. Each chip's own rules come from its row of the wiring table.
func (w Wiring) Validate() error {
	var p problems
	if n, who := w.maxCells(); w.Cells < 1 || w.Cells > n {
		p.bad("cells = %d, want 1..%d (%s at most %d cells)", w.Cells, n, who, n)
	}
	p.positive("tau_s", w.TauS)
	p.nonNegative("noise_v", w.NoiseV)
	if !(w.SPIHz >= 1e3 && w.SPIHz <= 50e6) {
		p.bad("spi_hz = %g, want 1e3..50e6", w.SPIHz)
	}
	k := max(w.Cells, 0)
	w.Bias.check(&p, "bias", k)
	w.State.check(&p, "state", k)
	if w.State.ForcePin == "" {
		p.bad("state.force_pin is empty")
	}
	p.positive("state.force_s", w.State.ForceS)
	w.Coupling.check(&p, k)
	if _, ok := polarityChips[w.Polarity.Chip]; !ok {
		p.bad("polarity.chip = %q, want %s", w.Polarity.Chip, chipNames(polarityChips))
	}
	if w.Polarity.Port == "" {
		p.bad("polarity.port is empty")
	}
	w.ADC.check(&p, k)
	w.checkShared(&p)
	if len(p) > 0 {
		return fmt.Errorf("wiring: %s: %w", strings.Join(p, "; "), hal.ErrInvalid)
	}
	return nil
}

func (d DACWiring) check(p *problems, field string, k int) {
	_, n := converter(dacChips, d.Chip, dacChannels)
	if _, ok := dacChips[d.Chip]; !ok {
		p.bad("%s.chip = %q, want %s", field, d.Chip, chipNames(dacChips))
	}
	if d.Port == "" {
		p.bad("%s.port is empty", field)
	}
	p.channels(field+".channels", d.Channels, k, n)
	if !(d.MinV < d.MaxV) || math.IsInf(d.MinV, 0) || math.IsInf(d.MaxV, 0) {
		p.bad("%s range [%g, %g] V, want finite min_v < max_v", field, d.MinV, d.MaxV)
	}
	p.nonNegative(field+".settle_s", d.SettleS)
	if d.Reference != "" && d.Reference != ReferenceInternal && d.Reference != ReferenceExternal {
		p.bad("%s.reference = %q, want %q, %q or none (as the chip powered up)", field, d.Reference, ReferenceInternal, ReferenceExternal)
	}
}

func (c CouplingWiring) check(p *problems, k int) {
	if cc, ok := couplingChips[c.Chip]; ok {
		cc.check(c, p.bad)
	} else {
		p.bad("coupling.chip = %q, want %s", c.Chip, chipNames(couplingChips))
	}
	if c.Port == "" {
		p.bad("coupling.port is empty")
	}
	if !(c.Max >= 1) || math.IsInf(c.Max, 0) {
		p.bad("coupling.max = %g, want a finite value ≥ 1 (the identity must be programmable)", c.Max)
	}
	p.nonNegative("coupling.settle_s", c.SettleS)
	c.checkChainHz(p)
	want := k * k
	if c.Symmetric {
		want = k * (k + 1) / 2
	}
	if len(c.Elements) != want {
		p.bad("coupling.elements has %d entries, want %d (every entry of A%s exactly once)", len(c.Elements), want,
			map[bool]string{true: " with i ≤ j", false: ""}[c.Symmetric])
		return
	}
	seen := map[[2]int]int{}
	for e, rc := range c.Elements {
		i, j := rc[0], rc[1]
		if i < 0 || j < 0 || i >= k || j >= k || (c.Symmetric && i > j) {
			p.bad("coupling.elements[%d] = [%d, %d], want 0 ≤ row, col < %d%s", e, i, j, k,
				map[bool]string{true: " and row ≤ col", false: ""}[c.Symmetric])
			continue
		}
		if prev, dup := seen[rc]; dup {
			p.bad("coupling.elements[%d] = [%d, %d] repeats elements[%d]", e, i, j, prev)
		}
		seen[rc] = e
	}
}

func (a ADCWiring) check(p *problems, k int) {
	ac, ok := adcChips[a.Chip]
	_, n := converter(adcChips, a.Chip, adcChannels)
	if !ok {
		p.bad("adc.chip = %q, want %s", a.Chip, chipNames(adcChips))
	}
	if a.Port == "" {
		p.bad("adc.port is empty")
	}
	p.channels("adc.channels", a.Channels, k, n)
	if ok {
		ac.check(a, p.bad)
	}
	if a.ConvstPin == "" || a.BusyPin == "" {
		p.bad("adc.convst_pin and adc.busy_pin are required")
	}
	p.positive("adc.conversion_s", a.ConversionS)
	p.nonNegative("adc.min_period_s", a.MinPeriodS)
	if len(a.OSPins) != 0 && len(a.OSPins) != 3 {
		p.bad("adc.os_pins has %d entries, want none (strapped) or 3 (OS0, OS1, OS2)", len(a.OSPins))
	}
	for i, name := range a.OSPins {
		if name == "" {
			p.bad("adc.os_pins[%d] is empty, want a GPIO name", i)
		}
	}
	if m := a.SPIMode; m != nil && ok && (*m < 0 || *m > 3 || !ac.bus.Accepts(pspi.Mode(*m))) {
		p.bad("adc.spi_mode = %d, want one of %s's modes %v", *m, a.Chip, ac.bus.Modes)
	}
}

// checkChainHz checks coupling.chain_hz: unset (0), or a finite clock
// > 0 up to the chip's write limit, on a chip that forms a chain.
func (c CouplingWiring) checkChainHz(p *problems) {
	cc, ok := couplingChips[c.Chip]
	if c.ChainHz == 0 || !ok {
		return
	}
	if cc.noCS {
		p.bad("coupling.chain_hz given for %s, whose elements are not daisy-chained (spi_hz sets its clock)", c.Chip)
		return
	}
	if limit := float64(cc.bus.WriteHz) / float64(physic.Hertz); !(c.ChainHz > 0) || c.ChainHz > limit {
		p.bad("coupling.chain_hz = %g, want a clock > 0 up to %s's write limit %g Hz", c.ChainHz, c.Chip, limit)
	}
}

// checkShared refuses a GPIO that drives two signals and a chip select
// that serves two chips (or chains).
func (w Wiring) checkShared(p *problems) {
	pins := map[string]string{}
	pin := func(what, name string) {
		if name == "" {
			return
		}
		if other, dup := pins[name]; dup {
			p.bad("%s %q is also %s: each signal needs its own GPIO", what, name, other)
		}
		pins[name] = what
	}
	pin("state.force_pin", w.State.ForcePin)
	pin("adc.convst_pin", w.ADC.ConvstPin)
	pin("adc.busy_pin", w.ADC.BusyPin)
	pin("adc.range_pin", w.ADC.RangePin)
	pin("adc.reset_pin", w.ADC.ResetPin)
	pin("adc.stby_pin", w.ADC.StbyPin)
	for i, name := range w.ADC.OSPins {
		pin(fmt.Sprintf("adc.os_pins[%d]", i), name)
	}
	for e, name := range w.Coupling.SyncPins {
		pin(fmt.Sprintf("coupling.sync_pins[%d]", e), name)
	}
	ports := map[string]string{}
	for _, pp := range []struct{ name, port string }{
		{"bias", w.Bias.Port}, {"state", w.State.Port}, {"coupling", w.Coupling.Port},
		{"polarity", w.Polarity.Port}, {"adc", w.ADC.Port},
	} {
		if pp.port == "" {
			continue
		}
		if other, dup := ports[pp.port]; dup {
			p.bad("%s.port %q is also %s.port: each chip (or chain) needs its own chip select", pp.name, pp.port, other)
		}
		ports[pp.port] = pp.name
	}
}
