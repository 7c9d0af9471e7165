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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
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

// extra is the loop's own part of a checkpoint.
type extra struct {
	Batch     int     `json:"batch"`
	TrainN    int     `json:"train_n"`
	Inputs    int     `json:"inputs"`
	Damping   float64 `json:"damping"`
	WallS     float64 `json:"wall_s"`
	DigitalS  float64 `json:"digital_s"`
	SimWallS  float64 `json:"sim_wall_s"`
	BoardS    float64 `json:"board_time_s"`
	Rescales  int     `json:"rescales"`
	LossSum   float64 `json:"loss_sum"`
	LossN     int     `json:"loss_n"`
	History   []Eval  `json:"history"`
	LastCkptK int     `json:"-"`
}

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
	start := time.Now()
	n := o.Train.Size()
	in := o.Model.Inputs()
	perEpoch := PerEpoch(n, o.Batch)
	total := o.Iterations
	if total == 0 {
		total = o.Epochs * perEpoch
	}
	every := o.EvalEvery
	if every == 0 {
		every = max(1, (total+39)/40)
	}
	theta := o.Model.Params()

	k := 0
	ex := extra{Batch: o.Batch, TrainN: n, Inputs: in, Damping: o.Damping}
	res := &Result{PerEpoch: perEpoch}
	if c := o.Resume; c != nil {
		if err := o.restore(c, &ex); err != nil {
			return nil, err
		}
		k = c.Iteration
		res.ResumedFrom = k
		ex.LastCkptK = k
	}
	wall0 := time.Duration(ex.WallS * 1e9)
	digital := time.Duration(ex.DigitalS * 1e9)
	board := time.Duration(ex.BoardS * 1e9)
	simWall := time.Duration(ex.SimWallS * 1e9)
	res.Rescales = ex.Rescales
	lossSum, lossN := ex.LossSum, ex.LossN
	res.History = ex.History

	snapshot := func() {
		res.Iterations = k
		res.Wall = wall0 + time.Since(start)
		res.Digital, res.SimWall, res.BoardTime = digital, simWall, board
	}
	save := func() error {
		if o.CheckpointDir == "" || (ex.LastCkptK == k && res.Checkpoint != "") {
			return nil
		}
		snapshot()
		ex.WallS, ex.DigitalS, ex.SimWallS, ex.BoardS = res.Wall.Seconds(), digital.Seconds(), simWall.Seconds(), board.Seconds()
		ex.Rescales, ex.LossSum, ex.LossN, ex.History = res.Rescales, lossSum, lossN, res.History
		path, err := checkpoint.Save(o.CheckpointDir, o.checkpointAt(k, perEpoch, &ex))
		if err != nil {
			return err
		}
		ex.LastCkptK = k
		res.Checkpoint = path
		return nil
	}
	evaluate := func() error {
		loss, acc, err := o.Model.Evaluate(o.Test)
		if err != nil {
			return fmt.Errorf("evaluation at iteration %d: %w", k, err)
		}
		snapshot()
		e := Eval{Iteration: k, Epoch: float64(k) / float64(perEpoch), TestLoss: loss, TestAccuracy: acc,
			WallS: res.Wall.Seconds(), DigitalS: digital.Seconds(), SimWallS: simWall.Seconds(), BoardTimeS: board.Seconds()}
		if lossN > 0 {
			tl := lossSum / float64(lossN)
			e.TrainLoss = &tl
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("iteration %d: test loss is %g: %w", k, loss, ErrDiverged)
		}
		lossSum, lossN = 0, 0
		res.History = append(res.History, e)
		res.Final = e
		if o.OnEval != nil {
			if err := o.OnEval(e); err != nil {
				return err
			}
		}
		return nil
	}
	// fail returns err with the run's position and its last good checkpoint.
	fail := func(err error) (*Result, error) {
		snapshot()
		where := ""
		if res.Checkpoint != "" {
			where = fmt.Sprintf("; last good checkpoint %s (iteration %d)", res.Checkpoint, ex.LastCkptK)
		} else if o.CheckpointDir != "" && o.Resume != nil {
			where = fmt.Sprintf("; last good checkpoint in %s (iteration %d)", o.CheckpointDir, ex.LastCkptK)
		}
		return res, fmt.Errorf("%w%s", err, where)
	}

	if k == 0 || len(res.History) == 0 || res.History[len(res.History)-1].Iteration != k {
		if err := evaluate(); err != nil {
			return fail(err)
		}
		if err := save(); err != nil {
			return fail(err)
		}
	} else {
		res.Final = res.History[len(res.History)-1]
	}

	bt := optim.Batch{X: make([]float64, o.Batch*in), Y: make([]int, o.Batch)}
	var order []int
	orderEpoch := -1
	for k < total {
		if err := ctx.Err(); err != nil {
			if serr := save(); serr != nil {
				return fail(fmt.Errorf("interrupted at iteration %d, and the checkpoint failed: %w", k, serr))
			}
			return fail(fmt.Errorf("%w at iteration %d: %w", ErrInterrupted, k, err))
		}
		epoch, pos := k/perEpoch, k%perEpoch
		if epoch != orderEpoch {
			order, orderEpoch = Order(o.Seed, epoch, n), epoch
		}
		for j, idx := range order[pos*o.Batch : (pos+1)*o.Batch] {
			copy(bt.X[j*in:(j+1)*in], o.Train.X[idx*in:(idx+1)*in])
			bt.Y[j] = o.Train.Y[idx]
		}
		if o.Maintain != nil && o.MaintainEvery > 0 && k > 0 && k%o.MaintainEvery == 0 {
			if err := o.Maintain(ctx, k); err != nil {
				return fail(fmt.Errorf("iteration %d: maintenance: %w", k, err))
			}
		}
		t0 := time.Now()
		it, err := optim.NewIteration(k, o.Model, bt, o.Damping)
		if err != nil {
			return fail(fmt.Errorf("iteration %d: %w", k, err))
		}
		grad := time.Since(t0)
		if bad := nonFinite(it.Grad); math.IsNaN(it.Loss) || math.IsInf(it.Loss, 0) || bad >= 0 {
			msg := fmt.Sprintf("loss %g", it.Loss)
			if bad >= 0 {
				msg += fmt.Sprintf(", gradient[%d] = %g", bad, it.Grad[bad])
			}
			return fail(fmt.Errorf("iteration %d (epoch %d): %s: %w (try a smaller --lr or a larger --damping)", k, epoch, msg, ErrDiverged))
		}
		st, err := o.Optimizer.Step(ctx, it)
		if err != nil {
			if ctx.Err() != nil {
				// A step cut short changes nothing it has not finished
				// (board-backed optimisers update θ last): save at k.
				if serr := save(); serr != nil {
					return fail(fmt.Errorf("interrupted at iteration %d, and the checkpoint failed: %w", k, serr))
				}
				return fail(fmt.Errorf("%w at iteration %d: %w", ErrInterrupted, k, ctx.Err()))
			}
			return fail(fmt.Errorf("iteration %d: %s: %w", k, o.Optimizer.Name(), err))
		}
		if bad := nonFinite(theta); bad >= 0 {
			return fail(fmt.Errorf("iteration %d (epoch %d): the %s step made θ[%d] = %g: %w (try a smaller --lr or a larger --damping)",
				k, epoch, o.Optimizer.Name(), bad, theta[bad], ErrDiverged))
		}
		digital += grad + st.Digital
		simWall += st.SimWall
		board += st.BoardTime
		res.Rescales += st.Rescales
		lossSum += it.Loss
		lossN++
		k++
		if o.OnStep != nil {
			o.OnStep(Step{Iteration: k, Total: total, Epoch: epoch, Loss: it.Loss, Stats: st})
		}
		if k%every == 0 || k == total {
			if err := evaluate(); err != nil {
				if errors.Is(err, ErrDiverged) {
					return fail(err)
				}
				if serr := save(); serr != nil {
					return fail(fmt.Errorf("%w; and the checkpoint failed: %w", err, serr))
				}
				return fail(err)
			}
			if err := save(); err != nil {
				return fail(err)
			}
		}
	}
	if err := save(); err != nil {
		return fail(err)
	}
	snapshot()
	return res, nil
}

