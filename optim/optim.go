package optim

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
)

// Optimizer updates a model's parameters from one Iteration. All
// optimisers, digital and board-backed, share it, so the training loop is
// the same code on a simulator and on hardware.
type Optimizer interface {
	// Name is the flag spelling ("sgd", "adam", "ngd", "ngd-cg",
	// "ngd-woodbury", "tngd", "tngd-adam", "tngd-em").
	Name() string
	// Step updates it.Model's parameters in place, θ ← θ − η·d for the
	// optimiser's direction d, and reports what the step cost. On error
	// the parameters are unchanged.
	Step(ctx context.Context, it *Iteration) (StepStats, error)
}

// Stateful optimisers carry state across steps (momentum, moments, the
// warm start of the analog dynamics) that a checkpoint must save for a
// bit-identical resume. State returns a copy; SetState restores it (a nil
// or empty state means "fresh"). The values are plain float64s: store them
// bit-exactly (binary, or decimal with enough digits — strconv 'g', −1).
type Stateful interface {
	State() []float64
	SetState([]float64) error
}

// StepStats reports what one step cost.
type StepStats struct {
	// Digital is host wall time spent outside board calls.
	Digital time.Duration
	// BoardTime is the board time the step used (hal.Clock), or the wall
	// time spent in board calls when the board keeps no clock. Zero for the
	// digital optimisers.
	BoardTime time.Duration
	// SimWall is host wall time spent standing in for analog hardware:
	// the Euler–Maruyama integration of TNGDEuler, or board calls to a
	// simulator. Digital + SimWall is the step's wall time.
	SimWall time.Duration
	// Iterations counts inner iterations: CG steps, Euler–Maruyama steps.
	Iterations int
	// Residual is the final relative residual ‖F d − g‖/‖g‖ of NGD-CG.
	Residual float64
	// Rescales counts re-runs after a saturated board read.
	Rescales int
}

func since(t time.Time) StepStats { return StepStats{Digital: time.Since(t)} }

func update(theta, d []float64, lr float64) {
	for i, v := range d {
		theta[i] -= lr * v
	}
}

// stepAlong is θ ← θ − lr·d for the direction of o.
func stepAlong(ctx context.Context, name string, lr float64, o Director, it *Iteration) (StepStats, error) {
	if err := checkLR(name, lr); err != nil {
		return StepStats{}, err
	}
	d, st, err := o.Direction(ctx, it)
	if err != nil {
		return st, err
	}
	t := time.Now()
	update(it.Model.Params(), d, lr)
	st.Digital += time.Since(t)
	return st, nil
}

func checkLR(name string, lr float64) error {
	if !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("%s: learning rate %g, want finite > 0: %w", name, lr, hal.ErrInvalid)
	}
	return nil
}

func checkGrad(name string, it *Iteration) error {
	if len(it.Grad) != it.Model.NumParams() {
		return fmt.Errorf("%s: gradient has %d entries, model %d parameters: %w", name, len(it.Grad), it.Model.NumParams(), hal.ErrDimension)
	}
	return nil
}

// SGD is stochastic gradient descent with optional heavy-ball momentum:
// v ← μv + g, θ ← θ − ηv (μ = 0: plain SGD).
type SGD struct {
	LR, Momentum float64
	v            []float64
}

// Name returns "sgd".
func (o *SGD) Name() string { return "sgd" }

// Step implements Optimizer.
func (o *SGD) Step(_ context.Context, it *Iteration) (StepStats, error) {
	t := time.Now()
	if err := checkLR("sgd", o.LR); err != nil {
		return since(t), err
	}
	if err := checkGrad("sgd", it); err != nil {
		return since(t), err
	}
	if len(o.v) != len(it.Grad) {
		o.v = make([]float64, len(it.Grad))
	}
	for i, g := range it.Grad {
		o.v[i] = o.Momentum*o.v[i] + g
	}
	update(it.Model.Params(), o.v, o.LR)
	return since(t), nil
}

