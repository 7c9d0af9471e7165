package spi

import (
	"context"
	"fmt"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/hal"
)

var _ hal.Diagnoser = (*Board)(nil)

// Diagnose implements hal.Diagnoser: every check the driver can make of
// its chips through what they read back, one hal.Diagnostic each —
//
//   - per AD5293 in the chain: the echo of a tagged NOP and the control
//     register (write-enable bit set), then, one chip at a time, an RDAC
//     write and read-back of the bitwise complement of its code (every
//     data bit toggles);
//   - per bias and state DAC channel in use: its register read back, then
//     the complement of its code written and read back;
//   - the ADC: one conversion's BUSY handshake, timed, and the level of
//     every control GPIO the wiring gives it;
//   - the polarity registers and write-only coupling elements: one row
//     each saying they are not read back (spu selftest's polarity and
//     coupling sweeps check them through the node voltages).
//
// Every code written is restored before Diagnose returns, the couplings'
// settling and the state's FORCE pulse are repeated, so the board is left
// programmed as before. While a test pattern is in (one element or DAC
// channel at a time, tens of µs each) the network runs on it, and the
// re-forced state puts the cells back.
func (b *Board) Diagnose(ctx context.Context) ([]hal.Diagnostic, error) {
	if err := b.check(ctx, "diagnose"); err != nil {
		return nil, err
	}
	var ds []hal.Diagnostic
	for _, f := range []func(context.Context) ([]hal.Diagnostic, error){
		b.diagnoseCouplings, b.diagnoseDACs, b.diagnoseADC,
	} {
		d, err := f(ctx)
		ds = append(ds, d...)
		if err != nil {
			return ds, fmt.Errorf("diagnose: %w", err)
		}
	}
	prow := polarityChips[b.w.Polarity.Chip]
	regs := (len(b.w.Coupling.Elements) + prow.outputs - 1) / prow.outputs
	ds = append(ds, hal.Diagnostic{
		Component: fmt.Sprintf("%s ×%d on %s", prow.part, regs, b.w.Polarity.Port), Check: "read-back", Pass: true,
		Measured: "not read back (the serial output is not wired to the host) — checked by selftest's polarity sweep",
		Expected: "—"})
	if err := b.forceState(ctx); err != nil {
		return ds, fmt.Errorf("diagnose: restore the state: %w", err)
	}
	return ds, nil
}

// diagnoseCouplings checks each rheostat of a chain; elements that read
// nothing back get one row.
func (b *Board) diagnoseCouplings(ctx context.Context) ([]hal.Diagnostic, error) {
	cw := b.w.Coupling
	part := couplingChips[cw.Chip].part
	rc, ok := b.couplings.(*rheostatChain)
	if !ok {
		return []hal.Diagnostic{{Component: fmt.Sprintf("%s ×%d on %s", part, len(cw.Elements), cw.Port),
			Check: "read-back", Pass: true, Expected: "—",
			Measured: "not read back (write-only) — checked by selftest's coupling sweep"}}, nil
	}
	name := func(k int) string {
		e := cw.Elements[k]
		return fmt.Sprintf("%s #%d (A[%d][%d]) on %s", part, k, e[0], e[1], cw.Port)
	}
	ds := rheostatControl(rc, name)
	rd, err := b.rheostatPattern(ctx, rc, name)
	return append(ds, rd...), err
}

// rheostatControl is the echo and control read-back row of every chip.
func rheostatControl(rc *rheostatChain, name func(int) string) []hal.Diagnostic {
	n := rc.ch.Len()
	echo, ctl := make([]uint16, n), make([]int, n)
	err := rc.ch.Echo(echo)
	if err == nil {
		err = rc.ch.ReadControl(ctl)
	}
	ds := make([]hal.Diagnostic, n)
	for k := range ds {
		want := ad5293.EchoFrame(k)
		d := hal.Diagnostic{Component: name(k), Check: "echo and control read-back",
			Expected: fmt.Sprintf("echo %#04x, control bit %#03x set", want, ad5293.ControlWriteEnable)}
		switch {
		case err != nil:
			d.Measured = "bus error: " + err.Error()
			d.Hint = "the transaction failed: check that the chain's SPI port is enabled and not shared"
		default:
			d.Measured = fmt.Sprintf("echo %#04x, control %#03x", echo[k], ctl[k])
			d.Pass = echo[k] == want && ctl[k]&ad5293.ControlWriteEnable != 0
		}
		if !d.Pass && err == nil {
			d.Hint = rheostatHint(echo, ctl, k)
		}
		ds[k] = d
	}
	return ds
}

// rheostatHint is the likely cause of chip k's failed echo or control.
func rheostatHint(echo []uint16, ctl []int, k int) string {
	if echo[k] != ad5293.EchoFrame(k) {
		return "the chain does not pass this chip's frame back: " + echoCause(echo, k) +
			"; a bad link shows from the first chip after it on"
	}
	return "write-enable bit clear after the unlock at open: the chip was reset since (a glitch on its RESET pin: " +
		"check the pull-up) or it lost power (check VDD/VSS, VLOGIC and the 1 µF EXT_CAP)"
}

