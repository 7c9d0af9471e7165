package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/spukit/spukit/hal"
)

// Activation is a hidden-layer nonlinearity.
type Activation int

const (
	// Tanh is tanh(z).
	Tanh Activation = iota
	// ReLU is max(z, 0).
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
	return 0, fmt.Errorf("activation %q: want tanh or relu: %w", s, hal.ErrInvalid)
}

func (a Activation) apply(z float64) (f, df float64) {
	if a == ReLU {
		if z > 0 {
			return z, 1
		}
		return 0, 0
	}
	t := math.Tanh(z)
	return t, 1 - t*t
}

// MLP is a multilayer perceptron with linear logits. With one output the
// loss is the logistic loss (sigmoid + binary cross-entropy, labels 0/1);
// with several, softmax cross-entropy.
//
// Parameters are one flat vector θ. Layer l (inputs In_l, outputs Out_l)
// owns θ[Offset(l) : Offset(l)+Out_l·(In_l+1)], its weights W_l as an
// Out_l × (In_l+1) row-major matrix whose last column is the bias: each
// layer's input is augmented with a constant 1. This is the column layout
// of hal.JacobianBlock, so J's blocks index θ directly.
type MLP struct {
	Sizes []int // layer widths, inputs first, outputs last
	Act   Activation
	theta []float64
	off   []int
}

// NewMLP returns an MLP with the given widths (at least inputs and
// outputs), weights drawn from N(0, gain/fan-in) with a seeded PCG (gain 1
// for tanh, 2 for ReLU) and zero biases.
func NewMLP(sizes []int, act Activation, seed uint64) (*MLP, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("mlp sizes %v: want at least inputs and outputs: %w", sizes, hal.ErrInvalid)
	}
	for i, s := range sizes {
		if s < 1 {
			return nil, fmt.Errorf("mlp sizes %v: layer %d has width %d, want ≥ 1: %w", sizes, i, s, hal.ErrInvalid)
		}
	}
	m := &MLP{Sizes: append([]int(nil), sizes...), Act: act}
	n := 0
	for l := range len(sizes) - 1 {
		m.off = append(m.off, n)
		n += sizes[l+1] * (sizes[l] + 1)
	}
	m.off = append(m.off, n)
	m.theta = make([]float64, n)
	r := rand.New(rand.NewPCG(seed, 0x6d6c70))
	gain := 1.0
	if act == ReLU {
		gain = 2
	}
	for l := range m.Layers() {
		in, out := sizes[l], sizes[l+1]
		sd := math.Sqrt(gain / float64(in))
		w := m.W(l)
		for p := range out {
			for q := range in {
				w[p*(in+1)+q] = sd * r.NormFloat64()
			}
		}
	}
	return m, nil
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

// Inputs and Outputs return the first and last widths.
func (m *MLP) Inputs() int  { return m.Sizes[0] }
func (m *MLP) Outputs() int { return m.Sizes[len(m.Sizes)-1] }

// Batch is a minibatch: X is Size × Inputs row-major, Y the labels.
type Batch struct {
	X []float64
	Y []int
}

// Size returns the number of examples.
func (b Batch) Size() int { return len(b.Y) }

// pass holds one forward pass over a batch.
type pass struct {
	b      int
	in     [][]float64 // per layer: b × (In+1) augmented inputs
	dact   [][]float64 // per hidden layer l ≥ 1: b × Out_{l-1}: act'(z)
	logits []float64   // b × Out
	prob   []float64   // b × Out: softmax, or the sigmoid for one output
	loss   float64
	right  int
}

func (m *MLP) check(bt Batch) error {
	if bt.Size() == 0 || len(bt.X) != bt.Size()*m.Inputs() {
		return fmt.Errorf("batch: %d labels and %d inputs, want %d inputs per example: %w",
			bt.Size(), len(bt.X), m.Inputs(), hal.ErrDimension)
	}
	for i, y := range bt.Y {
		classes := max(m.Outputs(), 2)
		if y < 0 || y >= classes {
			return fmt.Errorf("label %d = %d, want 0..%d: %w", i, y, classes-1, hal.ErrInvalid)
		}
	}
	return nil
}