// State implements Stateful: the velocity v.
func (o *SGD) State() []float64 { return append([]float64(nil), o.v...) }

// SetState implements Stateful.
func (o *SGD) SetState(s []float64) error {
	o.v = nil
	if len(s) > 0 {
		o.v = append([]float64(nil), s...)
	}
	return nil
}

// Adam is Kingma & Ba's optimiser with bias correction:
//
//	m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
//	θ ← θ − η·m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
//
// Zero fields are taken literally (β = (0, 0) is the paper's TNGD-Adam,
// an element-wise η·g/(|g| + ε)); NewAdam fills in the usual defaults. An
// element with √v̂ + ε = 0 (zero gradient history and ε = 0) is left alone.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	m, v                  []float64
	t                     int
}

// NewAdam returns Adam with the usual defaults: β = (0.9, 0.999),
// ε = 1e-8, and lr = 1e-3 when lr is 0.
func NewAdam(lr float64) *Adam {
	if lr == 0 {
		lr = 1e-3
	}
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Name returns "adam".
func (o *Adam) Name() string { return "adam" }

// Step implements Optimizer, with it.Grad as the gradient.
func (o *Adam) Step(_ context.Context, it *Iteration) (StepStats, error) {
	t := time.Now()
	if err := checkLR("adam", o.LR); err != nil {
		return since(t), err
	}
	if err := checkGrad("adam", it); err != nil {
		return since(t), err
	}
	if !(o.Beta1 >= 0 && o.Beta1 < 1 && o.Beta2 >= 0 && o.Beta2 < 1 && o.Eps >= 0) {
		return since(t), fmt.Errorf("adam: β = (%g, %g), ε = %g: want β in [0, 1), ε ≥ 0: %w", o.Beta1, o.Beta2, o.Eps, hal.ErrInvalid)
	}
	if len(o.m) != len(it.Grad) {
		o.m = make([]float64, len(it.Grad))
		o.v = make([]float64, len(it.Grad))
		o.t = 0
	}
	o.t++
	c1 := 1 - math.Pow(o.Beta1, float64(o.t))
	c2 := 1 - math.Pow(o.Beta2, float64(o.t))
	// Locals and equal lengths let the compiler drop the bounds checks;
	// the arithmetic is unchanged.
	g := it.Grad
	theta, m, v := it.Model.Params()[:len(g)], o.m[:len(g)], o.v[:len(g)]
	b1, b2, lr, eps := o.Beta1, o.Beta2, o.LR, o.Eps
	for i, gi := range g {
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		if den := math.Sqrt(v[i]/c2) + eps; den > 0 {
			theta[i] -= lr * (m[i] / c1) / den
		}
	}
	return since(t), nil
}

// State implements Stateful: the step count t, then m, then v.
func (o *Adam) State() []float64 {
	if o.m == nil {
		return nil
	}
	s := make([]float64, 0, 1+2*len(o.m))
	s = append(s, float64(o.t))
	s = append(s, o.m...)
	return append(s, o.v...)
}

// SetState implements Stateful.
func (o *Adam) SetState(s []float64) error {
	if len(s) == 0 {
		o.m, o.v, o.t = nil, nil, 0
		return nil
	}
	if len(s)%2 != 1 || s[0] < 0 || s[0] != math.Trunc(s[0]) {
		return fmt.Errorf("adam state: %d values starting %g, want a step count and 2N moments: %w", len(s), s[0], hal.ErrDimension)
	}
	n := (len(s) - 1) / 2
	o.t = int(s[0])
	o.m = append([]float64(nil), s[1:1+n]...)
	o.v = append([]float64(nil), s[1+n:]...)
	return nil
}

// NGD is exact natural gradient descent with the dense N × N F (see
// Iteration.DenseF) and a Cholesky solve: d = F⁻¹g, θ ← θ − ηd. Only for
// small models: it refuses N > MaxDenseParams with hal.ErrUnsupported.
type NGD struct{ LR float64 }

// Name returns "ngd".
func (o *NGD) Name() string { return "ngd" }

// Step implements Optimizer.
func (o *NGD) Step(ctx context.Context, it *Iteration) (StepStats, error) {
	return stepAlong(ctx, "ngd", o.LR, o, it)
}

// DenseDirection returns F⁻¹g with F formed densely (N ≤ MaxDenseParams).
func DenseDirection(it *Iteration) ([]float64, error) {
	if err := checkGrad("ngd", it); err != nil {
		return nil, err
	}
	f, err := it.DenseF()
	if err != nil {
		return nil, fmt.Errorf("ngd: %w", err)
	}
	var ch mat.Cholesky
	if !ch.Factorize(f) {
		return nil, fmt.Errorf("ngd: F = λI + (1/b)JᵀHJ is not positive definite (λ = %g): %w", it.Lambda, hal.ErrUnstable)
	}
	n := len(it.Grad)
	var d mat.VecDense
	if err := ch.SolveVecTo(&d, mat.NewVecDense(n, append([]float64(nil), it.Grad...))); err != nil {
		return nil, fmt.Errorf("ngd: %w", err)
	}
	return d.RawVector().Data, nil
}

// NGDWoodbury is exact natural gradient descent through the Woodbury
// identity: with F = λI + UᵀU,
//
//	d = F⁻¹g = (g − Uᵀ(λI + G)⁻¹Ug)/λ,   G = UUᵀ (m × m),
//
// a Cholesky solve of order m = batch × outputs instead of N. θ ← θ − ηd.
type NGDWoodbury struct{ LR float64 }

// Name returns "ngd-woodbury".
func (o *NGDWoodbury) Name() string { return "ngd-woodbury" }

// Step implements Optimizer.
func (o *NGDWoodbury) Step(ctx context.Context, it *Iteration) (StepStats, error) {
	return stepAlong(ctx, "ngd-woodbury", o.LR, o, it)
}

// WoodburyDual returns the dual solution y of (λI + G) y = U g (length m),
// by Cholesky; WoodburyBack maps it to the NGD direction.
func WoodburyDual(it *Iteration) ([]float64, error) {
	if err := checkGrad("ngd-woodbury", it); err != nil {
		return nil, err
	}
	if !(it.Lambda > 0) {
		return nil, fmt.Errorf("ngd-woodbury: λ = %g, want > 0 (the dual back-map divides by λ): %w", it.Lambda, hal.ErrInvalid)
	}
	m := it.Rows()
	// λI + G (upper triangle), factorised in place by LAPACK without the
	// condition estimate mat.Cholesky would add: in a copy of a cached G,
	// else straight into the buffer (G itself is not kept then).
	buf, _ := wbPool.Get().(*[]float64)
	if buf == nil || cap(*buf) < m*m {
		buf = new([]float64)
		*buf = make([]float64, m*m)
	}
	a := blas64.Symmetric{Uplo: blas.Upper, N: m, Stride: m, Data: (*buf)[:m*m]}
	if it.gram != nil {
		g := it.gram.RawSymmetric()
		for i := range m {
			copy(a.Data[i*m+i:(i+1)*m], g.Data[i*g.Stride+i:i*g.Stride+m])
		}
	} else {
		var ws ggn.GramWork
		ggn.Gram(a.Data, it.UJacobian(), &ws)
	}
	for i := range m {
		a.Data[i*m+i] += it.Lambda
	}
	t, ok := lapack64.Potrf(a)
	if !ok {
		wbPool.Put(buf)
		return nil, fmt.Errorf("ngd-woodbury: λI + G is not positive definite (λ = %g): %w", it.Lambda, hal.ErrUnstable)
	}
	ug := make([]float64, m)
	it.U(ug, it.Grad)
	potrs1(t.Data, m, ug)
	wbPool.Put(buf)
	return ug, nil
}

// wbPool keeps WoodburyDual's m × m buffer between steps: a fresh one
// costs its zeroing and page faults every iteration.
var wbPool sync.Pool

// potrs1 solves UᵀU x = b in place for one right-hand side, with U the
// upper Cholesky factor in u (m × m, row-major): bit for bit what
// lapack64.Potrs computes (two gonum Dtrsm, Left, Upper, NonUnit: Trans,
// then NoTrans), with the same operations in the same order, but without
// Dtrsm's call of the assembly AXPY for every single entry (m² calls).
func potrs1(u []float64, m int, b []float64) {
	for k := range m { // Uᵀ y = b, forward
		b[k] *= 1 / u[k*m+k]
		for ia, va := range u[k*m+k+1 : (k+1)*m] {
			if va != 0 {
				b[k+1+ia] += -va * b[k]
			}
		}
	}
	for i := m - 1; i >= 0; i-- { // U x = y, backward
		for ka, va := range u[i*m+i+1 : (i+1)*m] {
			if va != 0 {
				b[i] += -va * b[i+1+ka]
			}
		}
		b[i] *= 1 / u[i*m+i]
	}
}

// WoodburyDirection returns F⁻¹g exactly by the Woodbury identity.
func WoodburyDirection(it *Iteration) ([]float64, error) {
	y, err := WoodburyDual(it)
	if err != nil {
		return nil, err
	}
	return WoodburyBack(it, y), nil
}

// WoodburyBack maps a dual vector y (length m; exactly, the solution of
// (λI + G) y = U g) to the primal direction d = (g − Uᵀy)/λ (length N).
// With an approximate y — a board's dual estimate — the error of d is
// Uᵀ(y* − y)/λ. λ must be > 0.
func WoodburyBack(it *Iteration, y []float64) []float64 {
	d := make([]float64, len(it.Grad))
	it.UT(d, y)
	for i, g := range it.Grad {
		d[i] = (g - d[i]) / it.Lambda
	}
	return d
}

// NGDCG is natural gradient descent with d ≈ F⁻¹g by conjugate gradients
// on matrix-free products F v (Iteration.FVec), started from zero, until
// the relative residual ‖F d − g‖/‖g‖ ≤ Tol (default 1e-6) or MaxIter
// iterations (default 100). θ ← θ − ηd. StepStats reports the iterations
// and the residual reached.
type NGDCG struct {
	LR, Tol float64
	MaxIter int
}

// Name returns "ngd-cg".
func (o *NGDCG) Name() string { return "ngd-cg" }

// Step implements Optimizer.
func (o *NGDCG) Step(ctx context.Context, it *Iteration) (StepStats, error) {
	return stepAlong(ctx, "ngd-cg", o.LR, o, it)
}

// cg solves F x = g from x = 0 and returns x, the iterations and the
// relative residual (of the recursively updated residual vector).
func cg(it *Iteration, tol float64, maxIter int) ([]float64, int, float64) {
	n := len(it.Grad)
	x := make([]float64, n)
	r := append([]float64(nil), it.Grad...)
	p := append([]float64(nil), r...)
	ap := make([]float64, n)
	rr := dot(r, r)
	rr0 := rr
	if rr0 == 0 {
		return x, 0, 0
	}
	stop := tol * tol * rr0
	k := 0
	for ; k < maxIter && rr > stop; k++ {
		it.FVec(ap, p)
		alpha := rr / dot(p, ap)
		floats.AddScaled(x, alpha, p)
		floats.AddScaled(r, -alpha, ap)
		nr := dot(r, r)
		beta := nr / rr
		for i := range p {
			p[i] = r[i] + beta*p[i]
		}
		rr = nr
	}
	return x, k, math.Sqrt(rr / rr0)
}

func isFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
