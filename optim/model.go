package optim

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/spukit/spukit/ggn"
)

// Errors of the model, its own rather than the board contract's (package
// hal): callers branch on them with errors.Is.
var (
	// ErrModel: a model description is malformed (layer sizes, activation).
	ErrModel = errors.New("invalid model")
	// ErrData: inputs or labels do not fit the model (a batch or input of
	// the wrong shape, a label outside the classes).
	ErrData = errors.New("data do not fit the model")
)

// Activation is a hidden-layer nonlinearity.
type Activation int

const (
	// Tanh is tanh(z).
	Tanh Activation = iota
	// ReLU is max(z, 0), with derivative 0 at z = 0.
	ReLU
)

// String returns "tanh" or "relu".
func (a Activation) String() string {
	if a == ReLU {
		return "relu"
	}
	return "tanh"
}

// ParseActivation is the inverse of Activation.String.
func ParseActivation(s string) (Activation, error) {
	switch strings.ToLower(s) {
	case "tanh":
		return Tanh, nil
	case "relu":
		return ReLU, nil
	}
	return 0, fmt.Errorf("activation %q: want tanh or relu: %w", s, ErrModel)
}

// DefaultSizes returns the paper's MNIST network, 784-32-10 (N = 25,450).
func DefaultSizes() []int { return []int{784, 32, 10} }

// MLP is a multilayer perceptron with linear logits. With several outputs
// the loss is softmax cross-entropy (labels 0..outputs−1); with one output
// it is the logistic loss (sigmoid + binary cross-entropy, labels 0/1).
//
// Parameters are one flat vector θ. Layer l (inputs In_l, outputs Out_l)
// owns θ[Offset(l) : Offset(l)+Out_l·(In_l+1)], its weights W_l as an
// Out_l × (In_l+1) row-major matrix whose last column is the bias: each
// layer's input is augmented with a constant 1. This is the column layout
// of hal.JacobianBlock (Col = Offset(l), Out = Out_l, In = In_l+1), so the
// blocks of the logit Jacobian index θ directly.
//
// An MLP is not safe for concurrent use while it is being updated.
type MLP struct {
	Sizes []int // layer widths, inputs first, outputs last; do not modify
	Act   Activation
	// Init is how the parameters were drawn (recorded in checkpoints).
	Init  Init
	theta []float64
	off   []int
}

// NewMLP returns an MLP with the given widths (at least inputs and
// outputs), initialised with InitHe: weights from N(0, gain/fan-in) with a
// PCG seeded by seed (gain 1 for tanh — LeCun — and 2 for ReLU — He);
// biases are zero.
func NewMLP(sizes []int, act Activation, seed uint64) (*MLP, error) {
	return NewMLPInit(sizes, act, InitHe, seed)
}

// NewMLPInit returns an MLP with the given widths whose parameters are
// drawn as init says, with a PCG seeded by seed.
func NewMLPInit(sizes []int, act Activation, init Init, seed uint64) (*MLP, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("mlp sizes %v: want at least inputs and outputs: %w", sizes, ErrModel)
	}
	for i, s := range sizes {
		if s < 1 {
			return nil, fmt.Errorf("mlp sizes %v: layer %d has width %d, want ≥ 1: %w", sizes, i, s, ErrModel)
		}
	}
	if act != Tanh && act != ReLU {
		return nil, fmt.Errorf("mlp activation %d: %w", int(act), ErrModel)
	}
	if init < 0 || int(init) >= len(InitNames) {
		return nil, fmt.Errorf("mlp initialisation %d: want one of %s: %w", int(init), strings.Join(InitNames, ", "), ErrModel)
	}
	m := &MLP{Sizes: append([]int(nil), sizes...), Act: act, Init: init}
	n := 0
	for l := range len(sizes) - 1 {
		m.off = append(m.off, n)
		n += sizes[l+1] * (sizes[l] + 1)
	}
	m.off = append(m.off, n)
	m.theta = make([]float64, n)
	m.initialise(init, seed)
	return m, nil
}

// Clone returns an independent copy of m.
func (m *MLP) Clone() *MLP {
	return &MLP{
		Sizes: append([]int(nil), m.Sizes...),
		Act:   m.Act,
		Init:  m.Init,
		theta: append([]float64(nil), m.theta...),
		off:   append([]int(nil), m.off...),
	}
}

