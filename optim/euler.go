package optim

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spukit/spukit/hal"
)

// Director is an optimiser whose step is θ ← θ − η·d for a direction d it
// can return without stepping: the NGD variants, the Euler–Maruyama
// reference and the board-backed TNGD. Comparing directions (or feeding one
// to Adam, as TNGD-Adam does) needs nothing else.
type Director interface {
	Optimizer
	// Direction returns d for it without changing the model. Stateful
	// optimisers advance their state as Step would.
	Direction(ctx context.Context, it *Iteration) ([]float64, StepStats, error)
}

var (
	_ Director = (*NGD)(nil)
	_ Director = (*NGDCG)(nil)
	_ Director = (*NGDWoodbury)(nil)
	_ Director = (*TNGDEuler)(nil)
	_ Stateful = (*TNGDEuler)(nil)
	_ Stateful = (*SGD)(nil)
	_ Stateful = (*Adam)(nil)
)

// EulerOptions configure TNGDEuler. Times are in units of τ.
type EulerOptions struct {
	LR    float64 // step size η; default 0.01
	T     float64 // analog time per iteration; default 50
	Dt    float64 // Euler–Maruyama step δt; default 0.1
	Kappa float64 // noise κ₀ ≥ 0: each step adds N(0, 2κ₀·δt·I); default 0
	Seed  uint64  // noise seed; iteration K draws from PCG(Seed, K)
}

// The defaults both TNGD optimisers (the board's and the Euler reference)
// share: a zero option takes them.
const (
	defaultLR = 0.01
	defaultT  = 50
)

func (o EulerOptions) withDefaults() EulerOptions {
	o.LR = cmp.Or(o.LR, defaultLR)
	o.T = cmp.Or(o.T, defaultT)
	o.Dt = cmp.Or(o.Dt, 0.1)
	return o
}

// TNGDEuler is the TNGD paper's own simulation of the analog dynamics,
// kept as a reference to measure boards and the simulator against:
// Euler–Maruyama on
//
//	dg̃ = −(F g̃ − g) dt + N(0, 2κ₀ dt)
//
// with F = λI + (1/b)JᵀHJ applied matrix-free (Iteration.FVec, O(b·N) per
// step) or, without noise and when it is cheaper, in the dual space of
// G = UUᵀ (O(m²) per step; see dualRun), for analog time T in steps of δt, starting from the previous
// iteration's g̃ (the first iteration from g), then θ ← θ − η g̃. With κ₀ = 0
// and T → ∞ it is NGD, with T → 0 SGD. The scheme is stable only while
// δt·λ_max(F) < 2; beyond that g̃ grows geometrically and Step returns an
// error wrapping hal.ErrUnstable.
//
// When T is not a multiple of δt the last step is shorter. The noise of
// iteration K comes from PCG(Seed, K), so a run resumed from State at the
// same K is bit-identical. The analog time T is reported as BoardTime in
// units of 1 µs per τ (the paper's τ = RC = 1 µs), and the integration's
// wall time as SimWall: it stands in for the board, so it is not Digital.
type TNGDEuler struct {
	opts EulerOptions
	prev []float64
	mode eulerMode
}

// NewTNGDEuler validates opts and returns the reference optimiser.
func NewTNGDEuler(opts EulerOptions) (*TNGDEuler, error) {
	opts = opts.withDefaults()
	if !(opts.LR > 0) || !(opts.T > 0) || !(opts.Dt > 0) || !(opts.Kappa >= 0) ||
		math.IsInf(opts.LR+opts.T+opts.Dt+opts.Kappa, 0) {
		return nil, fmt.Errorf("tngd-em: lr = %g (> 0), t = %gτ (> 0), δt = %gτ (> 0), κ₀ = %g (≥ 0): %w",
			opts.LR, opts.T, opts.Dt, opts.Kappa, hal.ErrInvalid)
	}
	return &TNGDEuler{opts: opts}, nil
}

// Name returns "tngd-em".
func (o *TNGDEuler) Name() string { return "tngd-em" }

// Options returns the options in use, defaults filled in.
func (o *TNGDEuler) Options() EulerOptions { return o.opts }

// Step implements Optimizer: θ ← θ − η g̃.
func (o *TNGDEuler) Step(ctx context.Context, it *Iteration) (StepStats, error) {
	d, st, err := o.Direction(ctx, it)
	if err != nil {
		return st, err
	}
	t := time.Now()
	update(it.Model.Params(), d, o.opts.LR)
	st.Digital += time.Since(t)
	return st, nil
}

// emCheckEvery is how often (in steps) the integration checks for
// divergence and cancellation.
const emCheckEvery = 50