// rheostatPattern reads every wiper back, then chip by chip writes the
// bitwise complement of its code (every data bit toggles, so a stuck wiper
// or data bit shows) with the other chips at their codes, reads the chain
// back and keeps that chip's value; then it restores the codes: one row
// per chip. One chip at a time keeps the programmed matrix close to the
// board's: from A = I one changed element leaves A triangular with unit
// diagonal (eigenvalues all 1, stable) or changes one diagonal entry,
// where the complement of every code at once would put every off-diagonal
// element at full scale, an unstable matrix.
func (b *Board) rheostatPattern(ctx context.Context, rc *rheostatChain, name func(int) string) ([]hal.Diagnostic, error) {
	orig := slices.Clone(b.codes)
	n := len(orig)
	work, pattern := make([]int, n), make([]int, n)
	for e, c := range orig {
		work[e] = max(c, 0)
		pattern[e] = work[e] ^ ad5293.Max
	}
	before, got, read := make([]int, n), make([]int, n), make([]int, n)
	err := b.program(func() error { return rc.ch.Read(before) })
	for k := 0; k < n && err == nil; k++ {
		err = b.program(func() error {
			if k > 0 {
				work[k-1] = max(orig[k-1], 0)
			}
			work[k] = pattern[k]
			if err := b.writeMagnitudes(work); err != nil {
				return err
			}
			if err := rc.ch.Read(read); err != nil {
				return err
			}
			got[k] = read[k]
			return nil
		})
	}
	// Restore whatever happened: the codes the board had programmed (an
	// unknown one open rather than at the pattern).
	restore := slices.Clone(orig)
	for e, c := range restore {
		restore[e] = max(c, 0)
	}
	if rerr := b.program(func() error { return b.writeMagnitudes(restore) }); rerr != nil {
		return nil, fmt.Errorf("restore the couplings: %w", rerr)
	}
	if werr := b.wait(ctx, seconds(b.w.Coupling.SettleS)); werr != nil {
		return nil, werr
	}
	ds := make([]hal.Diagnostic, len(orig))
	for k := range ds {
		ds[k] = rheostatRow(name(k), orig[k], before[k], pattern[k], got[k], err)
	}
	return ds, nil
}

// rheostatRow judges one chip's RDAC read-backs: before the pattern (want
// the programmed code, when known) and after it (want the pattern).
func rheostatRow(name string, programmed, before, pattern, got int, err error) hal.Diagnostic {
	d := hal.Diagnostic{Component: name, Check: "RDAC write/read-back",
		Expected: fmt.Sprintf("read %#03x, wrote %#03x, read %#03x", max(programmed, 0), pattern, pattern)}
	if err != nil {
		d.Measured, d.Hint = "bus error: "+err.Error(), "the write or read-back transaction failed"
		return d
	}
	d.Measured = fmt.Sprintf("read %#03x, wrote %#03x, read %#03x", before, pattern, got)
	d.Pass = got == pattern && (programmed < 0 || before == programmed)
	switch {
	case d.Pass:
	case got == before:
		d.Hint = "the wiper ignores writes (it kept its code): write-protected after a RESET glitch, " +
			"or the chip is dead — check its RESET pull-up, supplies and EXT_CAP; replace it if they are right"
	case got != pattern:
		d.Hint = "the wiper does not hold the code written: frames corrupted on the way (chain clock vs the SDO " +
			"pull-ups: coupling.chain_hz) or a stuck data bit"
	default:
		d.Hint = "the wiper had lost the programmed code: the chip was reset since (RESET pin or supply glitch)"
	}
	return d
}

// readbackDAC is a DAC whose registers read back (the AD5676).
type readbackDAC interface {
	dac
	Readback(ch int) (uint16, error)
}

// diagnoseDACs checks every channel in use of the bias and state DACs.
func (b *Board) diagnoseDACs(ctx context.Context) ([]hal.Diagnostic, error) {
	var ds []hal.Diagnostic
	for _, r := range []struct {
		role string
		d    dac
		w    DACWiring
		have []int
	}{{"bias", b.bias, b.w.Bias, b.biasCode}, {"state", b.state, b.w.State.DACWiring, b.stCode}} {
		part := dacChips[r.w.Chip].part
		rd, ok := r.d.(readbackDAC)
		if !ok {
			ds = append(ds, hal.Diagnostic{Component: fmt.Sprintf("%s %s on %s", part, r.role, r.w.Port),
				Check: "read-back", Pass: true, Expected: "—",
				Measured: "not read back (write-only) — checked by selftest's DAC→ADC loopback"})
			continue
		}
		for i, ch := range r.w.Channels {
			name := fmt.Sprintf("%s %s ch %d (cell %d) on %s", part, r.role, ch, i, r.w.Port)
			d, err := b.dacChannel(rd, ch, r.have[i], name)
			ds = append(ds, d)
			if err != nil {
				return ds, err
			}
		}
		if err := b.wait(ctx, seconds(r.w.SettleS)); err != nil {
			return ds, err
		}
	}
	return ds, nil
}