// Layers returns the number of weight layers.
func (m *MLP) Layers() int { return len(m.Sizes) - 1 }

// NumParams returns N, the length of θ.
func (m *MLP) NumParams() int { return len(m.theta) }

// Params returns θ itself (not a copy): optimisers update it in place.
func (m *MLP) Params() []float64 { return m.theta }

// Offset returns the index in θ of layer l's first weight.
func (m *MLP) Offset(l int) int { return m.off[l] }

// W returns layer l's weights, Out × (In+1) row-major, aliasing θ.
func (m *MLP) W(l int) []float64 { return m.theta[m.off[l]:m.off[l+1]] }

// Inputs returns the input width.
func (m *MLP) Inputs() int { return m.Sizes[0] }

// Outputs returns the number of logits.
func (m *MLP) Outputs() int { return m.Sizes[len(m.Sizes)-1] }

// Batch is a minibatch: X is Size × Inputs row-major, Y the labels.
type Batch struct {
	X []float64
	Y []int
}

// Size returns the number of examples.
func (b Batch) Size() int { return len(b.Y) }

// Slice returns examples [i, j) of b, aliasing its storage.
func (b Batch) Slice(i, j, inputs int) Batch {
	return Batch{X: b.X[i*inputs : j*inputs], Y: b.Y[i:j]}
}

// pass holds one forward pass over a batch: everything backprop, the
// Jacobian and H need, so they stay consistent with the parameters of the
// pass even after an optimiser has updated θ.
type pass struct {
	b      int
	x      []float64     // the batch's inputs, b × Inputs
	in     [][]float64   // per layer: b × (In+1) augmented inputs (the first nil until input(0) makes it)
	dact   [][]float64   // per hidden layer l ≥ 1: b × In_l, act'(z) of the previous layer
	w      [][]float64   // per layer l ≥ 1: a copy of W_l at the time of the pass
	sp     []*ggn.Sparse // per layer: the nonzeros of in[l] when they are few (else nil)
	logits []float64     // b × Out
	prob   []float64     // b × Out: softmax, or the sigmoid for one output
	loss   float64       // mean over the batch
	right  int           // correctly classified examples
}

func (m *MLP) check(bt Batch) error {
	if bt.Size() == 0 || len(bt.X) != bt.Size()*m.Inputs() {
		return fmt.Errorf("batch: %d labels and %d inputs, want %d inputs per example: %w",
			bt.Size(), len(bt.X), m.Inputs(), ErrData)
	}
	classes := max(m.Outputs(), 2)
	for i, y := range bt.Y {
		if y < 0 || y >= classes {
			return fmt.Errorf("label %d = %d, want 0..%d: %w", i, y, classes-1, ErrData)
		}
	}
	return nil
}

func general(rows, cols, stride int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: stride, Data: data}
}

// forward runs the network on bt. With keep it also records what the
// backward pass and the curvature need.
func (m *MLP) forward(bt Batch, keep bool) *pass {
	b, L := bt.Size(), m.Layers()
	ps := &pass{b: b, x: bt.X}
	// The first layer's input stays implicit while it is sparse: the
	// products use its nonzeros, and pass.input makes the augmented copy
	// only for the curvature.
	var aug []float64
	sp := firstInput(bt.X, b, m.Inputs(), keep || ggn.GemmSerial(b, m.Sizes[1]))
	if sp == nil {
		aug = ps.input(0)
	}
	for l := range L {
		in, out := m.Sizes[l], m.Sizes[l+1]
		if l > 0 {
			sp = nil
			if keep || ggn.GemmSerial(b, out) { // backward uses it; or the forward product can
				sp = sparseInput(aug, b, in+1)
			}
		}
		ps.in = append(ps.in, aug)
		ps.sp = append(ps.sp, sp)
		if keep && l > 0 {
			ps.w = append(ps.w, append([]float64(nil), m.W(l)...))
		}
		if l == L-1 {
			ps.logits = make([]float64, b*out)
			ps.mulInput(l, ps.logits, out, sp, m.W(l), in+1, out)
			break
		}
		// The pre-activations go straight into the next layer's augmented input.
		next := make([]float64, b*(out+1))
		ps.mulInput(l, next, out+1, sp, m.W(l), in+1, out)
		var d []float64
		if keep {
			d = make([]float64, b*out)
		}
		for s := range b {
			z := next[s*(out+1) : s*(out+1)+out]
			if m.Act == ReLU {
				for i, v := range z {
					if v > 0 {
						if keep {
							d[s*out+i] = 1
						}
					} else {
						z[i] = 0
					}
				}
			} else {
				for i, v := range z {
					t := math.Tanh(v)
					z[i] = t
					if keep {
						d[s*out+i] = 1 - t*t
					}
				}
			}
			next[s*(out+1)+out] = 1
		}
		ps.dact = append(ps.dact, d)
		aug = next
	}
	m.loss(ps, bt)
	if !keep {
		ps.in = nil
		ps.releaseSparse()
	}
	return ps
}

