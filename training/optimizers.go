package training

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/optim"
)

// Optimizers lists the optimiser names NewOptimizer accepts, in the order
// help texts show them.
var Optimizers = []string{"sgd", "adam", "ngd", "ngd-cg", "ngd-woodbury", "tngd", "tngd-adam", "tngd-em"}

// DefaultLR is each optimiser's step size when none is given: the paper's
// values for Adam (1e-3) and TNGD (0.01), the TNGD value for the exact NGD
// variants and the Euler–Maruyama reference, Adam's for TNGD-Adam, and 0.1
// for plain SGD.
var DefaultLR = map[string]float64{
	"sgd": 0.1, "adam": 1e-3, "ngd": 0.01, "ngd-cg": 0.01, "ngd-woodbury": 0.01,
	"tngd": 0.01, "tngd-adam": 1e-3, "tngd-em": 0.01,
}

// UsesBoard reports whether the optimiser runs on a board.
func UsesBoard(name string) bool { return name == "tngd" || name == "tngd-adam" }

// UsesAnalogTime reports whether the optimiser runs (real or simulated)
// analog dynamics for a time t: the board-backed ones and tngd-em, the
// paper's Euler–Maruyama reference.
func UsesAnalogTime(name string) bool { return UsesBoard(name) || name == "tngd-em" }

// UsesCurvature reports whether the optimiser needs the damped GGN (and so
// a damping λ > 0).
func UsesCurvature(name string) bool { return name != "sgd" && name != "adam" }

// OptimizerSpec selects and configures an optimiser.
type OptimizerSpec struct {
	Name string
	// LR is the step size; 0 means DefaultLR[Name].
	LR float64
	// Momentum is SGD's heavy-ball coefficient.
	Momentum float64
	// The board-backed optimisers' settings (see optim.TNGDOptions):
	// analog time and delay in τ, read window, mapping. tngd-em uses T
	// and Seed (its noise stream).
	T, Delay float64
	Window   int
	Mapping  optim.Mapping
	Seed     uint64
}

// Check validates the spec without building anything; the errors wrap
// hal.ErrInvalid.
func (s OptimizerSpec) Check() error {
	if !slices.Contains(Optimizers, s.Name) {
		return fmt.Errorf("optimizer %q: want one of %s: %w", s.Name, strings.Join(Optimizers, ", "), hal.ErrInvalid)
	}
	if !(s.LR >= 0) || math.IsInf(s.LR, 0) {
		return fmt.Errorf("learning rate %g: want a finite value > 0 (0 = the optimizer's default): %w", s.LR, hal.ErrInvalid)
	}
	if !(s.Momentum >= 0 && s.Momentum < 1) {
		return fmt.Errorf("momentum %g: want 0 ≤ μ < 1: %w", s.Momentum, hal.ErrInvalid)
	}
	if UsesAnalogTime(s.Name) && (!(s.T > 0) || math.IsInf(s.T, 0)) {
		return fmt.Errorf("t = %gτ: want a finite analog run time > 0: %w", s.T, hal.ErrInvalid)
	}
	if UsesBoard(s.Name) {
		switch {
		case !(s.Delay >= 0) || math.IsInf(s.Delay, 0):
			return fmt.Errorf("delay = %gτ: want a finite delay ≥ 0: %w", s.Delay, hal.ErrInvalid)
		case s.Window < 1:
			return fmt.Errorf("window %d: want at least 1 sample: %w", s.Window, hal.ErrInvalid)
		}
	}
	return nil
}

// LRValue returns the step size in use.
func (s OptimizerSpec) LRValue() float64 {
	if s.LR == 0 {
		return DefaultLR[s.Name]
	}
	return s.LR
}

// NewOptimizer builds the optimiser for a model trained in batches of
// batch examples; board is used (and required) only by tngd and tngd-adam.
func NewOptimizer(s OptimizerSpec, board hal.Board, model *optim.MLP, batch int) (optim.Optimizer, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	lr := s.LRValue()
	switch s.Name {
	case "sgd":
		return &optim.SGD{LR: lr, Momentum: s.Momentum}, nil
	case "adam":
		return optim.NewAdam(lr), nil
	case "ngd":
		if n := model.NumParams(); n > optim.MaxDenseParams {
			return nil, fmt.Errorf("optimizer ngd forms the dense N × N curvature, and this model has N = %d > %d parameters: use ngd-woodbury (also exact) or ngd-cg, or a smaller model: %w",
				n, optim.MaxDenseParams, hal.ErrInvalid)
		}
		return &optim.NGD{LR: lr}, nil
	case "ngd-cg":
		return &optim.NGDCG{LR: lr}, nil
	case "ngd-woodbury":
		return &optim.NGDWoodbury{LR: lr}, nil
	case "tngd-em":
		return optim.NewTNGDEuler(optim.EulerOptions{LR: lr, T: s.T, Seed: s.Seed})
	}
	if board == nil {
		return nil, fmt.Errorf("optimizer %s runs on a board, and none was given: %w", s.Name, hal.ErrInvalid)
	}
	topts := optim.TNGDOptions{LR: lr, T: s.T, Delay: s.Delay, Window: s.Window, Mapping: s.Mapping}
	if s.Name == "tngd-adam" {
		topts.LR = DefaultLR["tngd"] // unused: Adam takes the step
	}
	t, err := optim.NewTNGD(board, model.NumParams(), batch*model.Outputs(), topts)
	if err != nil {
		return nil, err
	}
	if s.Name == "tngd" {
		return t, nil
	}
	// The paper's TNGD-Adam: Adam with β₁ = β₂ = 0 on the board's g̃.
	return &optim.TNGDAdam{TNGD: t, Adam: &optim.Adam{LR: lr, Beta1: 0, Beta2: 0, Eps: 1e-8}}, nil
}

// MappingOf returns the mapping a board-backed optimiser resolved to, and
// "" for the digital ones.
func MappingOf(o optim.Optimizer) string {
	switch t := o.(type) {
	case *optim.TNGD:
		return t.Mapping().String()
	case *optim.TNGDAdam:
		return t.TNGD.Mapping().String()
	}
	return ""
}