func (m *MLP) forward(bt Batch) *pass {
	b := bt.Size()
	ps := &pass{b: b}
	cur := bt.X
	width := m.Inputs()
	for l := range m.Layers() {
		in, out := m.Sizes[l], m.Sizes[l+1]
		aug := make([]float64, b*(in+1))
		for s := range b {
			copy(aug[s*(in+1):], cur[s*width:s*width+in])
			aug[s*(in+1)+in] = 1
		}
		ps.in = append(ps.in, aug)
		z := make([]float64, b*out)
		w := m.W(l)
		for s := range b {
			a := aug[s*(in+1) : (s+1)*(in+1)]
			for p := range out {
				z[s*out+p] = dot(w[p*(in+1):(p+1)*(in+1)], a)
			}
		}
		if l == m.Layers()-1 {
			ps.logits = z
			break
		}
		d := make([]float64, b*out)
		for i, v := range z {
			z[i], d[i] = m.Act.apply(v)
		}
		ps.dact = append(ps.dact, d)
		cur, width = z, out
	}
	k := m.Outputs()
	ps.prob = make([]float64, b*k)
	for s := range b {
		z := ps.logits[s*k : (s+1)*k]
		p := ps.prob[s*k : (s+1)*k]
		y := bt.Y[s]
		if k == 1 {
			p[0] = 1 / (1 + math.Exp(-z[0]))
			// log(1+e^{-z}) for y = 1, log(1+e^{z}) for y = 0, stably.
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
		mx := z[0]
		arg := 0
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
		ps.loss += math.Log(sum) + mx - z[y]
		if arg == y {
			ps.right++
		}
	}
	ps.loss /= float64(b)
	return ps
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// Evaluate returns the mean loss and the accuracy of the model on bt.
func (m *MLP) Evaluate(bt Batch) (loss, accuracy float64, err error) {
	if err := m.check(bt); err != nil {
		return 0, 0, err
	}
	ps := m.forward(bt)
	return ps.loss, float64(ps.right) / float64(bt.Size()), nil
}

// backward returns the mean-loss gradient for a forward pass.
func (m *MLP) backward(ps *pass, bt Batch) []float64 {
	b, k := ps.b, m.Outputs()
	grad := make([]float64, m.NumParams())
	delta := make([]float64, b*k) // dL/dz of the current layer
	for s := range b {
		for o := range k {
			t := 0.0
			if (k == 1 && bt.Y[s] == 1) || (k > 1 && bt.Y[s] == o) {
				t = 1
			}
			delta[s*k+o] = (ps.prob[s*k+o] - t) / float64(b)
		}
	}
	for l := m.Layers() - 1; l >= 0; l-- {
		in, out := m.Sizes[l], m.Sizes[l+1]
		g := grad[m.off[l]:m.off[l+1]]
		for s := range b {
			a := ps.in[l][s*(in+1) : (s+1)*(in+1)]
			for p := range out {
				d := delta[s*out+p]
				if d == 0 {
					continue
				}
				axpy(g[p*(in+1):(p+1)*(in+1)], d, a)
			}
		}
		if l == 0 {
			break
		}
		w := m.W(l)
		prev := make([]float64, b*in)
		for s := range b {
			for p := range out {
				d := delta[s*out+p]
				if d == 0 {
					continue
				}
				axpy(prev[s*in:(s+1)*in], d, w[p*(in+1):p*(in+1)+in])
			}
			da := ps.dact[l-1][s*in : (s+1)*in]
			for q := range in {
				prev[s*in+q] *= da[q]
			}
		}
		delta = prev
	}
	return grad
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpy(dst []float64, a float64, x []float64) {
	for i, v := range x {
		dst[i] += a * v
	}
}