// firstInput returns the nonzeros of the first layer's augmented input
// (x with a column of ones) when they are few and can be used, else nil.
func firstInput(x []float64, rows, cols int, use bool) *ggn.Sparse {
	if !use {
		return nil
	}
	sp := sparsePool.Get().(*ggn.Sparse) // built before the density is known: pixels are sparse
	sp.SetOnes(x, rows, cols)
	if sp.Density() >= ggn.SparseDensity {
		sparsePool.Put(sp)
		return nil
	}
	return sp
}

// sparsePool recycles the sparse inputs between passes: the forward and
// backward products are their only users, and fresh ones cost about a
// quarter megabyte of garbage per step at the paper's MLP.
var sparsePool = sync.Pool{New: func() any { return new(ggn.Sparse) }}

// releaseSparse returns the pass's sparse inputs to the pool; the pass
// needs them no more (the curvature uses the dense inputs).
func (ps *pass) releaseSparse() {
	for _, sp := range ps.sp {
		if sp != nil {
			sparsePool.Put(sp)
		}
	}
	ps.sp = nil
}

// input returns layer l's augmented input (b × (In+1)), making the first
// layer's from the batch when the forward pass did not need it.
func (ps *pass) input(l int) []float64 {
	if l < len(ps.in) && ps.in[l] != nil {
		return ps.in[l]
	}
	in0 := len(ps.x) / ps.b
	aug := make([]float64, ps.b*(in0+1))
	for s := range ps.b {
		copy(aug[s*(in0+1):], ps.x[s*in0:(s+1)*in0])
		aug[s*(in0+1)+in0] = 1
	}
	if l < len(ps.in) {
		ps.in[l] = aug
	}
	return aug
}

// sparseInput returns the nonzeros of a layer's input (rows × cols) when
// they are few enough for the sparse products to be faster, else nil.
// Only the first layer's pixels qualify in practice; the sparse products
// give the dense ones' results bit for bit (ggn.Sparse), so the choice
// changes only the speed.
func sparseInput(a []float64, rows, cols int) *ggn.Sparse {
	if float64(ggn.Nonzeros(a)) >= ggn.SparseDensity*float64(len(a)) {
		return nil
	}
	sp := sparsePool.Get().(*ggn.Sparse)
	sp.Set(a, rows, cols)
	return sp
}

// mulInput sets z (b × out, row stride ldz) to A·Wᵀ for layer l's input A
// (b × cols, its nonzeros sp or nil) and the weights w (out × cols): by
// the sparse product when there is one and gonum would multiply serially
// (ggn.GemmSerial: the same summation order), else by gonum.
func (ps *pass) mulInput(l int, z []float64, ldz int, sp *ggn.Sparse, w []float64, cols, out int) {
	if sp != nil && ggn.GemmSerial(ps.b, out) {
		sp.MulTrans(z, ldz, w, out)
		return
	}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, general(ps.b, cols, cols, ps.input(l)), general(out, cols, cols, w), 0,
		general(ps.b, out, ldz, z))
}

