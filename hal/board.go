package hal

import (
	"context"
	"time"
)

// Board is an SPU: K coupled RC cells whose couplings, bias and state are
// programmed through DACs and whose node voltages are read through ADCs.
//
// Slices are dense and row-major; K is Info().Cells. A Board is not safe for
// concurrent use: one goroutine drives it at a time.
type Board interface {
	// Info describes the board. It never changes, and stays valid after
	// Close (so results can still name the board).
	Info() Info

	// SetCouplings programs the K × K coupling matrix a (row-major, length
	// K², units of 1/τ). The whole matrix is checked before anything is
	// programmed: a wrong length is ErrDimension, a NaN or Inf is ErrInvalid,
	// an entry outside Info().Coupling is a *RangeError (ErrOutOfRange), an
	// asymmetric a on a Symmetric board (compared exactly) is
	// ErrUnsupported, and a matrix with an eigenvalue whose real part is not
	// positive is ErrUnstable. When several apply, the first in this list
	// wins, and the first bad entry in row-major order is named (CheckCouplings
	// implements exactly this). A rejected call changes nothing.
	SetCouplings(ctx context.Context, a []float64) error

	// SetBias programs the bias vector b (length K, volts), checked like
	// SetCouplings against Info().Bias.
	SetBias(ctx context.Context, b []float64) error

	// SetState forces the node voltages to x (length K, volts), checked
	// against Info().ADC's range.
	SetState(ctx context.Context, x []float64) error

	// Run lets the board evolve for d of board time without reading it.
	// d must be positive (ErrInvalid otherwise). A cancelled ctx stops the
	// run early and its error is returned wrapped; the board stays usable.
	//
	// Every method returns a wrapped ctx.Err() when called with an already
	// cancelled ctx.
	Run(ctx context.Context, d time.Duration) error

	// Sample reads len(dst)/K successive samples of all K node voltages,
	// one every period of board time (period 0 means Info().MinSamplePeriod),
	// into dst row-major: dst[k*K+i] is cell i in sample k. Sample k is
	// taken (k+1)·period after the call starts (the board evolves one
	// period before the first reading); conversion and read-out may add
	// time after the last one. len(dst) must be
	// a positive multiple of K (ErrDimension) and period must not be below
	// Info().MinSamplePeriod (*RangeError).
	//
	// It returns the number of complete samples written. When any reading
	// hit the end of the ADC range or a node hit its rail, all samples are
	// still written and the error is a *SaturationError (ErrSaturated); a
	// cancelled ctx returns the samples taken so far and ctx's error, which
	// then takes precedence over saturation.
	Sample(ctx context.Context, period time.Duration, dst []float64) (int, error)

	// Close releases the board. It is idempotent; every other method
	// returns ErrClosed afterwards.
	Close() error
}

// Clock is implemented by boards that can keep their own account of board
// time, such as simulators, so that callers can say how long real hardware
// would have taken. It is the one signal that a board keeps board time
// (there is no capability bit for it): a board that may or may not keep it
// — a serial board whose firmware has no clock, a wrapper around another
// board — implements Clock and answers ok = false when it does not. Read it
// through BoardTime, which also covers boards without the method.
type Clock interface {
	// BoardTime returns the board time spent by all operations since the
	// board was opened (programming, settling, running and conversion) and
	// ok = true, or 0 and false when the board keeps no board time. ok is
	// the same for every call on one board, so a caller may ask once.
	BoardTime() (d time.Duration, ok bool)
}

// Streamer is an optional capability: a board that tells, while Sample
// runs, how many leading samples of dst are final, so that a caller can
// pass them on while later ones are being taken (spu serve streams them to
// its client, overlapping the network with sampling). It is one Sample
// call, not several: the readings, the saturation counts and the error are
// Sample's, bit for bit, which splitting a call into shorter ones would
// not give on a board with a per-call read-out tail (driver/spi).
type Streamer interface {
	// SampleStream is Sample that calls progress(n), on Sample's
	// goroutine, when samples [0, n) of dst hold their final values; n
	// grows from call to call and stays below the count returned (the
	// return says the rest). progress must return quickly: the board
	// waits for it. A nil progress is Sample.
	SampleStream(ctx context.Context, period time.Duration, dst []float64, progress func(n int)) (int, error)
}

// BoardTime returns b's board time and true when b keeps board time (it
// implements Clock and says so), and 0 and false otherwise. Callers use it
// instead of asserting Clock, so that wrappers and boards that learn at
// open whether they keep time need no extra type.
func BoardTime(b Board) (time.Duration, bool) {
	if c, ok := b.(Clock); ok {
		return c.BoardTime()
	}
	return 0, false
}
