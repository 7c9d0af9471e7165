package haltest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// config holds the knobs of the suite; the package's own tests shrink some
// of them to test the checks quickly against broken boards.
type config struct {
	// memCap bounds the bytes a cancellation check allocates for samples.
	memCap int
	// target is the wall time a cancellation check's Sample call would take
	// if it were not cancelled (before the memory cap applies).
	target time.Duration
	// cancelAfter is the wall time after which a cancellation check cancels.
	cancelAfter time.Duration
	// prompt bounds the wall time of a call whose context was cancelled
	// before it started.
	prompt time.Duration
	// budget is the board time a statistical check spends sampling.
	budget time.Duration
	// longRun is the board time of the Run that a cancellation check cancels.
	longRun time.Duration
	// reopen opens the board under test again (Run's open, closed when the
	// subtest ends); nil when there is no way to.
	reopen func() hal.Board
}

var defaultConfig = config{
	memCap:      200 << 20,
	target:      10 * time.Second,
	cancelAfter: 20 * time.Millisecond,
	prompt:      250 * time.Millisecond,
	budget:      time.Second,
	longRun:     30 * time.Second,
}

// checkFunc is one conformance check. It gets a freshly opened board and
// returns nil when the board conforms, a skipError when the check cannot
// be applied to this board, or an error describing the violation.
type checkFunc func(ctx context.Context, b hal.Board, cfg config) error

// checks lists the suite in the order Run executes it.
var checks = []struct {
	name string
	fn   checkFunc
}{
	{"Info", checkInfo},
	{"Clock", checkClock},
	{"Dimensions", checkDimensions},
	{"NotFinite", checkNotFinite},
	{"OutOfRange", checkOutOfRange},
	{"Unstable", checkUnstable},
	{"Arguments", checkArguments},
	{"CancelSample", checkCancelSample},
	{"CancelRun", checkCancelRun},
	{"PreCancelled", checkPreCancelled},
	{"Close", checkClose},
	{"ADCRange", checkADCRange},
	{"Saturation", checkSaturation},
	{"Stream", checkStream},
	{"Equilibrium", checkEquilibrium},
	{"Reopen", checkReopen},
}

// Open opens the board uri for a test and closes it when the test ends;
// a board that does not open fails the test.
func Open(t *testing.T, uri string) hal.Board {
	t.Helper()
	b, err := hal.Open(context.Background(), uri)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// Run runs the conformance suite as subtests of t. For every subtest it
// calls open to get a fresh board, which it closes when the subtest ends
// (open may register its own cleanup as well: Close is idempotent). open
// should fail t itself when the board cannot be opened.
func Run(t *testing.T, open func(t *testing.T) hal.Board) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			runCheck(t, open, c.fn, defaultConfig)
		})
	}
}

// runCheck opens a board, runs fn on it and reports the outcome on t.
func runCheck(t *testing.T, open func(t *testing.T) hal.Board, fn checkFunc, cfg config) {
	t.Helper()
	opened := func() hal.Board {
		b := open(t)
		require.NotNil(t, b, "open returned a nil board")
		t.Cleanup(func() {
			assert.NoError(t, b.Close(), "Close at the end of the subtest (Close must be idempotent)")
		})
		return b
	}
	b := opened()
	cfg.reopen = opened
	err := fn(t.Context(), b, cfg)
	var skip skipError
	if errors.As(err, &skip) {
		t.Skip(string(skip))
	}
	require.NoError(t, err)
}

// skipError says that a check does not apply to the board under test.
type skipError string

func (s skipError) Error() string { return "skipped: " + string(s) }

func skipf(format string, args ...any) error { return skipError(fmt.Sprintf(format, args...)) }

// failf formats a conformance violation.
func failf(format string, args ...any) error { return fmt.Errorf(format, args...) }
