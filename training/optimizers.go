package training

import (
	"fmt"
	"math"
	"strings"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/optim"
)

// optimizer is one row of the table of optimisers: everything the
// training loop and spu know about one, under its name.
type optimizer struct {
	name string
	// lr is the default step size: the paper's values for Adam (1e-3) and
	// TNGD (0.01), the TNGD value for the exact NGD variants and the
	// Euler–Maruyama reference, Adam's for TNGD-Adam, and 0.1 for SGD.
	lr float64
	// board: it runs on a board (and needs one).
	board bool
	// analog: it runs (real or simulated) analog dynamics for a time t.
	analog bool
	// curvature: it needs the damped GGN (and so a damping λ > 0).
	curvature bool
	// build makes the optimiser from a checked spec.
	build func(b buildArgs) (optim.Optimizer, error)
}

// buildArgs is what an optimizer's constructor gets: the checked spec, the
// step size in use, and the board (nil unless it runs on one), model and
// batch size.
type buildArgs struct {
	spec  OptimizerSpec
	lr    float64
	board hal.Board
	model *optim.MLP
	batch int
}

// tngdLR is TNGD's default step size (the paper's), also given to the TNGD
// inside TNGD-Adam, where it is unused.
const tngdLR = 0.01

// optimizers is the table, in the order help texts show the names.
var optimizers = []optimizer{
	{name: "sgd", lr: 0.1, build: func(b buildArgs) (optim.Optimizer, error) {
		return &optim.SGD{LR: b.lr, Momentum: b.spec.Momentum}, nil
	}},
	{name: "adam", lr: 1e-3, build: func(b buildArgs) (optim.Optimizer, error) { return optim.NewAdam(b.lr), nil }},
	{name: "ngd", lr: 0.01, curvature: true, build: newDenseNGD},
	{name: "ngd-cg", lr: 0.01, curvature: true, build: func(b buildArgs) (optim.Optimizer, error) { return &optim.NGDCG{LR: b.lr}, nil }},
	{name: "ngd-woodbury", lr: 0.01, curvature: true, build: func(b buildArgs) (optim.Optimizer, error) {
		return &optim.NGDWoodbury{LR: b.lr}, nil
	}},
	{name: "tngd", lr: tngdLR, board: true, analog: true, curvature: true, build: func(b buildArgs) (optim.Optimizer, error) {
		t, err := newTNGD(b, b.lr)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return t, nil
	}},
	{name: "tngd-adam", lr: 1e-3, board: true, analog: true, curvature: true, build: newTNGDAdam},
	{name: "tngd-em", lr: 0.01, analog: true, curvature: true, build: func(b buildArgs) (optim.Optimizer, error) {
		return optim.NewTNGDEuler(optim.EulerOptions{LR: b.lr, T: b.spec.T, Seed: b.spec.Seed})
	}},
}

// Optimizers lists the optimiser names NewOptimizer accepts, in the order
// help texts show them.
var Optimizers = func() []string {
	names := make([]string, len(optimizers))
	for i, o := range optimizers {
		names[i] = o.name
	}
	return names
}()

// DefaultLR is each optimiser's step size when none is given (see the
// table of optimisers for the reasons).
var DefaultLR = func() map[string]float64 {
	lr := make(map[string]float64, len(optimizers))
	for _, o := range optimizers {
		lr[o.name] = o.lr
	}
	return lr
}()

// lookup returns the named optimiser's row; ok is false for an unknown name.
func lookup(name string) (o optimizer, ok bool) {
	for _, o := range optimizers {
		if o.name == name {
			return o, true
		}
	}
	return optimizer{}, false
}

// UsesBoard reports whether the optimiser runs on a board.
func UsesBoard(name string) bool { o, _ := lookup(name); return o.board }

// UsesAnalogTime reports whether the optimiser runs (real or simulated)
// analog dynamics for a time t: the board-backed ones and tngd-em, the
// paper's Euler–Maruyama reference.
func UsesAnalogTime(name string) bool { o, _ := lookup(name); return o.analog }

// UsesCurvature reports whether the optimiser needs the damped GGN (and so
// a damping λ > 0).
// (An unknown name counts as needing it, as it always has.)
func UsesCurvature(name string) bool { o, ok := lookup(name); return !ok || o.curvature }

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
	// TileTol and TileIter end the tiled mapping's outer iteration
	// (optim.TNGDOptions; 0: its defaults).
	TileTol  float64
	TileIter int
}

// Check validates the spec without building anything; the errors wrap
// hal.ErrInvalid.
func (s OptimizerSpec) Check() error {
	o, ok := lookup(s.Name)
	if !ok {
		return fmt.Errorf("optimizer %q: want one of %s: %w", s.Name, strings.Join(Optimizers, ", "), hal.ErrInvalid)
	}
	if !(s.LR >= 0) || math.IsInf(s.LR, 0) {
		return fmt.Errorf("learning rate %g: want a finite value > 0 (0 = the optimizer's default): %w", s.LR, hal.ErrInvalid)
	}
	if !(s.Momentum >= 0 && s.Momentum < 1) {
		return fmt.Errorf("momentum %g: want 0 ≤ μ < 1: %w", s.Momentum, hal.ErrInvalid)
	}
	if o.analog && (!(s.T > 0) || math.IsInf(s.T, 0)) {
		return fmt.Errorf("t = %gτ: want a finite analog run time > 0: %w", s.T, hal.ErrInvalid)
	}
	if o.board {
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
	o, _ := lookup(s.Name)
	if o.board && board == nil {
		return nil, fmt.Errorf("optimizer %s runs on a board, and none was given: %w", s.Name, hal.ErrInvalid)
	}
	return o.build(buildArgs{spec: s, lr: s.LRValue(), board: board, model: model, batch: batch})
}

// newDenseNGD refuses a model whose dense N × N curvature is too large.
func newDenseNGD(b buildArgs) (optim.Optimizer, error) {
	if n := b.model.NumParams(); n > optim.MaxDenseParams {
		return nil, fmt.Errorf("optimizer ngd forms the dense N × N curvature, and this model has N = %d > %d parameters: use ngd-woodbury (also exact) or ngd-cg, or a smaller model: %w",
			n, optim.MaxDenseParams, hal.ErrInvalid)
	}
	return &optim.NGD{LR: b.lr}, nil
}

// newTNGD builds the board-backed TNGD with step size lr.
func newTNGD(b buildArgs, lr float64) (*optim.TNGD, error) {
	s := b.spec
	return optim.NewTNGD(b.board, b.model.NumParams(), b.batch*b.model.Outputs(),
		optim.TNGDOptions{LR: lr, T: s.T, Delay: s.Delay, Window: s.Window, Mapping: s.Mapping,
			TileTol: s.TileTol, TileIter: s.TileIter})
}

// newTNGDAdam is the paper's TNGD-Adam: Adam with β₁ = β₂ = 0 on the
// board's g̃ (the TNGD's own step size is unused).
func newTNGDAdam(b buildArgs) (optim.Optimizer, error) {
	t, err := newTNGD(b, tngdLR)
	if err != nil {
		return nil, err
	}
	return &optim.TNGDAdam{TNGD: t, Adam: &optim.Adam{LR: b.lr, Beta1: 0, Beta2: 0, Eps: 1e-8}}, nil
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
