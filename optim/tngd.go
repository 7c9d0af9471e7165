package optim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spukit/spukit/hal"
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
)

var mappingNames = []string{"auto", "primal", "factored", "dual"}

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
}

func (o TNGDOptions) withDefaults() TNGDOptions {
	if o.LR == 0 {
		o.LR = 0.01
	}
	if o.T == 0 {
		o.T = 50
	}
	if o.Window == 0 {
		o.Window = 1
	}
	if o.Headroom == 0 {
		o.Headroom = 0.5
	}
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
type TNGD struct {
	board   hal.Board
	info    hal.Info
	opts    TNGDOptions
	mapping Mapping

	started bool
	beta    float64   // volts per gradient unit
	alpha   float64   // coupling scale of the primal and dual mappings
	prev    []float64 // last estimate: g̃ (primal, factored) or y (dual), problem units
	period  time.Duration
	buf     []float64

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
	info := b.Info()
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
	default:
		return nil, fmt.Errorf("tngd: %v: %w", mp, hal.ErrInvalid)
	}
	if opts.Window > 1 && time.Duration(opts.Window)*info.MinSamplePeriod > tauDuration(info, opts.T) {
		return nil, fmt.Errorf("tngd: a window of %d samples at %v is longer than t = %gτ: %w", opts.Window, info.MinSamplePeriod, opts.T, hal.ErrInvalid)
	}
	return &TNGD{board: b, info: info, opts: opts, mapping: mp, alpha: 1, period: info.MinSamplePeriod}, nil
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

// boardTimer splits wall time into board calls and the rest (digital work)
// and reads the board clock when there is one.
type boardTimer struct {
	b       hal.Board
	inBoard time.Duration
	start   time.Time
	clock0  time.Duration
}

func newBoardTimer(b hal.Board) *boardTimer {
	t := &boardTimer{b: b, start: time.Now()}
	t.clock0, _ = hal.BoardTime(b)
	return t
}

func (t *boardTimer) call(f func() error) error {
	s := time.Now()
	err := f()
	t.inBoard += time.Since(s)
	return err
}

func (t *boardTimer) stats(st *StepStats) {
	st.Digital = time.Since(t.start) - t.inBoard
	if t.b.Info().Caps.Has(hal.CapSimulated) {
		st.SimWall = t.inBoard
	}
	if now, ok := hal.BoardTime(t.b); ok {
		st.BoardTime = now - t.clock0
	} else {
		st.BoardTime = t.inBoard
	}
}

// maxRescales bounds how often one step re-runs after a saturated read.
const maxRescales = 4

// Direction runs the board for one iteration and returns g̃ (for the dual
// mapping, the primal direction (g − Uᵀy)/λ recovered from the dual
// estimate y). It does not change the model.
func (o *TNGD) Direction(ctx context.Context, it *Iteration) (d []float64, st StepStats, err error) {
	tm := newBoardTimer(o.board)
	defer tm.stats(&st)
	g := it.Grad
	lam := it.Lambda
	k := o.info.Cells

	// The board keeps evolving on the previous A, b while the host works.
	if o.started && o.opts.Delay > 0 {
		if err := tm.call(func() error { return o.board.Run(ctx, tauDuration(o.info, o.opts.Delay/o.alpha)) }); err != nil {
			return nil, st, fmt.Errorf("tngd: delay: %w", err)
		}
	}

	var rhs []float64
	switch o.mapping {
	case MapFactored:
		f := it.Factorization()
		fb := o.board.(hal.Factored)
		if err := tm.call(func() error { return fb.SetFactoredCouplings(ctx, f) }); err != nil {
			return nil, st, fmt.Errorf("tngd: program factored couplings: %w", err)
		}
		rhs = pad(g, k)
	case MapPrimal:
		a := make([]float64, k*k)
		it.denseFInto(a, k)
		if err := o.programDense(ctx, tm, a, len(g)); err != nil {
			return nil, st, err
		}
		rhs = pad(g, k)
	case MapDual:
		gm := it.DualGram()
		m := gm.SymmetricDim()
		a := make([]float64, k*k)
		for i := range m {
			for j := range m {
				a[i*k+j] = gm.At(i, j)
			}
			a[i*k+i] += lam
		}
		if err := o.programDense(ctx, tm, a, m); err != nil {
			return nil, st, err
		}
		ug := make([]float64, m)
		it.U(ug, g)
		rhs = pad(ug, k)
	}

	warm := o.prev
	force := !o.started || o.forceNext
	o.forceNext = false
	if warm == nil {
		warm = make([]float64, k)
		if o.mapping != MapDual {
			copy(warm, g) // the first iteration starts from g: t = 0 is SGD
		}
	}
	if !o.started || o.beta == 0 {
		// Worst-case growth from the warm start: ‖(I − e^{−At})A⁻¹‖ ≤ min(t, 1/λ_min) with λ_min ≥ λ.
		o.beta = o.betaFor(math.Max(maxAbs(warm), maxAbs(rhs)*math.Min(o.opts.T, 1/lam)), maxAbs(rhs))
	}
	if lim := o.biasLimit(maxAbs(rhs)); o.beta > lim {
		// A larger gradient or a new coupling scale: shrink the scale so
		// the bias fits, and restate the warm start in the new units.
		o.beta = lim
		force = true
	}

	period := o.period
	total := tauDuration(o.info, o.opts.T/o.alpha)
	window := time.Duration(o.opts.Window) * period
	if total < window {
		return nil, st, fmt.Errorf("tngd: t = %gτ is %v on this board (coupling scale %.3g), shorter than %d sample period(s) of %v: %w",
			o.opts.T, total, o.alpha, o.opts.Window, period, hal.ErrOutOfRange)
	}
	buf := o.sampleBuf(o.opts.Window * k)
	var est []float64
	for attempt := 0; ; attempt++ {
		// Bias before a forced state: the board relaxes while the bias is
		// written, and the run should start from the warm start exactly.
		bias := scaled(rhs, o.alpha*o.beta)
		if err := tm.call(func() error { return o.board.SetBias(ctx, bias) }); err != nil {
			return nil, st, fmt.Errorf("tngd: bias: %w", err)
		}
		if force {
			x := scaled(warm, o.beta)
			if err := tm.call(func() error { return o.board.SetState(ctx, x) }); err != nil {
				return nil, st, fmt.Errorf("tngd: warm start: %w", err)
			}
		}
		if run := total - window; run > 0 {
			if err := tm.call(func() error { return o.board.Run(ctx, run) }); err != nil {
				return nil, st, fmt.Errorf("tngd: run %gτ: %w", o.opts.T, err)
			}
		}
		var n int
		err := tm.call(func() error {
			var err error
			n, err = o.board.Sample(ctx, period, buf)
			return err
		})
		if errors.Is(err, hal.ErrSaturated) && attempt < maxRescales {
			// Re-run this step from the warm start with a 4× smaller scale.
			o.beta /= 4
			force = true
			st.Rescales++
			continue
		}
		if err != nil {
			return nil, st, fmt.Errorf("tngd: read: %w", err)
		}
		est = make([]float64, k)
		peak := 0.0
		for r := range n {
			for i := range k {
				est[i] += buf[r*k+i]
				peak = math.Max(peak, math.Abs(buf[r*k+i]))
			}
		}
		for i := range est {
			est[i] /= float64(n) * o.beta
		}
		// Grow the scale when the state uses under a quarter of its
		// budget: the ADC's resolution is then wasted. The next step
		// re-forces the state at the new scale.
		fs := math.Min(math.Abs(o.info.ADC.Min), math.Abs(o.info.ADC.Max))
		if peak < o.opts.Headroom*fs/4 {
			if nb := math.Min(2*o.beta, o.biasLimit(maxAbs(rhs))); nb > o.beta {
				o.beta = nb
				o.forceNext = true
			}
		}
		break
	}
	o.started = true
	o.prev = est
	if o.mapping == MapDual {
		m := it.DualGram().SymmetricDim()
		d := make([]float64, len(g))
		it.UT(d, est[:m])
		for i := range d {
			d[i] = (g[i] - d[i]) / lam
		}
		return d, st, nil
	}
	return est[:len(g)], st, nil
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

// programDense scales the leading n × n block of the k × k matrix a into the
// coupling range (α), pads the rest with the identity and programs it.
func (o *TNGD) programDense(ctx context.Context, tm *boardTimer, a []float64, n int) error {
	k := o.info.Cells
	peak := 0.0
	for i := range n {
		for j := range n {
			peak = math.Max(peak, math.Abs(a[i*k+j]))
		}
	}
	cmax := math.Min(math.Abs(o.info.Coupling.Min), o.info.Coupling.Max)
	o.alpha = 0.95 * cmax / peak
	prog := make([]float64, k*k)
	for i := range k {
		if i >= n {
			prog[i*k+i] = 1
			continue
		}
		for j := range n {
			prog[i*k+j] = o.alpha * a[i*k+j]
		}
	}
	if o.info.Topology == hal.Symmetric {
		for i := range n {
			for j := range i {
				v := 0.5 * (prog[i*k+j] + prog[j*k+i])
				prog[i*k+j], prog[j*k+i] = v, v
			}
		}
	}
	if err := tm.call(func() error { return o.board.SetCouplings(ctx, prog) }); err != nil {
		return fmt.Errorf("tngd: program couplings: %w", err)
	}
	return nil
}

func pad(v []float64, k int) []float64 {
	out := make([]float64, k)
	copy(out, v)
	return out
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// scaled returns s·v. Values are not clipped: the caller chose s so they fit,
// and the board refuses (with a *hal.RangeError) anything that does not.
func scaled(v []float64, s float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = s * x
	}
	return out
}

func (o *TNGD) sampleBuf(n int) []float64 {
	if cap(o.buf) < n {
		o.buf = make([]float64, n)
	}
	return o.buf[:n]
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
