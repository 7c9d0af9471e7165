package training

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/optim"
)

const inputs, classes = 8, 3

// blobs returns n examples of three Gaussian clusters in 8 dimensions.
func blobs(n int, seed uint64) optim.Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, classes)
	cr := rand.New(rand.NewPCG(99, 2))
	for c := range centres {
		for range inputs {
			centres[c] = append(centres[c], 2*cr.NormFloat64())
		}
	}
	bt := optim.Batch{}
	for i := range n {
		c := i % classes
		for j := range inputs {
			bt.X = append(bt.X, centres[c][j]+r.NormFloat64())
		}
		bt.Y = append(bt.Y, c)
	}
	return bt
}

func newModel(t *testing.T) *optim.MLP {
	m, err := optim.NewMLP([]int{inputs, 6, classes}, optim.Tanh, 5)
	require.NoError(t, err)
	return m
}

type cfg struct {
	LR float64 `json:"lr"`
}

func opts(t *testing.T, opt optim.Optimizer) Options {
	return Options{Model: newModel(t), Optimizer: opt, Train: blobs(203, 1), Test: blobs(60, 2),
		Batch: 16, Epochs: 3, Damping: 0.01, Seed: 11, EvalEvery: 5, Config: cfg{LR: 0.05}}
}

func TestLearns(t *testing.T) {
	o := opts(t, optim.NewAdam(0.05))
	var evals []Eval
	o.OnEval = func(e Eval) error { evals = append(evals, e); return nil }
	steps := 0
	o.OnStep = func(s Step) { steps++; assert.Equal(t, steps, s.Iteration); assert.Equal(t, 36, s.Total) }
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 12, res.PerEpoch, "⌊203/16⌋ batches per epoch")
	assert.Equal(t, 36, res.Iterations)
	assert.Equal(t, 36, steps)
	assert.Greater(t, res.Final.TestAccuracy, 0.9)
	// Iteration 0, every 5th, and the last.
	var its []int
	for _, e := range evals {
		its = append(its, e.Iteration)
	}
	assert.Equal(t, []int{0, 5, 10, 15, 20, 25, 30, 35, 36}, its)
	assert.Equal(t, evals, res.History)
	assert.Nil(t, evals[0].TrainLoss)
	require.NotNil(t, evals[1].TrainLoss)
	assert.Less(t, *evals[len(evals)-1].TrainLoss, *evals[1].TrainLoss)
	assert.InDelta(t, 3.0, evals[len(evals)-1].Epoch, 1e-12)
	assert.Positive(t, res.Digital)
	assert.Zero(t, res.BoardTime)
}

func TestOrder(t *testing.T) {
	a, b := Order(1, 0, 50), Order(1, 0, 50)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, Order(1, 1, 50), "each epoch is reshuffled")
	assert.NotEqual(t, a, Order(2, 0, 50), "the seed matters")
	assert.ElementsMatch(t, a, Order(7, 3, 50)[:50])
}

func bits(v []float64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = math.Float64bits(x)
	}
	return out
}

// TestResumeBitIdentical: N iterations straight, or N/2 then a resume (by
// a stop at an iteration count, or by an interrupt), give the same θ bits.
func TestResumeBitIdentical(t *testing.T) {
	for _, mk := range []func() optim.Optimizer{
		func() optim.Optimizer { return &optim.SGD{LR: 0.05, Momentum: 0.9} },
		func() optim.Optimizer { return optim.NewAdam(0.02) },
	} {
		name := mk().Name()
		t.Run(name, func(t *testing.T) {
			const n = 30 // crosses an epoch boundary (12 per epoch)
			straight := opts(t, mk())
			straight.Iterations = n
			want, err := Run(context.Background(), straight)
			require.NoError(t, err)
			wantBits := bits(straight.Model.Params())

			// Stop at 13, resume to 30.
			dir := t.TempDir()
			first := opts(t, mk())
			first.Iterations, first.CheckpointDir = 13, dir
			r1, err := Run(context.Background(), first)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(dir, checkpoint.FileName), r1.Checkpoint)
			c, _, err := checkpoint.Load(dir)
			require.NoError(t, err)
			assert.Equal(t, 13, c.Iteration)
			assert.Equal(t, 1, c.Epoch)
			second := opts(t, mk())
			second.Iterations, second.CheckpointDir, second.Resume = n, dir, c
			got, err := Run(context.Background(), second)
			require.NoError(t, err)
			assert.Equal(t, 13, got.ResumedFrom)
			assert.Equal(t, wantBits, bits(second.Model.Params()))
			assert.Equal(t, want.Final.TestLoss, got.Final.TestLoss)
			var its []int
			for _, e := range got.History {
				its = append(its, e.Iteration)
			}
			assert.Equal(t, []int{0, 5, 10, 13, 15, 20, 25, 30}, its, "history continues across the resume")

			// Interrupt after 17 steps, resume.
			dir = t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			third := opts(t, mk())
			third.Iterations, third.CheckpointDir = n, dir
			third.OnStep = func(s Step) {
				if s.Iteration == 17 {
					cancel()
				}
			}
			r3, err := Run(ctx, third)
			require.ErrorIs(t, err, ErrInterrupted)
			require.ErrorIs(t, err, context.Canceled)
			assert.Contains(t, err.Error(), "at iteration 17")
			assert.Equal(t, 17, r3.Iterations)
			c, _, err = checkpoint.Load(dir)
			require.NoError(t, err)
			assert.Equal(t, 17, c.Iteration)
			fourth := opts(t, mk())
			fourth.Iterations, fourth.CheckpointDir, fourth.Resume = n, dir, c
			_, err = Run(context.Background(), fourth)
			require.NoError(t, err)
			assert.Equal(t, wantBits, bits(fourth.Model.Params()))
		})
	}
}

