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
	f     *os.File
	w     *bufio.Writer
	model *optim.MLP
	prev  []float64
	lr    float64
	first bool
	err   error
}

// newTrainTrace creates the --trace file;
// nil without --trace. θ before the first step is the model's, or the
// checkpoint's when resuming (training.Run restores it into the model only
// after this).
func newTrainTrace(path string, c *trainConfig, model *optim.MLP, resume *checkpoint.Checkpoint) (*trainTrace, error) {
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
		lr: c.LR, first: true}, nil
}

// step records step s (training.Options.OnStep).
func (t *trainTrace) step(s training.Step) {
	theta := t.model.Params()
	l := traceLine{Iteration: s.Iteration - 1, Epoch: s.Epoch, Indices: s.Indices,
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
