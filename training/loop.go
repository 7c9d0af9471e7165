package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/optim"
)

// run is one Run in progress: its position k, the running totals (carried
// across resumes in the checkpoint's extra) and the result so far.
type run struct {
	o        *Options
	start    time.Time
	n, in    int // training examples, inputs per example
	perEpoch int
	total    int // steps to reach
	every    int // evaluate every this many steps
	theta    []float64
	k        int
	ex       extra
	res      *Result

	wall0, digital, board, simWall time.Duration
	lossSum                        float64 // minibatch losses since the last evaluation
	lossN                          int

	bt         optim.Batch // the current minibatch
	order      []int       // the current epoch's example order
	orderEpoch int
	fineDone   bool // an evaluation reached Options.FineUntil
}

// newRun sets up a run of validated options: the step counts and, when
// resuming, the checkpoint restored into the model, optimiser and totals.
func newRun(o *Options) (*run, error) {
	r := &run{o: o, start: time.Now(), n: o.Train.Size(), in: o.Model.Inputs()}
	r.perEpoch = PerEpoch(r.n, o.Batch)
	r.total = o.Iterations
	if r.total == 0 {
		r.total = o.Epochs * r.perEpoch
	}
	r.every = o.EvalEvery
	if r.every == 0 {
		r.every = max(1, (r.total+39)/40)
	}
	r.theta = o.Model.Params()

	r.ex = extra{Batch: o.Batch, TrainN: r.n, Inputs: r.in, Damping: o.Damping}
	r.res = &Result{PerEpoch: r.perEpoch}
	if c := o.Resume; c != nil {
		if err := o.restore(c, &r.ex); err != nil {
			return nil, err
		}
		r.k = c.Iteration
		r.res.ResumedFrom = r.k
		r.ex.LastCkptK = r.k
	}
	r.wall0 = time.Duration(r.ex.WallS * 1e9)
	r.digital = time.Duration(r.ex.DigitalS * 1e9)
	r.board = time.Duration(r.ex.BoardS * 1e9)
	r.simWall = time.Duration(r.ex.SimWallS * 1e9)
	r.res.Rescales = r.ex.Rescales
	r.lossSum, r.lossN = r.ex.LossSum, r.ex.LossN
	r.res.History = r.ex.History
	for _, e := range r.res.History {
		r.fineDone = r.fineDone || e.TestAccuracy >= o.FineUntil
	}
	r.bt = optim.Batch{X: make([]float64, o.Batch*r.in), Y: make([]int, o.Batch)}
	r.orderEpoch = -1
	return r, nil
}

// fineDue reports a fine evaluation due at k (Options.FineEvery).
func (r *run) fineDue() bool {
	return r.o.FineEvery > 0 && !r.fineDone && r.k%r.o.FineEvery == 0
}

// snapshot brings the result's position and times up to date.
func (r *run) snapshot() {
	r.res.Iterations = r.k
	r.res.Wall = r.wall0 + time.Since(r.start)
	r.res.Digital, r.res.SimWall, r.res.BoardTime = r.digital, r.simWall, r.board
}

// save writes a checkpoint at k, unless there is no checkpoint directory
// or k is already saved.
func (r *run) save() error {
	o, ex, res := r.o, &r.ex, r.res
	if o.CheckpointDir == "" || (ex.LastCkptK == r.k && res.Checkpoint != "") {
		return nil
	}
	r.snapshot()
	ex.WallS, ex.DigitalS, ex.SimWallS, ex.BoardS = res.Wall.Seconds(), r.digital.Seconds(), r.simWall.Seconds(), r.board.Seconds()
	ex.Rescales, ex.LossSum, ex.LossN, ex.History = res.Rescales, r.lossSum, r.lossN, res.History
	path, err := checkpoint.Save(o.CheckpointDir, o.checkpointAt(r.k, r.perEpoch, ex))
	if err != nil {
		return err
	}
	ex.LastCkptK = r.k
	res.Checkpoint = path
	return nil
}

// evaluate evaluates the model on the test set at k, records the result
// and hands it to OnEval; a non-finite test loss is ErrDiverged.
func (r *run) evaluate() error {
	o, k := r.o, r.k
	loss, acc, err := o.Model.Evaluate(o.Test)
	if err != nil {
		return fmt.Errorf("evaluation at iteration %d: %w", k, err)
	}
	r.snapshot()
	e := Eval{Iteration: k, Epoch: float64(k) / float64(r.perEpoch), TestLoss: loss, TestAccuracy: acc,
		WallS: r.res.Wall.Seconds(), DigitalS: r.digital.Seconds(), SimWallS: r.simWall.Seconds(), BoardTimeS: r.board.Seconds()}
	if r.lossN > 0 {
		tl := r.lossSum / float64(r.lossN)
		e.TrainLoss = &tl
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("iteration %d: test loss is %g: %w", k, loss, ErrDiverged)
	}
	r.lossSum, r.lossN = 0, 0
	r.fineDone = r.fineDone || acc >= o.FineUntil
	r.res.History = append(r.res.History, e)
	r.res.Final = e
	if o.OnEval != nil {
		if err := o.OnEval(e); err != nil {
			return err
		}
	}
	return nil
}

