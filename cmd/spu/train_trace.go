package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/optim"
	"github.com/spukit/spukit/training"
)

// traceLine is one line of spu train --trace: what another implementation
// of the optimiser needs to repeat a step and compare its direction
// (python/tests/test_equivalence.py does it for spukit.torch.TNGD).
type traceLine struct {
	Iteration int   `json:"iteration"` // the step, from 0
	Epoch     int   `json:"epoch"`
	Indices   []int `json:"indices"` // the batch's training-set indices, in batch order
	// Loss is the batch's mean loss before the step.
	Loss float64 `json:"loss"`
	// Theta is θ before the step, on the first line only (the run's
	// initial or resumed parameters); later θ follow from the directions.
	Theta []float64 `json:"theta,omitempty"`
	// Direction is (θ_before − θ_after)/lr: for tngd (and sgd, ngd*,
	// tngd-em) the direction d of θ ← θ − lr·d, g̃ for tngd, exact to a
	// rounding of θ (an ulp of θ over lr).
	Direction []float64 `json:"direction"`
}

// trainTrace writes --trace. Write errors are kept and reported at the end
// (a step callback cannot fail the run).
type trainTrace struct {
	f                  *os.File
	w                  *bufio.Writer
	model              *optim.MLP
	prev               []float64
	lr                 float64
	seed               uint64
	n, batch, perEpoch int
	order              []int
	orderEpoch         int
	first              bool
	err                error
}

// newTrainTrace creates the --trace file for a run on n training examples;
// nil without --trace. θ before the first step is the model's, or the
// checkpoint's when resuming (training.Run restores it into the model only
// after this).
func newTrainTrace(path string, c *trainConfig, model *optim.MLP, n int, resume *checkpoint.Checkpoint) (*trainTrace, error) {
	if path == "" {
		return nil, nil
	}
	theta0 := model.Params()
	if resume != nil {
		theta0 = resume.Theta
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--trace: %w", err)
	}
	return &trainTrace{f: f, w: bufio.NewWriter(f), model: model, prev: append([]float64(nil), theta0...),
		lr: c.LR, seed: c.Seed, n: n, batch: c.Batch, perEpoch: training.PerEpoch(n, c.Batch), orderEpoch: -1, first: true}, nil
}

// step records step s (training.Options.OnStep).
func (t *trainTrace) step(s training.Step) {
	k := s.Iteration - 1
	epoch, pos := k/t.perEpoch, k%t.perEpoch
	if epoch != t.orderEpoch {
		t.order, t.orderEpoch = training.Order(t.seed, epoch, t.n), epoch
	}
	theta := t.model.Params()
	l := traceLine{Iteration: k, Epoch: epoch, Indices: t.order[pos*t.batch : (pos+1)*t.batch],
		Loss: s.Loss, Direction: make([]float64, len(theta))}
	if t.first {
		l.Theta, t.first = t.prev, false
	}
	for i, v := range theta {
		l.Direction[i] = (t.prev[i] - v) / t.lr
	}
	// Encode before prev is overwritten: l.Theta shares its array.
	if t.err == nil {
		t.err = json.NewEncoder(t.w).Encode(l)
	}
	t.prev = append(t.prev[:0], theta...)
}

// close flushes and closes the file, returning the first error.
func (t *trainTrace) close() error {
	if t == nil {
		return nil
	}
	err := t.w.Flush()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if t.err != nil {
		err = t.err
	}
	if err != nil {
		return fmt.Errorf("--trace: %w", err)
	}
	return nil
}
