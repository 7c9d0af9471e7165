package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spukit/spukit/plot"
	"github.com/spukit/spukit/training"
)

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
	fmt.Fprintf(w, "  model       %s MLP %s, %d parameters, %s init\n", c.Activation, sizesString(c), s.Params, c.Init)
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
	return joinSizes(sizes)
}

// joinSizes is layer widths as "784-32-10".
func joinSizes(sizes []int) string {
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
