package selftest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
)

// faulty wraps a good board and breaks one thing, so that every check is
// shown to fail on the fault it exists for. Each hook is optional.
type faulty struct {
	hal.Board
	bias   func(b []float64)                 // edits the bias before it is programmed
	coup   func(a []float64)                 // edits the couplings before they are programmed
	read   func(dst []float64, k int)        // edits the readings
	period func(time.Duration) time.Duration // the period the board really samples at
	force  bool                              // SetState does nothing
	diag   []hal.Diagnostic                  // when set, the board is a hal.Diagnoser
}

func (f *faulty) BoardTime() (time.Duration, bool) { return hal.BoardTime(f.Board) }

func (f *faulty) SetBias(ctx context.Context, b []float64) error {
	b = append([]float64(nil), b...)
	if f.bias != nil {
		f.bias(b)
	}
	return f.Board.SetBias(ctx, b)
}

func (f *faulty) SetCouplings(ctx context.Context, a []float64) error {
	a = append([]float64(nil), a...)
	if f.coup != nil {
		f.coup(a)
	}
	return f.Board.SetCouplings(ctx, a)
}

func (f *faulty) SetState(ctx context.Context, x []float64) error {
	if f.force {
		return nil
	}
	return f.Board.SetState(ctx, x)
}

func (f *faulty) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	if period == 0 {
		period = f.Info().MinSamplePeriod
	}
	if f.period != nil {
		period = f.period(period)
	}
	n, err := f.Board.Sample(ctx, period, dst)
	if f.read != nil {
		f.read(dst[:n*f.Info().Cells], f.Info().Cells)
	}
	return n, err
}

// diagnoser is a faulty board with driver diagnostics.
type diagnoser struct{ *faulty }

func (d diagnoser) Diagnose(context.Context) ([]hal.Diagnostic, error) { return d.diag, nil }

// failed returns the failed rows named name, and their components.
func failed(rep *Report, name string) (rows []Check, components []string) {
	for _, c := range rep.Failed() {
		if c.Name == name {
			rows = append(rows, c)
			components = append(components, c.Component)
		}
	}
	return rows, components
}

// names returns the names of the failed rows, each once.
func names(rep *Report) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range rep.Failed() {
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c.Name)
		}
	}
	return out
}

// faultCase is one test-local fault: what it breaks and what the
// selftest must say.
type faultCase struct {
	name  string
	fault func(f *faulty)
	// check → the failed components it must name (all of them)
	want map[string][]string
	// other checks that may fail as a consequence (nil with want nil:
	// anything may)
	also []string
	hint string // words one failed row's hint must contain
}

