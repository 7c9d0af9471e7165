// Package training is the training loop shared by `spu train` and the
// reproduction scripts: minibatches in a seeded order, one optimiser step
// per batch through optim.Optimizer (so the same loop drives digital
// optimisers and board-backed TNGD), periodic evaluation, checkpoints, a
// stop with a clear error on NaN/Inf, and a bit-identical resume.
//
// # Data order
//
// Each epoch visits the first ⌊n/b⌋·b examples of a permutation of the
// training set drawn from a PCG seeded with (Seed, epoch); the remaining
// n mod b examples of that permutation are skipped for the epoch, so every
// batch has exactly b examples (board mappings are sized for b). The order
// is thus a function of the seed, the epoch and the position in it, and a
// checkpoint needs only the iteration count to reproduce it.
//
// # Checkpoints and resume
//
// With a checkpoint directory, the loop saves after every evaluation, at
// the end and when the context is cancelled (Ctrl-C), always at an
// iteration boundary: θ, the optimiser's state (optim.Stateful), the
// iteration count and the running totals. Resuming restores them, so for a
// deterministic optimiser the parameters after N iterations are the same
// bits whether or not the run was interrupted. A step whose loss, gradient
// or resulting parameters are not finite stops the run with ErrDiverged
// before anything is saved, so the last checkpoint stays the last good one.
package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/optim"
)

// Errors.
var (
	// ErrDiverged: a loss, gradient or parameter became NaN or ±Inf.
	ErrDiverged = errors.New("training diverged")
	// ErrInterrupted: the context was cancelled; wraps the context's error.
	ErrInterrupted = errors.New("training interrupted")
	// ErrMismatch: a checkpoint does not belong to this run's
	// configuration.
	ErrMismatch = errors.New("checkpoint does not match this run")
)

// Options configure Run. Model, Optimizer, Train, Test and Batch are
// required.
type Options struct {
	Model     *optim.MLP
	Optimizer optim.Optimizer
	Train     optim.Batch // the training set, Train.Size() examples
	Test      optim.Batch // the evaluation set (at least one example)
	Batch     int         // minibatch size b (≤ Train.Size())
	// Epochs is the number of passes; Iterations, when > 0, overrides it
	// with a total number of steps (counted from the run's start, across
	// resumes).
	Epochs     int
	Iterations int
	// Damping is λ, handed to every Iteration.
	Damping float64
	// Seed fixes the data order.
	Seed uint64
	// EvalEvery evaluates every this many steps (0 = about 40 evaluations
	// over the run); iteration 0 and the last iteration are always
	// evaluated.
	EvalEvery int
	// FineEvery, when > 0, evaluates also every this many steps until an
	// evaluation's test accuracy first reaches FineUntil: the step at
	// which a run reaches an accuracy is then resolved to FineEvery
	// without paying for dense evaluations for the rest of the run.
	FineEvery int
	FineUntil float64

	// CheckpointDir, when set, is where checkpoints are written.
	CheckpointDir string
	// Config is recorded in checkpoints (as JSON); on resume it must equal
	// the saved one field for field (see ConfigDiff).
	Config any
	// Resume continues from a checkpoint (see checkpoint.Load).
	Resume *checkpoint.Checkpoint

	// OnEval is called after every evaluation, in order; an error stops
	// the run (after a checkpoint is written).
	OnEval func(Eval) error
	// OnStep is called after every step.
	OnStep func(Step)

	// Maintain, when set with MaintainEvery > 0, is called before step k
	// whenever k > 0 is a multiple of MaintainEvery — for example to check
	// a board's calibration for drift and recalibrate (spu train
	// --check-every). Its board time is not counted in the steps'. An error
	// stops the run.
	Maintain      func(ctx context.Context, iteration int) error
	MaintainEvery int
}

// Eval is one evaluation: the JSON line of `spu train --metrics`.
type Eval struct {
	Iteration int `json:"iteration"`
	// Epoch is fractional: iterations / iterations per epoch.
	Epoch float64 `json:"epoch"`
	// TrainLoss is the mean minibatch loss (before each step) over the
	// steps since the previous evaluation; absent at iteration 0.
	TrainLoss    *float64 `json:"train_loss,omitempty"`
	TestLoss     float64  `json:"test_loss"`
	TestAccuracy float64  `json:"test_accuracy"`
	// WallS is wall time since the run started (across resumes). DigitalS
	// is the host work of the steps (gradients, curvature, optimiser; not
	// evaluation), SimWallS the wall time spent standing in for analog
	// hardware (simulated board calls, Euler–Maruyama), BoardTimeS the
	// board time the steps used (on a simulator with a clock: the time
	// real hardware would have needed).
	WallS      float64 `json:"wall_s"`
	DigitalS   float64 `json:"digital_s"`
	SimWallS   float64 `json:"sim_wall_s"`
	BoardTimeS float64 `json:"board_time_s"`
}

