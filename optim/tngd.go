package optim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"gonum.org/v1/gonum/floats"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// Mapping says how a TNGD iteration meets the board.
type Mapping int

const (
	// MapAuto picks factored when the board has the hal.Factored capability
	// and enough cells, else primal when the parameters fit the cells, else
	// dual when batch × outputs fits.
	MapAuto Mapping = iota
	// MapPrimal programs the dense N × N curvature F on an N-cell board.
	MapPrimal
	// MapFactored hands J, H and λ to a hal.Factored board.
	MapFactored
	// MapDual solves the m × m Woodbury system λI + G on an m-cell board
	// (m = batch × outputs) and maps the result back.
	MapDual
	// MapTiled solves the same m × m dual system on a board of any size:
	// solver.Tiled's flexible CG with the board solving its diagonal
	// blocks (see tngd_tiled.go).
	MapTiled
)

var mappingNames = []string{"auto", "primal", "factored", "dual", "tiled"}

// String returns the flag spelling of m.
func (m Mapping) String() string {
	if int(m) < len(mappingNames) {
		return mappingNames[m]
	}
	return fmt.Sprintf("Mapping(%d)", int(m))
}

// ParseMapping is the inverse of Mapping.String.
func ParseMapping(s string) (Mapping, error) {
	for i, n := range mappingNames {
		if s == n {
			return Mapping(i), nil
		}
	}
	return 0, fmt.Errorf("mapping %q: want one of %s: %w", s, strings.Join(mappingNames, ", "), hal.ErrInvalid)
}

// TNGDOptions configure TNGD. Times are in units of the board's τ.
type TNGDOptions struct {
	LR      float64 // step size η; default 0.01
	T       float64 // analog run time per iteration, in τ; default 50
	Delay   float64 // t_d: the board keeps evolving on the previous A, b this long before reprogramming
	Window  int     // samples averaged at the end of the run; default 1 (a single read)
	Mapping Mapping
	// Headroom is the fraction of the ADC's full scale the state is scaled
	// to use; default 0.5.
	Headroom float64
	// TileTol and TileIter end the tiled mapping's outer iteration at a
	// relative residual of the dual system (default DefaultTileTol) or
	// after this many outer iterations (default DefaultTileIter),
	// whichever comes first.
	TileTol  float64
	TileIter int
}

func (o TNGDOptions) withDefaults() TNGDOptions {
	o.LR = cmp.Or(o.LR, defaultLR)
	o.T = cmp.Or(o.T, defaultT)
	o.Window = cmp.Or(o.Window, 1)
	o.Headroom = cmp.Or(o.Headroom, 0.5)
	o.TileTol = cmp.Or(o.TileTol, DefaultTileTol)
	o.TileIter = cmp.Or(o.TileIter, DefaultTileIter)
	return o
}

// TNGD is thermodynamic natural gradient descent on a board: each step
// programs the damped GGN F = λI + (1/b)JᵀHJ and the gradient g, lets the
// board relax for T (warm-started from where the previous step left it),
// reads g̃ and steps θ ← θ − η g̃. T → 0 is SGD, T → ∞ is NGD.
//
// The board state is kept in volts as β·g̃; β is chosen so the state uses
// Headroom of the ADC range and changed only when the state grows out of
// (or shrinks far below) that budget, in which case the state is re-forced
// to β·g̃ of the previous step.
//
// The board is driven through a solver.Session, which scales, pads,
// programs, relaxes, reads and accounts board time; TNGD adds its policies:
// the mapping, the run time t and delay t_d, the headroom scale β, the
// rescale on saturation and the dual map-back.
type TNGD struct {
	sess    *solver.Session
	info    hal.Info
	opts    TNGDOptions
	mapping Mapping

	started bool
	beta    float64   // volts per gradient unit
	alpha   float64   // coupling scale the board was last programmed with (restored by SetState): the delay runs on it
	prev    []float64 // last estimate: g̃ (primal, factored) or y (dual), problem units, one per cell
	period  time.Duration

	forceNext bool // the scale changed: force the state at the next step
}

