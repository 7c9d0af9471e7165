package trainer

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// Optimizer updates a model's parameters from one Iteration. All
// optimisers, digital and board-backed, share it, so the training loop is
// the same code on a simulator and on hardware.
type Optimizer interface {
	// Name is the flag spelling ("sgd", "adam", "tngd", …).
	Name() string
	// Step updates it.Model's parameters in place.
	Step(ctx context.Context, it *Iteration) (StepStats, error)
}

// Stateful optimisers carry state across steps (momentum, moments, the
// board's warm start) that a checkpoint must save for a bit-identical resume.
type Stateful interface {
	State() []float64
	SetState([]float64) error
}

// StepStats reports what one step cost.
type StepStats struct {
	// Digital is host wall time spent outside board calls.
	Digital time.Duration
	// BoardTime is the board time the step used (hal.Clock), or the wall
	// time spent in board calls when the board keeps no clock.
	BoardTime time.Duration
	// Iterations counts inner iterations (CG steps), when any.
	Iterations int
	// Rescales counts re-runs after a saturated board read.
	Rescales int
}

func since(t time.Time) StepStats { return StepStats{Digital: time.Since(t)} }

func update(theta, d []float64, lr float64) {
	for i, v := range d {
		theta[i] -= lr * v
	}
}

// SGD is stochastic gradient descent with optional heavy-ball momentum:
// v ← μv + g, θ ← θ − ηv.
type SGD struct {
	LR, Momentum float64
	v            []float64
}

// Name returns "sgd".
func (o *SGD) Name() string { return "sgd" }

// Step implements Optimizer.
func (o *SGD) Step(_ context.Context, it *Iteration) (StepStats, error) {
	t := time.Now()
	if o.v == nil {
		o.v = make([]float64, len(it.Grad))
	}
	for i, g := range it.Grad {
		o.v[i] = o.Momentum*o.v[i] + g
	}
	update(it.Model.Params(), o.v, o.LR)
	return since(t), nil
}

// State implements Stateful.
func (o *SGD) State() []float64 { return append([]float64(nil), o.v...) }

// SetState implements Stateful.
func (o *SGD) SetState(s []float64) error { o.v = append([]float64(nil), s...); return nil }

// Adam is Kingma & Ba's optimiser with bias correction.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	m, v                  []float64
	t                     int
}

// NewAdam returns Adam with the usual defaults (lr 1e-3, β = (0.9, 0.999),
// ε = 1e-8).
func NewAdam(lr float64) *Adam { return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }

// Name returns "adam".
func (o *Adam) Name() string { return "adam" }

// Step implements Optimizer, with it.Grad as the gradient.
func (o *Adam) Step(_ context.Context, it *Iteration) (StepStats, error) {
	t := time.Now()
	if o.m == nil {
		o.m = make([]float64, len(it.Grad))
		o.v = make([]float64, len(it.Grad))
	}
	o.t++
	c1 := 1 - math.Pow(o.Beta1, float64(o.t))
	c2 := 1 - math.Pow(o.Beta2, float64(o.t))
	theta := it.Model.Params()
	for i, g := range it.Grad {
		o.m[i] = o.Beta1*o.m[i] + (1-o.Beta1)*g
		o.v[i] = o.Beta2*o.v[i] + (1-o.Beta2)*g*g
		theta[i] -= o.LR * (o.m[i] / c1) / (math.Sqrt(o.v[i]/c2) + o.Eps)
	}
	return since(t), nil
}

// State implements Stateful: t, then m, then v.
func (o *Adam) State() []float64 {
	s := []float64{float64(o.t)}
	s = append(s, o.m...)
	return append(s, o.v...)
}

// SetState implements Stateful.
func (o *Adam) SetState(s []float64) error {
	if len(s) == 0 || len(s)%2 != 1 {
		return fmt.Errorf("adam state: %d values, want 1 + 2N: %w", len(s), hal.ErrDimension)
	}
	n := (len(s) - 1) / 2
	o.t = int(s[0])
	o.m = append([]float64(nil), s[1:1+n]...)
	o.v = append([]float64(nil), s[1+n:]...)
	return nil
}

// NGDWoodbury is exact natural gradient descent through the Woodbury
// identity: d = F⁻¹g = (g − Uᵀ(λI + G)⁻¹Ug)/λ, an m × m Cholesky solve
// (m = batch × outputs) instead of N × N. θ ← θ − ηd.
type NGDWoodbury struct{ LR float64 }

// Name returns "ngd-woodbury".
func (o *NGDWoodbury) Name() string { return "ngd-woodbury" }

// Step implements Optimizer.
func (o *NGDWoodbury) Step(_ context.Context, it *Iteration) (StepStats, error) {
	t := time.Now()
	d, err := WoodburyDirection(it)
	if err != nil {
		return since(t), err
	}
	update(it.Model.Params(), d, o.LR)
	return since(t), nil
}