// Step reports one completed step to OnStep.
type Step struct {
	Iteration int // steps completed, including this one
	Total     int
	Epoch     int // the epoch this step belonged to
	Loss      float64
	Stats     optim.StepStats
	// Indices are the batch's training-set indices in batch order; the
	// slice is the run's and valid only during the OnStep call.
	Indices []int
}

// Result is what Run did.
type Result struct {
	Iterations                  int
	PerEpoch                    int // steps per epoch
	Final                       Eval
	History                     []Eval // every evaluation, including those before a resume
	Wall                        time.Duration
	Digital, SimWall, BoardTime time.Duration
	Rescales                    int    // board re-runs after saturated reads
	Checkpoint                  string // the last checkpoint written, if any
	ResumedFrom                 int    // the iteration a resume started at (0 = fresh)
}

// validate checks that the options describe a run that can start.
func (o *Options) validate() error {
	switch {
	case o.Model == nil || o.Optimizer == nil:
		return fmt.Errorf("training: a model and an optimiser are required: %w", hal.ErrInvalid)
	case o.Batch < 1:
		return fmt.Errorf("training: batch %d: want ≥ 1: %w", o.Batch, hal.ErrInvalid)
	case o.Train.Size() < o.Batch:
		return fmt.Errorf("training: %d training examples, fewer than one batch of %d: %w", o.Train.Size(), o.Batch, hal.ErrInvalid)
	case o.Test.Size() < 1:
		return fmt.Errorf("training: no test examples: %w", hal.ErrInvalid)
	case o.Epochs < 0 || o.Iterations < 0 || (o.Epochs == 0 && o.Iterations == 0):
		return fmt.Errorf("training: epochs %d, iterations %d: want a positive count: %w", o.Epochs, o.Iterations, hal.ErrInvalid)
	case o.EvalEvery < 0:
		return fmt.Errorf("training: eval every %d: want ≥ 0: %w", o.EvalEvery, hal.ErrInvalid)
	case o.FineEvery < 0 || (o.FineEvery > 0 && !(o.FineUntil > 0 && o.FineUntil <= 1)):
		return fmt.Errorf("training: fine evaluation every %d until accuracy %g: want every ≥ 0 and 0 < accuracy ≤ 1: %w", o.FineEvery, o.FineUntil, hal.ErrInvalid)
	case !(o.Damping >= 0) || math.IsInf(o.Damping, 0):
		return fmt.Errorf("training: damping %g: want a finite λ ≥ 0: %w", o.Damping, hal.ErrInvalid)
	}
	in := o.Model.Inputs()
	if len(o.Train.X) != o.Train.Size()*in || len(o.Test.X) != o.Test.Size()*in {
		return fmt.Errorf("training: data rows are not %d wide (the model's inputs): %w", in, hal.ErrDimension)
	}
	return nil
}

// PerEpoch returns the steps per epoch for n examples in batches of b.
func PerEpoch(n, b int) int {
	if b < 1 {
		return 0
	}
	return n / b
}

// Order returns the example order of an epoch.
func Order(seed uint64, epoch, n int) []int {
	return rand.New(rand.NewPCG(seed, 0x5eed_0000_0000+uint64(epoch))).Perm(n)
}

// Run trains until the epochs (or iterations) are done, the context is
// cancelled (ErrInterrupted, after saving a checkpoint) or a step fails.
// The Result is valid also when an error is returned.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	r, err := newRun(&o)
	if err != nil {
		return nil, err
	}
	// A fresh run, or one resumed from a checkpoint not taken at an
	// evaluation, is evaluated (and saved) before its first step.
	if h := r.res.History; r.k == 0 || len(h) == 0 || h[len(h)-1].Iteration != r.k {
		if err := r.evaluate(); err != nil {
			return r.fail(err)
		}
		if err := r.save(); err != nil {
			return r.fail(err)
		}
	} else {
		r.res.Final = h[len(h)-1]
	}
	for r.k < r.total {
		if err := ctx.Err(); err != nil {
			return r.interrupted(err)
		}
		cut, err := r.step(ctx)
		if cut {
			// A step cut short changes nothing it has not finished
			// (board-backed optimisers update θ last): save at k.
			return r.interrupted(ctx.Err())
		}
		if err != nil {
			return r.fail(err)
		}
		if r.k%r.every == 0 || r.k == r.total || r.fineDue() {
			if err := r.evaluateAndSave(); err != nil {
				return r.fail(err)
			}
		}
	}
	if err := r.save(); err != nil {
		return r.fail(err)
	}
	r.snapshot()
	return r.res, nil
}