// evaluateAndSave evaluates and checkpoints. When the evaluation fails
// other than by divergence the checkpoint is still written (a diverged
// model is not saved: the last checkpoint stays the last good one).
func (r *run) evaluateAndSave() error {
	if err := r.evaluate(); err != nil {
		if errors.Is(err, ErrDiverged) {
			return err
		}
		if serr := r.save(); serr != nil {
			return fmt.Errorf("%w; and the checkpoint failed: %w", err, serr)
		}
		return err
	}
	return r.save()
}

// fail returns err with the run's position and its last good checkpoint.
func (r *run) fail(err error) (*Result, error) {
	r.snapshot()
	where := ""
	if r.res.Checkpoint != "" {
		where = fmt.Sprintf("; last good checkpoint %s (iteration %d)", r.res.Checkpoint, r.ex.LastCkptK)
	} else if r.o.CheckpointDir != "" && r.o.Resume != nil {
		where = fmt.Sprintf("; last good checkpoint in %s (iteration %d)", r.o.CheckpointDir, r.ex.LastCkptK)
	}
	return r.res, fmt.Errorf("%w%s", err, where)
}

// interrupted saves at k and returns ErrInterrupted wrapping cause, the
// context's error.
func (r *run) interrupted(cause error) (*Result, error) {
	if serr := r.save(); serr != nil {
		return r.fail(fmt.Errorf("interrupted at iteration %d, and the checkpoint failed: %w", r.k, serr))
	}
	return r.fail(fmt.Errorf("%w at iteration %d: %w", ErrInterrupted, r.k, cause))
}

// step makes step k: the minibatch, the maintenance when due, the
// gradient, the optimiser's step and the totals; a non-finite loss,
// gradient or θ is ErrDiverged. cut reports an optimiser step that failed
// because the context was cancelled.
func (r *run) step(ctx context.Context) (cut bool, err error) {
	o, k := r.o, r.k
	epoch, indices := r.fillBatch()
	if o.Maintain != nil && o.MaintainEvery > 0 && k > 0 && k%o.MaintainEvery == 0 {
		if err := o.Maintain(ctx, k); err != nil {
			return false, fmt.Errorf("iteration %d: maintenance: %w", k, err)
		}
	}
	t0 := time.Now()
	it, err := optim.NewIteration(k, o.Model, r.bt, o.Damping)
	if err != nil {
		return false, fmt.Errorf("iteration %d: %w", k, err)
	}
	grad := time.Since(t0)
	if bad := nonFinite(it.Grad); math.IsNaN(it.Loss) || math.IsInf(it.Loss, 0) || bad >= 0 {
		msg := fmt.Sprintf("loss %g", it.Loss)
		if bad >= 0 {
			msg += fmt.Sprintf(", gradient[%d] = %g", bad, it.Grad[bad])
		}
		return false, fmt.Errorf("iteration %d (epoch %d): %s: %w (try a smaller --lr or a larger --damping)", k, epoch, msg, ErrDiverged)
	}
	st, err := o.Optimizer.Step(ctx, it)
	if err != nil {
		if ctx.Err() != nil {
			return true, nil
		}
		return false, fmt.Errorf("iteration %d: %s: %w", k, o.Optimizer.Name(), err)
	}
	if bad := nonFinite(r.theta); bad >= 0 {
		return false, fmt.Errorf("iteration %d (epoch %d): the %s step made θ[%d] = %g: %w (try a smaller --lr or a larger --damping)",
			k, epoch, o.Optimizer.Name(), bad, r.theta[bad], ErrDiverged)
	}
	r.digital += grad + st.Digital
	r.simWall += st.SimWall
	r.board += st.BoardTime
	r.res.Rescales += st.Rescales
	r.lossSum += it.Loss
	r.lossN++
	r.k++
	if o.OnStep != nil {
		o.OnStep(Step{Iteration: r.k, Total: r.total, Epoch: epoch, Loss: it.Loss, Stats: st, Indices: indices})
	}
	return false, nil
}

// fillBatch copies step k's examples into the minibatch (drawing the
// epoch's order when k starts a new one) and returns k's epoch and the
// batch's indices (a slice of the epoch's order).
func (r *run) fillBatch() (int, []int) {
	o, in := r.o, r.in
	epoch, pos := r.k/r.perEpoch, r.k%r.perEpoch
	if epoch != r.orderEpoch {
		r.order, r.orderEpoch = Order(o.Seed, epoch, r.n), epoch
	}
	indices := r.order[pos*o.Batch : (pos+1)*o.Batch]
	for j, idx := range indices {
		copy(r.bt.X[j*in:(j+1)*in], o.Train.X[idx*in:(idx+1)*in])
		r.bt.Y[j] = o.Train.Y[idx]
	}
	return epoch, indices
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
