package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Init is how NewMLPInit draws the initial parameters. Each layer has
// fan_in = In (its inputs, without the bias column) and fan_out = Out.
type Init int

const (
	// InitHe draws weights from N(0, gain/fan_in), gain 2 for ReLU (He et
	// al. 2015) and 1 for tanh (LeCun's normal initialisation), with zero
	// biases. It is the default, and what every run before --init used.
	InitHe Init = iota
	// InitTorch is PyTorch's nn.Linear default: weights and biases both
	// from U(−1/√fan_in, 1/√fan_in). Linear.reset_parameters calls
	// kaiming_uniform_(weight, a=√5), whose bound gain·√(3/fan_in) with
	// gain = √(2/(1+a²)) = √(1/3) is 1/√fan_in, and draws the bias from
	// uniform_(−1/√fan_in, 1/√fan_in) (torch/nn/modules/linear.py and
	// torch/nn/init.py). The paper's experiments ran with it.
	InitTorch
	// InitGlorot is Glorot & Bengio's (2010) uniform initialisation, as
	// PyTorch's xavier_uniform_ with gain 1: weights from U(−a, a) with
	// a = √(6/(fan_in+fan_out)) (variance 2/(fan_in+fan_out)), zero biases.
	InitGlorot
)

// InitNames lists the names ParseInit accepts, the default first.
var InitNames = []string{"he", "torch", "glorot"}

// String returns "he", "torch" or "glorot".
func (i Init) String() string {
	if i >= 0 && int(i) < len(InitNames) {
		return InitNames[i]
	}
	return fmt.Sprintf("Init(%d)", int(i))
}

// ParseInit is the inverse of Init.String (case-insensitive).
func ParseInit(s string) (Init, error) {
	for i, n := range InitNames {
		if strings.EqualFold(s, n) {
			return Init(i), nil
		}
	}
	return 0, fmt.Errorf("initialisation %q: want one of %s: %w", s, strings.Join(InitNames, ", "), ErrModel)
}

// initialise draws m's parameters (all zero on entry) with a PCG seeded by
// seed. InitHe's draws are the stream NewMLP has always used, so seeded
// runs stay bit-identical.
func (m *MLP) initialise(init Init, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x6d6c70))
	for l := range m.Layers() {
		in, out := m.Sizes[l], m.Sizes[l+1]
		w := m.W(l)
		switch init {
		case InitTorch:
			// Weights first, then biases, as reset_parameters does.
			a := 1 / math.Sqrt(float64(in))
			fill(w, in, out, false, func() float64 { return a * (2*r.Float64() - 1) })
			fill(w, in, out, true, func() float64 { return a * (2*r.Float64() - 1) })
		case InitGlorot:
			a := math.Sqrt(6 / float64(in+out))
			fill(w, in, out, false, func() float64 { return a * (2*r.Float64() - 1) })
		default:
			gain := 1.0
			if m.Act == ReLU {
				gain = 2
			}
			sd := math.Sqrt(gain / float64(in))
			fill(w, in, out, false, func() float64 { return sd * r.NormFloat64() })
		}
	}
}

// fill sets a layer's weights (Out × (In+1) row-major, row by row) or,
// with bias, its last column to successive draws.
func fill(w []float64, in, out int, bias bool, draw func() float64) {
	for p := range out {
		if bias {
			w[p*(in+1)+in] = draw()
			continue
		}
		for q := range in {
			w[p*(in+1)+q] = draw()
		}
	}
}
