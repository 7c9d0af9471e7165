package solver

import (
	"math"
	"time"
)

// NoBurn, as Options.Burn, skips the burn-in: sampling starts right after
// the board is programmed and its state set. Use it only when the starting
// state is already a good estimate, as in warm-started natural-gradient
// iterations that deliberately stop early.
const NoBurn time.Duration = -1

// Defaults. Durations are in units of the board's nominal time constant τ
// (hal.Info.Tau); rates are in units of 1/τ.
const (
	// DefaultBatches is the number of batches for batch-means error bars.
	DefaultBatches = 20
	// DefaultSolveTaus is the shortest default sampling time of Solve, in τ.
	DefaultSolveTaus = 2000
	// DefaultInverseTaus is the shortest default sampling time of Inverse,
	// in τ: covariances converge more slowly than means.
	DefaultInverseTaus = 20000
	// DefaultMaxRetries bounds how often Solve re-scales the bias after a
	// pilot run.
	DefaultMaxRetries = 8
	// DefaultMaxSamples caps the number of samples a default Period yields
	// over the sampling time: longer runs sample less often.
	DefaultMaxSamples = 1 << 22
	// MaxDenseCells is the largest board the solver drives. It pads every
	// problem to the board's K × K coupling matrix and keeps a few copies
	// of it (scaled, padded, and the eigendecompositions of the stability
	// and relaxation checks): 128 MiB per copy at K = 4096, the largest
	// dense board the simulator's profiles allow. Larger boards store
	// their couplings in factored form (hal.Factored).
	MaxDenseCells = 4096
)

// Tuning constants of the scaling and the defaults; see the package doc.
const (
	couplingMargin = 0.95 // max|A'_ij| ≤ couplingMargin·Coupling.Max
	biasMargin     = 0.95 // max|b'_i| ≤ biasMargin·Bias.Max
	meanCeiling    = 0.7  // pilot mean above this fraction of ADC full scale: reduce β
	meanTarget     = 0.5  // fraction of ADC full scale a re-scaled solution aims at
	meanFloor      = 0.25 // after a reduction, a peak below this scales β back up
	batchCorr      = 50   // default duration ≥ batchCorr·Batches relaxation times (Solve)
	batchCorrInv   = 500  // same for Inverse
	pilotTaus      = 25   // pilot length ≥ pilotTaus·τ …
	pilotCorr      = 10   // … and ≥ pilotCorr relaxation times
	pilotBatches   = 5    // batches of the pilot (for its error bar)
	burnDecay      = 1e6  // burn-in reduces the start's distance to the mean by this factor …
	burnMinTaus    = 10   // … and lasts at least this many τ
	symTol         = 1e-12
)

// Options tune Solve and Inverse. The zero value (or a nil *Options) selects
// every default; each field documents its own.
type Options struct {
	// Burn is the board time the board relaxes before sampling starts.
	// Zero selects
	//	τ · max(10, c·(ln 10⁶ + ½ ln n)/r)
	// where r is the slowest relaxation rate of the scaled matrix A' in 1/τ
	// (see Result.Relaxation) and c = 1.5 when r is a proven decay rate
	// (the smallest eigenvalue of the symmetric part of A', positive) or
	// c = 3 when only the spectral abscissa is known (non-normal A whose
	// symmetric part is indefinite, where transients may first grow).
	// It shrinks the distance from any start in the ADC range to the mean
	// to about 10⁻⁶ of full scale. NoBurn (any negative value) skips the
	// burn-in.
	Burn time.Duration

	// Duration is the board time to sample for. Zero selects
	// τ · max(2000, 50·Batches/r) for Solve and τ · max(20000, 500·Batches/r)
	// for Inverse, so that each batch spans many relaxation times 1/r.
	// Negative is an error.
	Duration time.Duration

	// Period is the time between samples. Zero selects the board's
	// MinSamplePeriod, lengthened when Duration would otherwise yield more
	// than DefaultMaxSamples samples. A Period below the board minimum is
	// an error (hal.ErrOutOfRange).
	Period time.Duration

	// Batches is the number of batches of the batch-means error bars; zero
	// selects DefaultBatches. It must be at least 2; with Tol set it is
	// rounded up to an even number.
	Batches int

	// Warm is a starting guess for x in problem units (length n, Solve
	// only). It is scaled into volts and clipped into the ADC range.
	// Nil starts from zero.
	Warm []float64

	// Tol, when positive, makes Solve keep sampling, doubling the sampled
	// time, until max_i StdErr_i ≤ Tol · max_i |X_i| or the sampled time
	// would exceed MaxDuration. Solve only.
	Tol float64

	// MaxDuration caps the sampled time when Tol is set; zero selects
	// 64·Duration.
	MaxDuration time.Duration

	// Beta, when positive, fixes the bias scale b' = Beta·b (volts per
	// problem unit) and skips the pilot runs; b' must fit the bias range
	// (hal.ErrOutOfRange otherwise). Solve only. Useful for repeated
	// solves of similar problems, where the previous Result.Scale.Beta is
	// known to be safe.
	Beta float64

	// MaxRetries bounds the bias re-scalings of Solve; zero selects
	// DefaultMaxRetries. Negative is an error.
	MaxRetries int
}