// poison is SGD that writes NaN into θ at one step.
type poison struct {
	optim.SGD
	at int
}

func (p *poison) Step(ctx context.Context, it *optim.Iteration) (optim.StepStats, error) {
	st, err := p.SGD.Step(ctx, it)
	if it.K == p.at {
		it.Model.Params()[3] = math.NaN()
	}
	return st, err
}

func TestDivergedKeepsLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	o := opts(t, &poison{SGD: optim.SGD{LR: 0.05}, at: 12})
	o.CheckpointDir = dir
	res, err := Run(context.Background(), o)
	require.ErrorIs(t, err, ErrDiverged)
	for _, s := range []string{"iteration 12 (epoch 1)", "θ[3] = NaN", "--lr", "last good checkpoint", "(iteration 10)"} {
		assert.Contains(t, err.Error(), s)
	}
	assert.Equal(t, 12, res.Iterations)
	c, _, err := checkpoint.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, 10, c.Iteration)
	for _, v := range c.Theta {
		require.False(t, math.IsNaN(v))
	}

	// A NaN in the data shows up as a NaN loss and gradient.
	dir = t.TempDir()
	o = opts(t, &optim.SGD{LR: 0.05})
	o.CheckpointDir = dir
	o.Train.X[5*inputs+2] = math.NaN() // example 5
	_, err = Run(context.Background(), o)
	require.ErrorIs(t, err, ErrDiverged)
	assert.Contains(t, err.Error(), "loss NaN")
	c, _, err = checkpoint.Load(dir)
	require.NoError(t, err, "iteration 0 was saved before the bad batch")
	assert.Less(t, c.Iteration, 12)
}

// adamCheckpoint runs 5 iterations of Adam on opts and returns the
// checkpoint they leave.
func adamCheckpoint(t *testing.T) *checkpoint.Checkpoint {
	t.Helper()
	dir := t.TempDir()
	o := opts(t, optim.NewAdam(0.02))
	o.Iterations, o.CheckpointDir = 5, dir
	_, err := Run(context.Background(), o)
	require.NoError(t, err)
	c, _, err := checkpoint.Load(dir)
	require.NoError(t, err)
	return c
}