// WoodburyDirection returns F⁻¹g exactly by the Woodbury identity.
func WoodburyDirection(it *Iteration) ([]float64, error) {
	g := it.DualGram()
	m := g.SymmetricDim()
	a := mat.NewSymDense(m, nil)
	a.CopySym(g)
	for i := range m {
		a.SetSym(i, i, a.At(i, i)+it.Lambda)
	}
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		return nil, fmt.Errorf("ngd-woodbury: λI + G is not positive definite (λ = %g): %w", it.Lambda, hal.ErrUnstable)
	}
	ug := make([]float64, m)
	it.U(ug, it.Grad)
	var y mat.VecDense
	if err := ch.SolveVecTo(&y, mat.NewVecDense(m, ug)); err != nil {
		return nil, fmt.Errorf("ngd-woodbury: %w", err)
	}
	return WoodburyBack(it, y.RawVector().Data), nil
}

// WoodburyBack maps a dual solution y of (λI + G) y = U g back to the
// primal direction d = (g − Uᵀy)/λ.
func WoodburyBack(it *Iteration, y []float64) []float64 {
	d := make([]float64, len(it.Grad))
	it.UT(d, y)
	for i, g := range it.Grad {
		d[i] = (g - d[i]) / it.Lambda
	}
	return d
}

// MaxDenseParams bounds NGD's dense N × N curvature.
const MaxDenseParams = 5000

// NGD is exact natural gradient descent with the dense N × N F and a
// Cholesky solve: only for small models (N ≤ MaxDenseParams).
type NGD struct{ LR float64 }

// Name returns "ngd".
func (o *NGD) Name() string { return "ngd" }

// Step implements Optimizer.
func (o *NGD) Step(_ context.Context, it *Iteration) (StepStats, error) {
	t := time.Now()
	d, err := DenseDirection(it)
	if err != nil {
		return since(t), err
	}
	update(it.Model.Params(), d, o.LR)
	return since(t), nil
}

// DenseDirection returns F⁻¹g with F formed densely (N ≤ MaxDenseParams).
func DenseDirection(it *Iteration) ([]float64, error) {
	n := len(it.Grad)
	if n > MaxDenseParams {
		return nil, fmt.Errorf("ngd: dense curvature for %d parameters exceeds %d; use ngd-woodbury or ngd-cg: %w", n, MaxDenseParams, hal.ErrUnsupported)
	}
	f := mat.NewSymDense(n, nil)
	e := make([]float64, n)
	col := make([]float64, n)
	for c := range n {
		clear(e)
		e[c] = 1
		it.FVec(col, e)
		for r := c; r < n; r++ {
			f.SetSym(c, r, col[r])
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(f) {
		return nil, fmt.Errorf("ngd: F is not positive definite: %w", hal.ErrUnstable)
	}
	var d mat.VecDense
	if err := ch.SolveVecTo(&d, mat.NewVecDense(n, append([]float64(nil), it.Grad...))); err != nil {
		return nil, fmt.Errorf("ngd: %w", err)
	}
	return d.RawVector().Data, nil
}

// NGDCG is natural gradient descent with F⁻¹g by conjugate gradients on
// matrix-free products F v, to relative residual Tol (default 1e-6) or
// MaxIter (default 100) iterations, started from zero.
type NGDCG struct {
	LR, Tol float64
	MaxIter int
}

// Name returns "ngd-cg".
func (o *NGDCG) Name() string { return "ngd-cg" }

// Step implements Optimizer.
func (o *NGDCG) Step(_ context.Context, it *Iteration) (StepStats, error) {
	t := time.Now()
	tol, maxIter := o.Tol, o.MaxIter
	if tol == 0 {
		tol = 1e-6
	}
	if maxIter == 0 {
		maxIter = 100
	}
	d, k := cg(it, tol, maxIter)
	update(it.Model.Params(), d, o.LR)
	st := since(t)
	st.Iterations = k
	return st, nil
}

func cg(it *Iteration, tol float64, maxIter int) ([]float64, int) {
	n := len(it.Grad)
	x := make([]float64, n)
	r := append([]float64(nil), it.Grad...)
	p := append([]float64(nil), r...)
	ap := make([]float64, n)
	rr := dot(r, r)
	stop := tol * tol * rr
	k := 0
	for ; k < maxIter && rr > stop; k++ {
		it.FVec(ap, p)
		alpha := rr / dot(p, ap)
		axpy(x, alpha, p)
		axpy(r, -alpha, ap)
		nr := dot(r, r)
		for i := range p {
			p[i] = r[i] + nr/rr*p[i]
		}
		rr = nr
	}
	return x, k
}