// faultCases are TestFaults' table.
func faultCases(k int) []faultCase {
	return []faultCase{
		{"bias channels 2 and 5 swapped", func(f *faulty) {
			f.bias = func(b []float64) { b[2], b[5] = b[5], b[2] }
		}, map[string][]string{
			"loopback":  {"bias channel 2 → cell 2", "bias channel 5 → cell 5"},
			"crosstalk": {"bias channel 2 → cell 5", "bias channel 5 → cell 2"},
		}, nil, "crosswise"},
		{"ADC channel 3 dead", func(f *faulty) {
			f.read = func(d []float64, k int) {
				for r := 3; r < len(d); r += k {
					d[r] = 0.0123
				}
			}
		}, map[string][]string{
			"noise": {"cell 3"}, "tau": {"cell 3"}, "force": {"cell 3"},
			"loopback": {"bias channel 3 → cell 3"},
		}, nil, "dead"},
		{"ADC codes shifted one bit", func(f *faulty) {
			f.read = func(d []float64, _ int) {
				for r := range d {
					d[r] = min(max(2*d[r], -5), 5)
				}
			}
		}, map[string][]string{"loopback": {"bias channel 0 → cell 0", "bias channel 1 → cell 1",
			"bias channel 2 → cell 2", "bias channel 3 → cell 3", "bias channel 4 → cell 4",
			"bias channel 5 → cell 5", "bias channel 6 → cell 6", "bias channel 7 → cell 7"}},
			// tau too: through proto8's ADC filter the first reading after
			// forcing ±3 V lags at ±2.72 V, doubled past the ±5 V end, and a
			// clip the board does not report bends the decay fit.
			[]string{"noise", "force", "tau"}, "clock edge"},
		{"offset on ADC channel 6", func(f *faulty) {
			f.read = func(d []float64, k int) {
				for r := 6; r < len(d); r += k {
					d[r] += 0.02
				}
			}
		}, map[string][]string{"loopback": {"bias channel 6 → cell 6"}}, nil, "offset"},
		{"non-linear ADC channel 1", func(f *faulty) {
			f.read = func(d []float64, k int) {
				for r := 1; r < len(d); r += k {
					d[r] += 0.01 * d[r] * d[r]
				}
			}
		}, map[string][]string{"loopback": {"bias channel 1 → cell 1"}}, []string{"force", "coupling"}, "linear"},
		{"cell 4 follows bias channel 0", func(f *faulty) {
			f.bias = func(b []float64) { b[4] += 0.05 * b[0] }
		}, map[string][]string{"crosstalk": {"bias channel 0 → cell 4"}, "coupling": {"A[4][0]"}}, nil, "A[4][0]"},
		{"A[1][6] stuck open", func(f *faulty) {
			f.coup = func(a []float64) { a[1*k+6] = 0 }
		}, map[string][]string{"coupling": {"A[1][6]"}}, nil, "does not respond"},
		{"A[3][3] stuck at 1", func(f *faulty) {
			f.coup = func(a []float64) { a[3*k+3] = 1 }
		}, map[string][]string{"coupling": {"A[3][3]"}}, nil, "A[3][3]"},
		{"polarity missing", func(f *faulty) {
			f.coup = func(a []float64) {
				for e := range a {
					a[e] = max(a[e], -a[e])
				}
			}
		}, nil, nil, "polarity chain"},
		{"state forcing dead", func(f *faulty) { f.force = true }, nil, nil, "FORCE"},
		{"extra noise on cell 7", func(f *faulty) {
			r := rand.New(rand.NewPCG(1, 2))
			f.read = func(d []float64, k int) {
				for i := 7; i < len(d); i += k {
					d[i] += 0.03 * r.NormFloat64()
				}
			}
		}, map[string][]string{"noise": {"cell 7"}}, nil, "noisier"},
		{"board samples at twice the period", func(f *faulty) {
			f.period = func(p time.Duration) time.Duration { return 2 * p }
		}, nil, nil, "time constant"},
	}
}

// A fault fails exactly the checks it should, names the component, and
// the rest of the board is still measured (every row is there).
func TestFaults(t *testing.T) {
	good := run(t, haltest.Open(t, "sim:proto8?seed=4"))
	for _, tc := range faultCases(8) {
		t.Run(tc.name, func(t *testing.T) {
			f := &faulty{Board: haltest.Open(t, "sim:proto8?seed=3")}
			tc.fault(f)
			rep := run(t, f)
			assert.False(t, rep.Pass)
			assert.Len(t, rep.Checks, len(good.Checks), "every check still runs")
			for name, comps := range tc.want {
				_, got := failed(rep, name)
				assert.ElementsMatch(t, comps, got, "failed %s rows", name)
			}
			if tc.want != nil {
				for _, n := range names(rep) {
					if _, ok := tc.want[n]; !ok {
						assert.Contains(t, tc.also, n, "only the expected checks fail")
					}
				}
			}
			require.NotEmpty(t, rep.Failed())
			var hints []string
			for _, c := range rep.Failed() {
				assert.NotEmpty(t, c.Hint, "%s %s", c.Name, c.Component)
				hints = append(hints, c.Hint)
			}
			assert.Contains(t, strings.Join(hints, "\n"), tc.hint)
		})
	}
}