// NewTNGD prepares TNGD for a model with n parameters and batches of m =
// batch × outputs rows on board b. The mapping is resolved here from the
// board's Info (see Mapping); Mapping() says which was chosen.
func NewTNGD(b hal.Board, n, m int, opts TNGDOptions) (*TNGD, error) {
	opts = opts.withDefaults()
	if !(opts.LR > 0) || !(opts.T > 0) || opts.Delay < 0 || opts.Window < 1 || !(opts.Headroom > 0 && opts.Headroom <= 1) {
		return nil, fmt.Errorf("tngd: lr = %g (> 0), t = %gτ (> 0), delay = %gτ (≥ 0), window = %d (≥ 1), headroom = %g (0, 1]: %w",
			opts.LR, opts.T, opts.Delay, opts.Window, opts.Headroom, hal.ErrInvalid)
	}
	sess, err := solver.NewSession(b)
	if err != nil {
		return nil, fmt.Errorf("tngd: %w", err)
	}
	info := sess.Info()
	_, factored := b.(hal.Factored)
	mp := opts.Mapping
	if mp == MapAuto {
		switch {
		case factored && n <= info.Cells:
			mp = MapFactored
		case n <= info.Cells:
			mp = MapPrimal
		case m <= info.Cells:
			mp = MapDual
		default:
			return nil, fmt.Errorf("tngd: board %s has %d cells: fewer than the %d parameters (primal/factored) and than batch×outputs = %d (dual): %w",
				info.Model, info.Cells, n, m, hal.ErrDimension)
		}
	}
	switch mp {
	case MapFactored:
		if !factored {
			return nil, fmt.Errorf("tngd: mapping factored: board %s does not take factored couplings: %w", info.Model, hal.ErrUnsupported)
		}
		fallthrough
	case MapPrimal:
		if n > info.Cells {
			return nil, fmt.Errorf("tngd: mapping %v needs %d cells for the parameters, board %s has %d: %w", mp, n, info.Model, info.Cells, hal.ErrDimension)
		}
	case MapDual:
		if m > info.Cells {
			return nil, fmt.Errorf("tngd: mapping dual needs batch×outputs = %d cells, board %s has %d: %w", m, info.Model, info.Cells, hal.ErrDimension)
		}
	case MapTiled:
		if err := opts.checkTiled(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("tngd: %v: %w", mp, hal.ErrInvalid)
	}
	if opts.Window > 1 && time.Duration(opts.Window)*info.MinSamplePeriod > tauDuration(info, opts.T) {
		return nil, fmt.Errorf("tngd: a window of %d samples at %v is longer than t = %gτ: %w", opts.Window, info.MinSamplePeriod, opts.T, hal.ErrInvalid)
	}
	return &TNGD{sess: sess, info: info, opts: opts, mapping: mp, alpha: 1, period: info.MinSamplePeriod}, nil
}

// Name returns "tngd".
func (o *TNGD) Name() string { return "tngd" }

// Mapping returns the mapping in use.
func (o *TNGD) Mapping() Mapping { return o.mapping }

func tauDuration(info hal.Info, t float64) time.Duration {
	return time.Duration(math.Round(t * float64(info.Tau)))
}

// Step implements Optimizer: θ ← θ − η g̃.
func (o *TNGD) Step(ctx context.Context, it *Iteration) (StepStats, error) {
	d, st, err := o.Direction(ctx, it)
	if err != nil {
		return st, err
	}
	theta := it.Model.Params()
	for i, v := range d {
		theta[i] -= o.opts.LR * v
	}
	return st, nil
}

// maxRescales bounds how often one step re-runs after a saturated read.
const maxRescales = 4

// Direction runs the board for one iteration and returns g̃ (for the dual
// mapping, the primal direction (g − Uᵀy)/λ recovered from the dual
// estimate y). It does not change the model.
func (o *TNGD) Direction(ctx context.Context, it *Iteration) (d []float64, st StepStats, err error) {
	u0, start := o.sess.Usage(), time.Now()
	defer func() { o.account(&st, u0, start) }()
	if o.mapping == MapTiled {
		return o.tiledDirection(ctx, it, &st)
	}
	g := it.Grad
	lam := it.Lambda

	// The board keeps evolving on the previous A, b while the host works.
	if o.started && o.opts.Delay > 0 {
		if err := o.sess.Relax(ctx, tauDuration(o.info, o.opts.Delay/o.alpha)); err != nil {
			return nil, st, fmt.Errorf("tngd: delay: %w", err)
		}
	}
	rhs, err := o.program(ctx, it)
	if err != nil {
		return nil, st, err
	}

	warm := o.prev
	force := !o.started || o.forceNext
	o.forceNext = false
	if warm == nil {
		warm = make([]float64, o.info.Cells)
		if o.mapping != MapDual {
			copy(warm, g) // the first iteration starts from g: t = 0 is SGD
		}
	}
	rhsMax := floats.Norm(rhs, math.Inf(1))
	if !o.started || o.beta == 0 {
		// Worst-case growth from the warm start: ‖(I − e^{−At})A⁻¹‖ ≤ min(t, 1/λ_min) with λ_min ≥ λ.
		o.beta = o.betaFor(math.Max(floats.Norm(warm, math.Inf(1)), rhsMax*math.Min(o.opts.T, 1/lam)), rhsMax)
	}
	if lim := o.biasLimit(rhsMax); o.beta > lim {
		// A larger gradient or a new coupling scale: shrink the scale so
		// the bias fits, and restate the warm start in the new units.
		o.beta = lim
		force = true
	}
	est, err := o.relax(ctx, rhs, warm, force, &st)
	if err != nil {
		return nil, st, err
	}
	o.started = true
	o.prev = est
	if o.mapping == MapDual {
		return WoodburyBack(it, est[:len(rhs)]), st, nil
	}
	return est[:len(g)], st, nil
}

// account fills the step's costs from the session's usage since u0 and
// the wall time since start.
func (o *TNGD) account(st *StepStats, u0 solver.Usage, start time.Time) {
	u := o.sess.Usage().Sub(u0)
	st.Digital = time.Since(start) - u.InBoard
	if o.info.Caps.Has(hal.CapSimulated) {
		st.SimWall = u.InBoard
	}
	st.BoardTime = u.BoardTime
}

// program sends this iteration's curvature to the board by the mapping in
// use and returns the right-hand side: g (primal, factored) or U g (dual).
func (o *TNGD) program(ctx context.Context, it *Iteration) ([]float64, error) {
	rhs := it.Grad
	var err error
	switch o.mapping {
	case MapFactored:
		err = o.sess.ProgramFactored(ctx, it.Factorization())
	case MapPrimal:
		n := len(it.Grad)
		a := make([]float64, n*n)
		it.denseFInto(a, n)
		err = o.programDense(ctx, a, n)
	case MapDual:
		a, m := dualSystem(it)
		err = o.programDense(ctx, a, m)
		rhs = make([]float64, m)
		it.U(rhs, it.Grad)
	}
	if err != nil {
		return nil, fmt.Errorf("tngd: %w", err)
	}
	o.alpha = o.sess.Alpha()
	return rhs, nil
}

// programDense programs the n × n matrix a, λI + PSD and so positive
// definite by construction (no O(n³) check), at the largest coupling scale
// that fits the symmetric part of the board's range.
func (o *TNGD) programDense(ctx context.Context, a []float64, n int) error {
	alpha, err := o.sess.CouplingScale(a, true)
	if err != nil {
		return err
	}
	return o.sess.ProgramDense(ctx, a, n, alpha)
}

// relax runs the programmed problem for t from the warm start (forced when
// force is set, else the state the board is in) and returns the window's
// mean in gradient units, one per cell. A saturated read re-runs the step
// from the warm start at a 4× smaller scale, at most maxRescales times.
func (o *TNGD) relax(ctx context.Context, rhs, warm []float64, force bool, st *StepStats) ([]float64, error) {
	period := o.period
	total := tauDuration(o.info, o.opts.T/o.alpha)
	window := time.Duration(o.opts.Window) * period
	if total < window {
		return nil, fmt.Errorf("tngd: t = %gτ is %v on this board (coupling scale %.3g), shorter than %d sample period(s) of %v: %w",
			o.opts.T, total, o.alpha, o.opts.Window, period, hal.ErrOutOfRange)
	}
	est := make([]float64, o.info.Cells)
	for attempt := 0; ; attempt++ {
		// Bias before a forced state: the board relaxes while the bias is
		// written, and the run should start from the warm start exactly.
		if err := o.sess.SetRHS(ctx, rhs, o.alpha*o.beta, o.beta); err != nil {
			return nil, fmt.Errorf("tngd: bias: %w", err)
		}
		if force {
			if _, err := o.sess.Force(ctx, warm); err != nil {
				return nil, fmt.Errorf("tngd: warm start: %w", err)
			}
		}
		if run := total - window; run > 0 {
			if err := o.sess.Relax(ctx, run); err != nil {
				return nil, fmt.Errorf("tngd: run %gτ: %w", o.opts.T, err)
			}
		}
		peak, err := o.sess.Window(ctx, period, o.opts.Window, est)
		if errors.Is(err, hal.ErrSaturated) && attempt < maxRescales {
			// Re-run this step from the warm start with a 4× smaller scale.
			o.beta /= 4
			force = true
			st.Rescales++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tngd: read: %w", err)
		}
		// Grow the scale when the state uses under a quarter of its
		// budget: the ADC's resolution is then wasted. The next step
		// re-forces the state at the new scale.
		fs := math.Min(math.Abs(o.info.ADC.Min), math.Abs(o.info.ADC.Max))
		if peak < o.opts.Headroom*fs/4 {
			if nb := math.Min(2*o.beta, o.biasLimit(floats.Norm(rhs, math.Inf(1)))); nb > o.beta {
				o.beta = nb
				o.forceNext = true
			}
		}
		return est, nil
	}
}

// betaFor returns the scale (volts per problem unit) that puts a state of
// magnitude need at Headroom of the ADC's full scale, capped so that the
// bias α·β·rhs fits the bias DAC.
func (o *TNGD) betaFor(need, rhsMax float64) float64 {
	fs := math.Min(math.Abs(o.info.ADC.Min), math.Abs(o.info.ADC.Max))
	b := math.Inf(1)
	if need > 0 {
		b = o.opts.Headroom * fs / need
	}
	b = math.Min(b, o.biasLimit(rhsMax))
	if math.IsInf(b, 0) {
		b = 1 // a zero problem: any scale works
	}
	return b
}

func (o *TNGD) biasLimit(rhsMax float64) float64 {
	if rhsMax == 0 {
		return math.Inf(1)
	}
	bs := math.Min(math.Abs(o.info.Bias.Min), math.Abs(o.info.Bias.Max))
	return 0.95 * bs / (o.alpha * rhsMax)
}

// TNGDAdam feeds the board's estimate g̃ to Adam in place of the gradient,
// as the paper's TNGD-Adam does (with β₁ = β₂ = 0 by default the update is
// η·g̃/(|g̃| + ε) element-wise).
type TNGDAdam struct {
	TNGD *TNGD
	Adam *Adam
}

// Name returns "tngd-adam".
func (o *TNGDAdam) Name() string { return "tngd-adam" }

// Step implements Optimizer.
func (o *TNGDAdam) Step(ctx context.Context, it *Iteration) (StepStats, error) {
	d, st, err := o.TNGD.Direction(ctx, it)
	if err != nil {
		return st, err
	}
	sub := *it
	sub.Grad = d
	ast, err := o.Adam.Step(ctx, &sub)
	st.Digital += ast.Digital
	return st, err
}

// State implements optim.Stateful: the warm start (g̃ or y), the scales
// and flags. The board's own analog state is not part of it: SetState makes
// the next step force the board to the saved warm start, so a resumed run
// continues from the same estimate — though not bit-identically on a noisy
// board, whose noise stream restarts with the board.
func (o *TNGD) State() []float64 {
	s := []float64{o.beta, o.alpha, b2f(o.started)}
	return append(s, o.prev...)
}

// SetState implements optim.Stateful.
func (o *TNGD) SetState(s []float64) error {
	if len(s) < 3 || (len(s) > 3 && len(s)-3 != o.info.Cells) {
		return fmt.Errorf("tngd state: %d values, want 3 or 3 + %d cells: %w", len(s), o.info.Cells, hal.ErrDimension)
	}
	o.beta, o.alpha, o.started = s[0], s[1], s[2] != 0
	o.prev = nil
	if len(s) > 3 {
		o.prev = append([]float64(nil), s[3:]...)
	}
	o.forceNext = true
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// State implements optim.Stateful: TNGD's state, then Adam's.
func (o *TNGDAdam) State() []float64 {
	t := o.TNGD.State()
	return append(append([]float64{float64(len(t))}, t...), o.Adam.State()...)
}

// SetState implements optim.Stateful.
func (o *TNGDAdam) SetState(s []float64) error {
	if len(s) < 1 || int(s[0]) < 0 || int(s[0]) > len(s)-1 {
		return fmt.Errorf("tngd-adam state: malformed (%d values): %w", len(s), hal.ErrDimension)
	}
	n := int(s[0])
	if err := o.TNGD.SetState(s[1 : 1+n]); err != nil {
		return err
	}
	return o.Adam.SetState(s[1+n:])
}