// Direction integrates the dynamics for one iteration and returns g̃ (a
// fresh slice). It becomes the next iteration's starting point.
func (o *TNGDEuler) Direction(ctx context.Context, it *Iteration) ([]float64, StepStats, error) {
	start := time.Now()
	var st StepStats
	if err := checkGrad("tngd-em", it); err != nil {
		return nil, since(start), err
	}
	// J and H are what a host computes for a board: Digital. The
	// integration stands in for the board: SimWall.
	it.Factorization()
	st.Digital = time.Since(start)
	start = time.Now()
	g := it.Grad
	n := len(g)
	x := make([]float64, n)
	if len(o.prev) == n {
		copy(x, o.prev)
	} else {
		copy(x, g)
	}
	steps := int(math.Ceil(o.opts.T/o.opts.Dt - 1e-9))
	steps = max(steps, 1)
	last := o.opts.T - float64(steps-1)*o.opts.Dt
	// While the scheme is stable (‖I − δtF‖ ≤ 1), ‖g̃‖ ≤ ‖g̃₀‖ +
	// min(t, 1/λ)‖g‖ plus the noise, about sqrt(2κ₀tN): a thousandfold
	// excess can only be the geometric growth of an unstable step.
	reach := o.opts.T
	if it.Lambda > 0 {
		reach = math.Min(reach, 1/it.Lambda)
	}
	bound := 1e3 * (math.Sqrt(dot(x, x)) + reach*math.Sqrt(dot(g, g)) +
		math.Sqrt(2*o.opts.Kappa*o.opts.T*float64(n)) + math.SmallestNonzeroFloat64)
	run := o.primalRun
	if o.useDual(it, steps) {
		run = o.dualRun
	}
	x, done, err := run(ctx, it, x, g, steps, last, bound)
	st.Iterations, st.SimWall = done, time.Since(start)
	if err != nil {
		return nil, st, err
	}
	o.prev = append(o.prev[:0], x...)
	st.BoardTime = time.Duration(math.Round(o.opts.T * float64(time.Microsecond)))
	return x, st, nil
}

// primalRun integrates the dynamics from x in place with the matrix-free
// F v, adding the noise when κ₀ > 0, and returns x and the steps taken.
func (o *TNGDEuler) primalRun(ctx context.Context, it *Iteration, x, g []float64, steps int, last, bound float64) ([]float64, int, error) {
	var r *rand.Rand
	if o.opts.Kappa > 0 {
		r = rand.New(rand.NewPCG(o.opts.Seed, uint64(it.K)))
	}
	fx := make([]float64, len(x))
	for k := range steps {
		h := o.opts.Dt
		if k == steps-1 {
			h = last
		}
		it.FVec(fx, x)
		if r == nil {
			for i := range x {
				x[i] += h * (g[i] - fx[i])
			}
		} else {
			sd := math.Sqrt(2 * o.opts.Kappa * h)
			for i := range x {
				x[i] += h*(g[i]-fx[i]) + sd*r.NormFloat64()
			}
		}
		if (k+1)%emCheckEvery == 0 || k == steps-1 {
			if err := ctx.Err(); err != nil {
				return nil, k + 1, fmt.Errorf("tngd-em: %w", err)
			}
			if nx := math.Sqrt(dot(x, x)); !(nx < bound) {
				return nil, k + 1, o.diverged(it, k+1, steps, nx)
			}
		}
	}
	return x, steps, nil
}

// diverged is the error of a run whose ‖g̃‖ = nx passed the bound after
// done of steps steps.
func (o *TNGDEuler) diverged(it *Iteration, done, steps int, nx float64) error {
	lmax := it.MaxEigenvalue(30)
	return fmt.Errorf("tngd-em: diverged after %d of %d steps (‖g̃‖ = %.3g): the step δt = %gτ exceeds 2/λ_max(F) (λ_max(F) ≥ %.4g by power iteration, so δt < %.3gτ is needed): %w",
		done, steps, nx, o.opts.Dt, lmax, 2/lmax, hal.ErrUnstable)
}

// State implements Stateful: the last g̃ (empty before the first step).
func (o *TNGDEuler) State() []float64 { return append([]float64(nil), o.prev...) }

// SetState implements Stateful.
func (o *TNGDEuler) SetState(s []float64) error {
	o.prev = append([]float64(nil), s...)
	return nil
}

// Direction implements Director: d = F⁻¹g (dense).
func (o *NGD) Direction(_ context.Context, it *Iteration) ([]float64, StepStats, error) {
	t := time.Now()
	d, err := DenseDirection(it)
	return d, since(t), err
}

// Direction implements Director: d = F⁻¹g (Woodbury).
func (o *NGDWoodbury) Direction(_ context.Context, it *Iteration) ([]float64, StepStats, error) {
	t := time.Now()
	d, err := WoodburyDirection(it)
	return d, since(t), err
}

// Direction implements Director: d ≈ F⁻¹g (CG).
func (o *NGDCG) Direction(_ context.Context, it *Iteration) ([]float64, StepStats, error) {
	t := time.Now()
	if err := checkGrad("ngd-cg", it); err != nil {
		return nil, since(t), err
	}
	tol, maxIter := o.Tol, o.MaxIter
	if tol == 0 {
		tol = 1e-6
	}
	if maxIter == 0 {
		maxIter = 100
	}
	d, k, res := cg(it, tol, maxIter)
	st := since(t)
	st.Iterations, st.Residual = k, res
	if !isFinite(d) {
		return nil, st, fmt.Errorf("ngd-cg: non-finite direction after %d iterations (λ = %g): %w", k, it.Lambda, hal.ErrUnstable)
	}
	return d, st, nil
}