// nonFinite returns the index of the first NaN or ±Inf in v, or −1.
func nonFinite(v []float64) int {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i
		}
	}
	return -1
}

func (o *Options) checkpointAt(k, perEpoch int, ex *extra) *checkpoint.Checkpoint {
	c := &checkpoint.Checkpoint{Header: checkpoint.Header{
		Model:     checkpoint.Model{Sizes: slices.Clone(o.Model.Sizes), Activation: o.Model.Act.String()},
		Optimizer: o.Optimizer.Name(),
		Iteration: k, Epoch: k / perEpoch, Seed: o.Seed,
	}}
	c.Theta = o.Model.Params()
	if s, ok := o.Optimizer.(optim.Stateful); ok {
		c.OptimizerStateful = true
		c.OptimizerState = s.State()
	}
	if o.Config != nil {
		c.Config, _ = marshal(o.Config)
	}
	c.Extra, _ = marshal(ex)
	return c
}

// restore checks c against the options and loads it into the model and
// optimiser.
func (o *Options) restore(c *checkpoint.Checkpoint, ex *extra) error {
	mm := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrMismatch)
	}
	if !slices.Equal(c.Model.Sizes, o.Model.Sizes) || c.Model.Activation != o.Model.Act.String() {
		return mm("checkpoint model %v %s, this run %v %s", c.Model.Sizes, c.Model.Activation, o.Model.Sizes, o.Model.Act)
	}
	if c.Optimizer != o.Optimizer.Name() {
		return mm("checkpoint optimizer %s, this run %s", c.Optimizer, o.Optimizer.Name())
	}
	if c.Seed != o.Seed {
		return mm("checkpoint seed %d, this run %d", c.Seed, o.Seed)
	}
	if len(c.Theta) != o.Model.NumParams() {
		return mm("checkpoint has %d parameters, the model %d", len(c.Theta), o.Model.NumParams())
	}
	var saved extra
	if err := json.Unmarshal(c.Extra, &saved); err != nil {
		return fmt.Errorf("checkpoint: loop state: %v: %w", err, checkpoint.ErrCorrupt)
	}
	if saved.Batch != o.Batch || saved.TrainN != o.Train.Size() || saved.Inputs != o.Model.Inputs() {
		return mm("checkpoint batch %d over %d examples, this run batch %d over %d", saved.Batch, saved.TrainN, o.Batch, o.Train.Size())
	}
	if saved.Damping != o.Damping {
		return mm("checkpoint damping %g, this run %g", saved.Damping, o.Damping)
	}
	if o.Config != nil {
		diff, err := ConfigDiff(c.Config, o.Config)
		if err != nil {
			return err
		}
		if len(diff) > 0 {
			return mm("settings differ from the checkpoint's: %s", joinDiff(diff))
		}
	}
	s, stateful := o.Optimizer.(optim.Stateful)
	if c.OptimizerStateful {
		if !stateful {
			return mm("checkpoint has optimizer state, %s takes none", o.Optimizer.Name())
		}
		if err := s.SetState(c.OptimizerState); err != nil {
			return fmt.Errorf("checkpoint optimizer state: %w", err)
		}
	}
	copy(o.Model.Params(), c.Theta)
	*ex = saved
	return nil
}