// The driver's diagnostics become rows (a failed one fails the report),
// and a coupling row names the part the diagnostics name for its element.
func TestDiagnostics(t *testing.T) {
	f := &faulty{Board: haltest.Open(t, "sim:proto8?seed=3"), diag: []hal.Diagnostic{
		{Component: "AD5293 #5 (A[0][5])", Check: "RDAC read-back", Pass: false, Measured: "code 0x3FF", Expected: "code 0x200", Hint: "check its SDO"},
		{Component: "AD7606 BUSY (GPIO27)", Check: "BUSY pulse", Pass: true, Measured: "3 µs", Expected: "≤ 4 µs"},
		{Component: "AD5293 #6 (A[0][6]) on /dev/spidev1.0", Check: "RDAC read-back", Pass: true},
	}}
	f.coup = func(a []float64) { a[5] = 0 }
	rep := run(t, diagnoser{f})
	assert.False(t, rep.Pass)
	rows, comps := failed(rep, "driver: RDAC read-back")
	require.Len(t, rows, 1)
	assert.Equal(t, []string{"AD5293 #5 (A[0][5])"}, comps)
	assert.Equal(t, "check its SDO", rows[0].Hint)
	_, comps = failed(rep, "coupling")
	assert.Equal(t, []string{"A[0][5] (AD5293 #5)"}, comps)
	// driver/spi's components end in the port: the name keeps the part.
	var names []string
	for _, c := range rep.Checks {
		if c.Name == "coupling" && strings.HasPrefix(c.Component, "A[0][") {
			names = append(names, c.Component)
		}
	}
	assert.Contains(t, names, "A[0][6] (AD5293 #6)")
	assert.Contains(t, names, "A[0][0]")
	// A board without diagnostics says so in a skipped row.
	rep = run(t, haltest.Open(t, "sim:proto8?seed=3"))
	require.NotEmpty(t, rep.Checks)
	assert.True(t, rep.Checks[0].Skipped)
	assert.Equal(t, "driver", rep.Checks[0].Name)
}

// Late samples the driver counted during the selftest fail their row;
// those before it do not count.
func TestLateSamples(t *testing.T) {
	b := haltest.Open(t, "sim:proto8?seed=3")
	late := 7
	o := &Options{Late: func() (int, time.Duration) { late++; return late, 80 * time.Microsecond }}
	rep, err := Run(context.Background(), b, o)
	require.NoError(t, err)
	rows, _ := failed(rep, "late samples")
	require.Len(t, rows, 1)
	assert.Equal(t, "1 late (worst 80µs)", rows[0].Measured)
	o.Late = func() (int, time.Duration) { return 7, 0 }
	rep, err = Run(context.Background(), b, o)
	require.NoError(t, err)
	assert.True(t, rep.Pass)
}

// A board that refuses every off-diagonal coupling fails those rows and
// still measures the rest; a cancelled context stops the selftest with
// its error.
func TestRefusalsAndCancel(t *testing.T) {
	f := &faulty{Board: haltest.Open(t, "sim:proto8?seed=3")}
	refuse := &refusing{faulty: f}
	rep := run(t, refuse)
	_, comps := failed(rep, "coupling")
	assert.Len(t, comps, 8*7)
	assert.Equal(t, []string{"coupling"}, names(rep))
	for _, c := range rep.Failed() {
		assert.Contains(t, c.Measured, "board refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, haltest.Open(t, "sim:proto8?seed=3"), nil)
	require.ErrorIs(t, err, context.Canceled)
}

// refusing refuses couplings with an off-diagonal entry.
type refusing struct{ *faulty }

func (r *refusing) SetCouplings(ctx context.Context, a []float64) error {
	k := r.Info().Cells
	for e, v := range a {
		if e/k != e%k && v != 0 {
			return fmt.Errorf("test board: A[%d][%d] = %g refused: %w", e/k, e%k, v, hal.ErrOutOfRange)
		}
	}
	return r.faulty.SetCouplings(ctx, a)
}

// A board that does not open is one failed row with the driver's error;
// an unstable identity at start-up points at the polarity chain.
func TestUnopened(t *testing.T) {
	rep := Unopened(fmt.Errorf("spi board: chip 5 (A[0][5]) does not answer: %w", hal.ErrDisconnected))
	require.Len(t, rep.Checks, 1)
	assert.False(t, rep.Pass)
	assert.Contains(t, rep.Checks[0].Measured, "chip 5 (A[0][5])")
	rep = Unopened(fmt.Errorf("set couplings: %w", hal.ErrUnstable))
	assert.Contains(t, rep.Checks[0].Hint, "74HC595")
}