func TestResumeMismatch(t *testing.T) {
	c := adamCheckpoint(t)
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"seed", func(o *Options) { o.Seed = 12 }, "seed 11, this run 12"},
		{"batch", func(o *Options) { o.Batch = 8 }, "batch 16 over 203 examples, this run batch 8"},
		{"optimizer", func(o *Options) { o.Optimizer = &optim.SGD{LR: 0.1} }, "optimizer adam, this run sgd"},
		{"config", func(o *Options) { o.Config = cfg{LR: 0.5} }, "lr 0.05 → 0.5"},
		{"damping", func(o *Options) { o.Damping = 1 }, "damping 0.01, this run 1"},
		{"model", func(o *Options) {
			m, err := optim.NewMLP([]int{inputs, 7, classes}, optim.Tanh, 5)
			require.NoError(t, err)
			o.Model = m
		}, "model [8 6 3] tanh, this run [8 7 3] tanh"},
		{"init", func(o *Options) {
			m, err := optim.NewMLPInit([]int{inputs, 6, classes}, optim.Tanh, optim.InitTorch, 5)
			require.NoError(t, err)
			o.Model = m
		}, "initialisation he, this run torch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(t, optim.NewAdam(0.02))
			o.Resume = c
			tc.mod(&o)
			_, err := Run(context.Background(), o)
			require.ErrorIs(t, err, ErrMismatch)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestResumeBeforeInit: a checkpoint without Model.Init (written before
// it existed) resumes a run with the default initialisation only.
func TestResumeBeforeInit(t *testing.T) {
	c := adamCheckpoint(t)
	require.Equal(t, "he", c.Model.Init)
	c.Model.Init = ""

	o := opts(t, optim.NewAdam(0.02))
	o.Iterations, o.Resume = 8, c
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 5, res.ResumedFrom)

	o = opts(t, optim.NewAdam(0.02))
	m, err := optim.NewMLPInit([]int{inputs, 6, classes}, optim.Tanh, optim.InitGlorot, 5)
	require.NoError(t, err)
	o.Model, o.Iterations, o.Resume = m, 8, c
	_, err = Run(context.Background(), o)
	require.ErrorIs(t, err, ErrMismatch)
	assert.Contains(t, err.Error(), "initialisation he, this run glorot")
}

func TestConfigDiff(t *testing.T) {
	d, err := ConfigDiff([]byte(`{"a":1,"b":"x","c":[1,2]}`), map[string]any{"a": 1, "b": "y", "d": true})
	require.NoError(t, err)
	assert.Equal(t, []string{`b "x" → "y"`, `c [1,2] → (unset)`, `d (unset) → true`}, d)
	_, err = ConfigDiff([]byte(`[1]`), map[string]any{})
	require.ErrorIs(t, err, checkpoint.ErrCorrupt)
}

// TestFineEvaluations: with FineEvery the run is evaluated every
// FineEvery steps up to the first evaluation at FineUntil accuracy, then
// only every EvalEvery steps (and at the end); the evaluations do not
// change the training (the coarse ones equal a run without fine ones).
func TestFineEvaluations(t *testing.T) {
	run := func(fine int) []Eval {
		o := opts(t, optim.NewAdam(0.005))
		o.EvalEvery, o.FineEvery, o.FineUntil = 10, fine, 0.9
		res, err := Run(context.Background(), o)
		require.NoError(t, err)
		return res.History
	}
	fine, coarse := run(2), run(0)
	reached := -1
	for _, e := range fine {
		if e.TestAccuracy >= 0.9 {
			reached = e.Iteration
			break
		}
	}
	require.Greater(t, reached, 2, "the fixture must need some fine evaluations")
	require.Less(t, reached, 30, "…and leave some coarse ones")
	var want []int
	for k := 0; k <= 36; k++ {
		if (k <= reached && k%2 == 0) || k%10 == 0 || k == 36 {
			want = append(want, k)
		}
	}
	var got []int
	byIter := map[int]Eval{}
	for _, e := range fine {
		got = append(got, e.Iteration)
		byIter[e.Iteration] = e
	}
	assert.Equal(t, want, got)
	for _, e := range coarse {
		f := byIter[e.Iteration]
		assert.Equal(t, e.TestAccuracy, f.TestAccuracy, "iteration %d", e.Iteration)
		assert.Equal(t, e.TestLoss, f.TestLoss, "iteration %d", e.Iteration)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"batch 0", func(o *Options) { o.Batch = 0 }, "batch 0"},
		{"batch > data", func(o *Options) { o.Batch = 500 }, "fewer than one batch"},
		{"no test", func(o *Options) { o.Test = optim.Batch{} }, "no test examples"},
		{"no epochs", func(o *Options) { o.Epochs = 0 }, "positive count"},
		{"damping", func(o *Options) { o.Damping = math.NaN() }, "damping NaN"},
		{"fine until", func(o *Options) { o.FineEvery = 2 }, "until accuracy 0"},
		{"fine every", func(o *Options) { o.FineEvery = -1 }, "fine evaluation every -1"},
		{"width", func(o *Options) { o.Train.X = o.Train.X[:len(o.Train.X)-1] }, "not 8 wide"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(t, optim.NewAdam(0.02))
			tc.mod(&o)
			_, err := Run(context.Background(), o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCheckpointDirUnwritable(t *testing.T) {
	// A path under a regular file cannot be created, even by root.
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	o := opts(t, optim.NewAdam(0.02))
	o.CheckpointDir = filepath.Join(f, "ck")
	_, err := Run(context.Background(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checkpoint")
}

// Maintain runs before every MaintainEvery-th step (not before the first),
// and its error stops the run.
func TestMaintain(t *testing.T) {
	o := opts(t, optim.NewAdam(0.05))
	var at []int
	o.Maintain = func(_ context.Context, k int) error { at = append(at, k); return nil }
	o.MaintainEvery = 10
	_, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, []int{10, 20, 30}, at, "36 iterations")

	o = opts(t, optim.NewAdam(0.05))
	o.Maintain = func(_ context.Context, k int) error {
		if k == 20 {
			return assert.AnError
		}
		return nil
	}
	o.MaintainEvery = 10
	_, err = Run(context.Background(), o)
	require.ErrorIs(t, err, assert.AnError)
	assert.Contains(t, err.Error(), "iteration 20: maintenance")
}