// ConfigDiff compares a saved configuration (JSON object) with the current
// one, returning "key: saved → now" for every top-level key that differs.
func ConfigDiff(saved json.RawMessage, now any) ([]string, error) {
	nb, err := marshal(now)
	if err != nil {
		return nil, err
	}
	var a, b map[string]any
	if len(saved) == 0 {
		saved = json.RawMessage("{}")
	}
	if err := json.Unmarshal(saved, &a); err != nil {
		return nil, fmt.Errorf("checkpoint config: %v: %w", err, checkpoint.ErrCorrupt)
	}
	if err := json.Unmarshal(nb, &b); err != nil {
		return nil, fmt.Errorf("config is not a JSON object: %w", err)
	}
	var diff []string
	for k, bv := range b {
		av, ok := a[k]
		as, _ := marshal(av)
		bs, _ := marshal(bv)
		if !ok {
			as = []byte("(unset)")
		}
		if string(as) != string(bs) {
			diff = append(diff, fmt.Sprintf("%s %s → %s", k, as, bs))
		}
	}
	for k, av := range a {
		if _, ok := b[k]; !ok {
			as, _ := marshal(av)
			diff = append(diff, fmt.Sprintf("%s %s → (unset)", k, as))
		}
	}
	sort.Strings(diff)
	return diff, nil
}

// marshal is json.Marshal without HTML escaping (board URIs hold '&').
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func joinDiff(d []string) string {
	s := ""
	for i, x := range d {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}