// Scale relates problem units to board units. The board is programmed with
// couplings A' = Alpha·A (units of 1/τ) and bias b' = Beta·b (volts), so its
// mean state x' = A'⁻¹b' is (Beta/Alpha)·x volts.
//
// For problems with subnormal entries Alpha or Beta may overflow to +Inf;
// the results are computed without forming them.
type Scale struct {
	Alpha float64
	Beta  float64
}

// Pilot records one pilot run of Solve: a short sampling after burn-in that
// checks that the solution fits the ADC range at bias scale Beta.
type Pilot struct {
	// Beta is the bias scale the pilot ran at.
	Beta float64
	// Peak is the largest pilot mean as a fraction of the ADC full scale on
	// its side (0.7 is the ceiling, 0.5 the target of a re-scaling).
	Peak float64
	// Saturated is the number of saturated readings in the pilot.
	Saturated int
}

// Result is the outcome of Solve. Vectors have length n, the size of the
// problem; values are in problem units.
type Result struct {
	// X is the estimate of A⁻¹b.
	X []float64
	// StdErr is the batch-means standard error of each X_i: with B batches
	// of equal length and batch means m_b,
	//	StdErr_i = sqrt( Σ_b (m_bi − X_i)² / (B(B−1)) ).
	// It measures the statistical error only, not calibration errors of
	// the board (coupling tolerances, DAC and ADC offsets).
	StdErr []float64

	// Scale is the scaling into board units.
	Scale Scale
	// Samples is the number of samples averaged into X (pilots excluded).
	Samples int
	// Batches is the number of batches behind StdErr.
	Batches int
	// Burn, Duration and Period are the burn-in per (re)start, the sampled
	// board time (Samples·Period) and the sample period actually used.
	Burn, Duration, Period time.Duration
	// Relaxation is τ/r, the estimated slowest relaxation time of the
	// scaled problem (see Options.Burn).
	Relaxation time.Duration

	// BoardTime is the board time the whole call took: programming,
	// burn-ins, pilots and sampling, from hal.Clock when the board
	// implements it (Clocked is then true), else the wall time.
	BoardTime time.Duration
	Clocked   bool
	// Wall is the wall-clock time of the call.
	Wall time.Duration

	// Retries is the number of bias re-scalings after pilot runs.
	Retries int
	// Pilots lists every pilot run, the accepted one last.
	Pilots []Pilot
	// Saturated is the number of saturated readings in the final sampling;
	// when positive Solve also returns an error wrapping hal.ErrSaturated.
	Saturated int

	// Notes are human-readable remarks: clipped warm starts, coupling
	// quantisation, short batches, an unmet Tol.
	Notes []string
}

// MaxRelStdErr returns max_i StdErr_i / max_i |X_i|, the normwise relative
// standard error that Options.Tol bounds. It is 0 when every StdErr_i is 0
// and +Inf when X is zero but StdErr is not.
func (r *Result) MaxRelStdErr() float64 { return relErr(r.X, r.StdErr) }

func relErr(x, se []float64) float64 {
	var mx, ms float64
	for i := range x {
		mx = math.Max(mx, math.Abs(x[i]))
		ms = math.Max(ms, se[i])
	}
	if ms == 0 {
		return 0
	}
	return ms / mx
}
