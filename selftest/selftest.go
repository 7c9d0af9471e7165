package selftest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// Tolerances bound a good board's part errors. Each is the worst case of
// the datasheet bounds it adds up (a sum, not a root-sum-square: a
// bring-up check must not fail a board built from parts within their
// specifications).
type Tolerances struct {
	// Gain is the relative loopback gain error: bias DAC gain, ADC gain
	// and the diagonal element (x = b/A_ii).
	Gain float64
	// Offset is the loopback offset in volts: bias DAC offset plus ADC
	// offset.
	Offset float64
	// INL is the integral non-linearity in volts: bias DAC plus ADC.
	INL float64
	// Element is the relative gain error of one coupling element.
	Element float64
	// Tau is the relative error of a cell's τ: capacitor and the diagonal
	// element.
	Tau float64
	// Noise is the relative error of the injected noise's rms.
	Noise float64
}

// Ref8 are the tolerances of the reference board's parts (docs/boards.md
// §1), which are the simulator's proto8 numbers (docs/profiles.md): AD5293
// rheostats ±1 % end to end, AD5676 bias DAC gain ±0.06 % FSR, offset
// ±1.5 mV, INL ±3 LSB, AD7606 gain ±0.05 %, offset ±1.5 mV; 5 % C0G
// capacitors. The noise source is held to 10 %: the simulator's is exact,
// a real one's spread is its design's.
var Ref8 = Tolerances{
	Gain:    0.01 + 6e-4 + 5e-4,
	Offset:  1.5e-3 + 1.5e-3,
	INL:     3*10.0/65536 + 2*10.0/65536,
	Element: 0.01,
	Tau:     0.05 + 0.01,
	Noise:   0.1,
}

// DefaultSigmas is the default statistical margin k: a Gaussian deviation
// beyond 5 standard errors has probability 6·10⁻⁷, so a good board's
// hundred-odd rows pass with probability ≈ 1 − 10⁻⁴.
const DefaultSigmas = 5

// Options tune Run. The zero value selects every default.
type Options struct {
	// Tolerances of the parts; the zero value means Ref8.
	Tolerances Tolerances
	// Sigmas is the statistical margin k in standard errors (default
	// DefaultSigmas).
	Sigmas float64
	// Progress, when set, is called with the stage being run and the
	// fraction of the selftest done (0…1).
	Progress func(stage string, done float64)
	// Late, when set, returns how many samples the driver took late (past
	// their slot) since the board was opened and the worst delay;
	// driver/spi counts them (spi.Stats), other boards cannot tell.
	Late func() (n int, worst time.Duration)
}

// Check is one row of the report.
type Check struct {
	// Name is the kind of check: "driver: …", "noise", "tau", "force",
	// "loopback", "crosstalk", "coupling", "sample timing".
	Name string `json:"name"`
	// Component is the part the row is about as a technician finds it:
	// "cell 3", "bias channel 2", "A[0][5] (AD5293 #5)".
	Component string `json:"component"`
	Pass      bool   `json:"pass"`
	// Skipped rows could not run on this board (Pass is true).
	Skipped  bool   `json:"skipped,omitempty"`
	Measured string `json:"measured"`
	Expected string `json:"expected"`
	// Hint is, for a failure, the most likely cause and what to check on
	// the bench.
	Hint string `json:"hint,omitempty"`
}

// Report is the result of Run.
type Report struct {
	// Pass is true when every check passed.
	Pass   bool    `json:"pass"`
	Checks []Check `json:"checks"`
	// BoardTimeS is the board time the selftest took (Clocked: from the
	// board's clock, else the wall time spent in board calls); WallS the
	// wall time.
	BoardTimeS float64 `json:"board_time_s"`
	Clocked    bool    `json:"board_time_clocked"`
	WallS      float64 `json:"wall_s"`
}

// Failed returns the rows that failed.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.Pass {
			out = append(out, c)
		}
	}
	return out
}

// Run runs every check on b and leaves it as it was opened (A = I, b = 0,
// x = 0). It returns an error only when it cannot go on: ctx cancelled, the
// board closed or disconnected, or a board whose Info does not validate;
// a part that fails is a failed row.
func Run(ctx context.Context, b hal.Board, o *Options) (*Report, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.Tolerances == (Tolerances{}) {
		opt.Tolerances = Ref8
	}
	if opt.Sigmas == 0 {
		opt.Sigmas = DefaultSigmas
	}
	if !(opt.Sigmas > 0) {
		return nil, fmt.Errorf("selftest: sigmas = %g, want > 0: %w", opt.Sigmas, hal.ErrInvalid)
	}
	s, err := solver.NewSession(b)
	if err != nil {
		return nil, fmt.Errorf("selftest: %w", err)
	}
	t := &tester{s: s, info: s.Info(), k: s.Info().Cells, o: opt, w0: time.Now()}
	t.init()
	plan := t.plan()
	t.stages = len(plan)
	for i, st := range plan {
		t.stage, t.stageName = i, st.name
		t.progress(0)
		if err := st.run(ctx); err != nil {
			return nil, fmt.Errorf("selftest: %s: %w", st.name, err)
		}
	}
	if err := t.restore(ctx); err != nil {
		return nil, fmt.Errorf("selftest: restoring A = I, b = 0, x = 0: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress("done", 1)
	}
	return t.report(), nil
}

// stage is one step of the selftest.
type stage struct {
	name string
	run  func(ctx context.Context) error
}

func (t *tester) plan() []stage {
	return []stage{
		{"driver diagnostics", t.diagnose},
		{"noise floor", t.noise},
		{"τ and state forcing", t.taus},
		{"bias loopback", t.loopback},
		{"coupling sweep", t.couplings},
		{"sample timing", t.timing},
	}
}

// fatal reports whether err stops the selftest: cancellation, a closed or
// disconnected board. Every other board error is a failed row.
func fatal(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, hal.ErrClosed) || errors.Is(err, hal.ErrDisconnected)
}

// add appends a row.
func (t *tester) add(c Check) { t.rows = append(t.rows, c) }

func (t *tester) report() *Report {
	r := &Report{Pass: true, Checks: t.rows, WallS: time.Since(t.w0).Seconds()}
	u := t.s.Usage()
	r.BoardTimeS, r.Clocked = u.BoardTime.Seconds(), u.Clocked
	for _, c := range t.rows {
		if !c.Pass {
			r.Pass = false
		}
	}
	return r
}

// within reports whether |got − want| ≤ tol (false for NaN).
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// Unopened is the report of a board that did not open: one failed row
// holding the driver's error, which names what its start-up checks found
// wrong (driver/spi: the chip and chain position, the pin).
func Unopened(err error) *Report {
	hint := "the driver refused the board at start-up: its message names the part and what to check (docs/boards.md, \"First power-up\")"
	if errors.Is(err, hal.ErrUnstable) {
		hint = "the identity the driver programs at start-up came out unstable: the couplings' signs are wrong — a polarity chain (74HC595) that is missing, unpowered or not latched reads as all ones, which makes A = −I"
	}
	return &Report{Checks: []Check{{Name: "open", Component: "board", Measured: err.Error(),
		Expected: "the board opens: the driver's start-up checks pass", Hint: hint}}}
}