// loss fills ps.prob, ps.loss and ps.right from ps.logits.
func (m *MLP) loss(ps *pass, bt Batch) {
	k := m.Outputs()
	ps.prob = make([]float64, ps.b*k)
	for s := range ps.b {
		z := ps.logits[s*k : (s+1)*k]
		p := ps.prob[s*k : (s+1)*k]
		y := bt.Y[s]
		if k == 1 {
			p[0] = sigmoid(z[0])
			// log(1+e^{−z}) for y = 1, log(1+e^{z}) for y = 0, stably.
			sz := z[0]
			if y == 0 {
				sz = -sz
			}
			ps.loss += softplus(-sz)
			if (z[0] > 0) == (y == 1) {
				ps.right++
			}
			continue
		}
		// Softmax with the maximum subtracted: no exponent exceeds 0.
		mx, arg := z[0], 0
		for o, v := range z {
			if v > mx {
				mx, arg = v, o
			}
		}
		sum := 0.0
		for o, v := range z {
			p[o] = math.Exp(v - mx)
			sum += p[o]
		}
		for o := range p {
			p[o] /= sum
		}
		// −log p_y = log Σ e^{z} − z_y.
		ps.loss += math.Log(sum) + mx - z[y]
		if arg == y {
			ps.right++
		}
	}
	ps.loss /= float64(ps.b)
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// evalChunk bounds the memory of Evaluate on large sets.
const evalChunk = 1024

// Evaluate returns the mean loss and the accuracy of the model on bt,
// in chunks so that a whole test set needs little memory.
func (m *MLP) Evaluate(bt Batch) (loss, accuracy float64, err error) {
	if err := m.check(bt); err != nil {
		return 0, 0, err
	}
	right := 0
	for i := 0; i < bt.Size(); i += evalChunk {
		j := min(i+evalChunk, bt.Size())
		ps := m.forward(bt.Slice(i, j, m.Inputs()), false)
		loss += ps.loss * float64(j-i)
		right += ps.right
	}
	n := float64(bt.Size())
	return loss / n, float64(right) / n, nil
}

// Logits returns the network's outputs for the inputs x (n × Inputs,
// row-major) as an n × Outputs row-major matrix.
func (m *MLP) Logits(x []float64) ([]float64, error) {
	if len(x) == 0 || len(x)%m.Inputs() != 0 {
		return nil, fmt.Errorf("logits: %d inputs, want a multiple of %d: %w", len(x), m.Inputs(), ErrData)
	}
	n := len(x) / m.Inputs()
	out := make([]float64, 0, n*m.Outputs())
	for i := 0; i < n; i += evalChunk {
		j := min(i+evalChunk, n)
		bt := Batch{X: x[i*m.Inputs() : j*m.Inputs()], Y: make([]int, j-i)}
		out = append(out, m.forward(bt, false).logits...)
	}
	return out, nil
}

// outputDelta returns ∂(mean loss)/∂logits: (p − onehot(y))/b, or
// (σ(z) − y)/b for one output.
func (m *MLP) outputDelta(ps *pass, bt Batch) []float64 {
	b, k := ps.b, m.Outputs()
	delta := make([]float64, b*k)
	inv := 1 / float64(b)
	for s := range b {
		for o := range k {
			t := 0.0
			if (k == 1 && bt.Y[s] == 1) || (k > 1 && bt.Y[s] == o) {
				t = 1
			}
			delta[s*k+o] = (ps.prob[s*k+o] - t) * inv
		}
	}
	return delta
}

// backward returns the gradient of the mean loss for a kept forward pass:
// for layer l, ∇W_l = Δ_lᵀ A_l (Δ_l the b × Out_l errors, A_l the b × (In_l+1)
// augmented inputs) and Δ_{l−1} = (Δ_l W_l[:, :In_l]) ⊙ act'(z_{l−1}).
func (m *MLP) backward(ps *pass, bt Batch) []float64 {
	b := ps.b
	grad := make([]float64, m.NumParams())
	delta := m.outputDelta(ps, bt)
	for l := m.Layers() - 1; l >= 0; l-- {
		in, out := m.Sizes[l], m.Sizes[l+1]
		d := general(b, out, out, delta)
		if sp := ps.sp[l]; sp != nil {
			sp.TransMul(grad[m.off[l]:m.off[l+1]], delta, out) // gonum's Dgemm bit for bit
		} else {
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, d, general(b, in+1, in+1, ps.input(l)),
				0, general(out, in+1, in+1, grad[m.off[l]:m.off[l+1]]))
		}
		if l == 0 {
			break
		}
		prev := make([]float64, b*in)
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, d, general(out, in, in+1, ps.w[l-1]),
			0, general(b, in, in, prev))
		for i, v := range ps.dact[l-1] {
			prev[i] *= v
		}
		delta = prev
	}
	return grad
}

// dot is a plain loop, not floats.Dot: its summation order is part of
// every seeded result (gonum's unrolled kernel sums in another order).
func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}
