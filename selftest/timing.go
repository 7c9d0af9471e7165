package selftest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spukit/spukit/hal"
)

// timingTaus is the length of the timed Sample call, in τ.
const timingTaus = 100

// timing checks one Sample call of n readings, period h apart, against the
// contract: reading k is taken (k+1)·h after the call starts, and the last
// conversion and read-out may add up to one minimum sample period, so the
// board time is n·h ≤ d ≤ n·h + MinSamplePeriod (+ 1 µs of rounding). It
// also checks the driver's count of late samples (Options.Late) over the
// whole selftest.
func (t *tester) timing(ctx context.Context) error {
	c := Check{Name: "sample timing", Component: "ADC"}
	rows := max(16, int(timingTaus*t.info.Tau/t.period))
	want := time.Duration(rows) * t.period
	slack := t.info.MinSamplePeriod + time.Microsecond
	c.Expected = fmt.Sprintf("%d readings in %v … %v of board time", rows, want, want+slack)
	t0, clocked := hal.BoardTime(t.s.Board())
	if !clocked {
		c.Pass, c.Skipped = true, true
		c.Measured = "not measured: the board keeps no board time (hal.Clock)"
	} else {
		_, err := t.s.Window(ctx, t.period, rows, make([]float64, t.k))
		var se *hal.SaturationError
		switch {
		case err != nil && fatal(err):
			return err
		case err != nil && !errors.As(err, &se):
			c.Measured = "board refused: " + err.Error()
			c.Hint = "Sample failed at a period the board accepts: see the driver's error"
		default:
			t1, _ := hal.BoardTime(t.s.Board())
			d := t1 - t0
			c.Pass = d >= want && d <= want+slack
			c.Measured = fmt.Sprintf("%d readings in %v", rows, d)
			if !c.Pass {
				c.Hint = "the board's sampling does not keep the period: the ADC's conversion (AD7606 OS pins must be 000: oversampling lengthens it) or read-out is slower than the wiring says, or the host's timer"
			}
		}
	}
	t.add(c)
	if t.o.Late != nil {
		t.add(t.lateRow())
	}
	return nil
}

// lateRow reports the samples the driver took late during the selftest.
func (t *tester) lateRow() Check {
	n, worst := t.o.Late()
	n -= t.late0
	c := Check{Name: "late samples", Component: "host", Pass: n == 0,
		Measured: fmt.Sprintf("%d late", n), Expected: "0 late (each conversion within a tenth of a period of its slot)"}
	if n > 0 {
		c.Measured = fmt.Sprintf("%d late (worst %v)", n, worst)
		c.Hint = "the host fell behind the sample period: raise the wiring's adc.min_period_s, or keep the host quiet (other processes, CPU frequency scaling)"
	}
	return c
}
