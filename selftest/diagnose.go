package selftest

import (
	"context"
	"errors"

	"github.com/spukit/spukit/hal"
)

// diagnose runs the driver's own part checks (hal.Diagnoser) and turns
// each into a row; a board without them gets one skipped row.
func (t *tester) diagnose(ctx context.Context) error {
	d, ok := t.s.Board().(hal.Diagnoser)
	var ds []hal.Diagnostic
	var err error
	if ok {
		ds, err = d.Diagnose(ctx)
	}
	switch {
	case !ok || errors.Is(err, hal.ErrUnsupported):
		t.add(Check{Name: "driver", Component: "chips", Pass: true, Skipped: true,
			Measured: "not available: the driver reads nothing back (no hal.Diagnoser)", Expected: "chip read-back"})
		return nil
	case err != nil && fatal(err):
		return err
	case err != nil:
		t.add(Check{Name: "driver", Component: "chips", Measured: "diagnostics failed: " + err.Error(),
			Expected: "chip read-back", Hint: "the driver could not run its chip checks: see its error (bus, chip selects)"})
		return nil
	}
	t.diags = ds
	for _, x := range ds {
		t.add(Check{Name: "driver: " + x.Check, Component: x.Component, Pass: x.Pass,
			Measured: x.Measured, Expected: x.Expected, Hint: x.Hint})
	}
	// Diagnose restores what it changed; what this session last programmed
	// is still the board's, but program it again to be safe.
	t.cur = nil
	return nil
}

// restore leaves the board as it was opened: A = I, b = 0, x = 0.
func (t *tester) restore(ctx context.Context) error {
	if err := t.s.ProgramDense(ctx, t.identity(-1, -1, 0), t.k, 1); err != nil {
		return err
	}
	if err := t.s.SetRHS(ctx, nil, 1, 1); err != nil {
		return err
	}
	_, err := t.s.ForceVolts(ctx, nil)
	return err
}