// dacChannel reads channel ch back (want: have, when known), writes the
// complement of its code, reads that back and restores the code. The
// error is only a failed restore.
func (b *Board) dacChannel(d readbackDAC, ch, have int, name string) (hal.Diagnostic, error) {
	diag := hal.Diagnostic{Component: name, Check: "register write/read-back"}
	var cur, pat, got uint16
	err := b.program(func() error {
		var err error
		if cur, err = d.Readback(ch); err != nil {
			return err
		}
		pat = cur ^ 0xffff
		if err = d.Write(ch, pat); err != nil {
			return err
		}
		got, err = d.Readback(ch)
		return err
	})
	restore := uint16(max(have, 0))
	if have < 0 {
		restore = cur
	}
	if rerr := b.program(func() error { return d.Write(ch, restore) }); rerr != nil {
		return diag, fmt.Errorf("%s: restore code %#04x: %w", name, restore, rerr)
	}
	if err != nil {
		diag.Measured, diag.Expected = "bus error: "+err.Error(), "read-back"
		diag.Hint = "the DAC transaction failed: check that its SPI port is enabled"
		return diag, nil
	}
	diag.Measured = fmt.Sprintf("read %#04x, wrote %#04x, read %#04x", cur, pat, got)
	diag.Expected = fmt.Sprintf("read %#04x, wrote %#04x, read %#04x", restore, pat, pat)
	diag.Pass = got == pat && (have < 0 || int(cur) == have)
	switch {
	case diag.Pass:
	case cur == got && (cur == 0 || cur == 0xffff):
		diag.Hint = "the read-back is a constant: SDO does not reach MISO (wiring, VLOGIC) or the chip does not answer (SYNC/chip select, supply)"
	case got != pat:
		diag.Hint = "the register does not hold the code written: check SYNC (chip select), the SPI mode and clock, and the RESET pin"
	default:
		diag.Hint = "the register had lost the programmed code: the chip was reset since (RESET pin or supply glitch)"
	}
	return diag, nil
}

// diagnoseADC times one conversion's BUSY handshake and reads the level of
// every control GPIO the wiring gives the ADC.
func (b *Board) diagnoseADC(context.Context) ([]hal.Diagnostic, error) {
	aw := b.w.ADC
	part := adcChips[aw.Chip].part
	t0 := b.host.Now()
	err := b.adc.Convert()
	took := b.host.Now() - t0
	nominal := seconds(aw.ConversionS)
	d := hal.Diagnostic{Component: fmt.Sprintf("%s BUSY (%s)", part, aw.BusyPin), Check: "conversion handshake",
		Expected: fmt.Sprintf("BUSY falls within %v (conversion %v + read-out %v nominal)",
			busyTimeout(aw), nominal, b.w.readout())}
	if err != nil {
		d.Measured = err.Error()
		d.Hint = fmt.Sprintf("no conversion finished: check that CONVST (%s) reaches CONVST A and B, that BUSY reaches %s, "+
			"STBY high and RESET low (straps or wired pins), AVCC and VDRIVE", aw.ConvstPin, aw.BusyPin)
	} else {
		d.Pass = true
		d.Measured = fmt.Sprintf("BUSY fell; conversion and read-out took %v", took)
	}
	ds := []hal.Diagnostic{d}
	type pinWant struct {
		what, name string
		want       gpio.Level
	}
	levels := []pinWant{{"CONVST", aw.ConvstPin, gpio.Low}, {"RANGE", aw.RangePin, gpio.Level(aw.RangeV == 10)},
		{"RESET", aw.ResetPin, gpio.Low}, {"STBY", aw.StbyPin, gpio.High}}
	os, _ := ad7606.OSCode(max(aw.Oversampling, 1))
	for i, name := range aw.OSPins {
		levels = append(levels, pinWant{fmt.Sprintf("OS%d", i), name, gpio.Level(os>>i&1 == 1)})
	}
	for _, l := range levels {
		if l.name == "" {
			continue
		}
		ds = append(ds, b.pinLevel(fmt.Sprintf("%s %s (%s)", part, l.what, l.name), l.name, l.want))
	}
	return ds, nil
}

// busyTimeout bounds the wait for BUSY: the conversion time and 10 ms for
// the host's GPIO edge latency.
func busyTimeout(aw ADCWiring) time.Duration { return 10*time.Millisecond + seconds(aw.ConversionS) }

// pinLevel reads a control GPIO the driver drives and compares its level.
func (b *Board) pinLevel(component, name string, want gpio.Level) hal.Diagnostic {
	d := hal.Diagnostic{Component: component, Check: "pin level", Expected: want.String()}
	p, err := b.host.Pin(name)
	if err != nil {
		d.Measured, d.Hint = err.Error(), "the host does not know this GPIO: check the wiring's pin name"
		return d
	}
	got := p.Read()
	d.Measured, d.Pass = got.String(), got == want
	if !d.Pass {
		d.Hint = "the host reads its own output at the wrong level: the pin is driven by something else or shorted"
	}
	return d
}
