package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/spukit/spukit/training"
)

// newBar is the progress bar of the long commands, on a terminal: count,
// rate in units per second, time left.
func newBar(w io.Writer, total int, desc, unit string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetWidth(28),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
	)
}

// stageBar is the progress bar of a command that runs in named stages
// (calibrate, selftest): a thousand steps, the stage in the description.
type stageBar struct {
	bar         *progressbar.ProgressBar
	desc, stage string
}

func newStageBar(w io.Writer, desc string) *stageBar {
	return &stageBar{desc: desc, bar: progressbar.NewOptions(1000, progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(28), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true))}
}

// set shows stage with fraction done (0…1) of the whole command.
func (s *stageBar) set(stage string, done float64) {
	if stage != s.stage {
		s.bar.Describe(fmt.Sprintf("%s: %s", s.desc, stage))
		s.stage = stage
	}
	s.bar.Set(int(math.Round(1000 * done)))
}

// clear removes the bar; the command's output takes its place.
func (s *stageBar) clear() { s.bar.Clear() }

// trainProgress shows a training run: a bar with the running train loss,
// the last test accuracy (with the iteration it was measured at) and it/s
// on a terminal, or one line per evaluation elsewhere.
type trainProgress struct {
	bar    *progressbar.ProgressBar
	log    io.Writer
	name   string
	total  int
	epochs int
	// Train loss since the last evaluation, for the bar.
	lossSum float64
	lossN   int
	last    *evalRecord
	// The previous evaluation, for the log lines' it/s.
	prevIter  int
	prevWallS float64
}

func newTrainProgress(w io.Writer, terminal bool, name string, total, epochs int) *trainProgress {
	p := &trainProgress{name: name, total: total, epochs: max(1, epochs), prevIter: -1}
	if terminal {
		p.bar = newBar(w, total, name+" epoch 1", "it")
	} else {
		p.log = w
	}
	return p
}

// resumed moves the bar to where a resumed run starts.
func (p *trainProgress) resumed(k int) {
	if p.bar != nil {
		p.bar.Set(min(k, p.total))
	}
}

// step records one step: its loss goes into the running train loss.
func (p *trainProgress) step(s training.Step) {
	p.lossSum += s.Loss
	p.lossN++
	if p.bar != nil {
		p.bar.Describe(p.describe(s.Epoch))
		p.bar.Set(s.Iteration)
	}
}

// describe is the bar's text: epoch, the train loss since the last
// evaluation, the last test accuracy and its iteration.
func (p *trainProgress) describe(epoch int) string {
	d := fmt.Sprintf("%s epoch %d/%d", p.name, min(epoch+1, p.epochs), p.epochs)
	if p.lossN > 0 {
		d += fmt.Sprintf(", train loss %.4f", p.lossSum/float64(p.lossN))
	}
	if p.last != nil {
		d += fmt.Sprintf(", test acc %.1f%% (it %d)", 100*p.last.TestAccuracy, p.last.Iteration)
	}
	return d
}

// eval records an evaluation: on a pipe it is one line with the train and
// test loss, the accuracy and the iterations per second since the last one.
func (p *trainProgress) eval(e evalRecord) {
	p.last = &e
	p.lossSum, p.lossN = 0, 0
	if p.bar != nil {
		p.bar.Describe(p.describe(int(e.Epoch)))
	}
	if p.log != nil {
		rate := ""
		if p.prevIter >= 0 && e.Iteration > p.prevIter && e.WallS > p.prevWallS {
			rate = fmt.Sprintf(", %.3g it/s", float64(e.Iteration-p.prevIter)/(e.WallS-p.prevWallS))
		}
		fmt.Fprintf(p.log, "iteration %d/%d (epoch %.2f): %stest loss %.4f, test accuracy %.4f, wall %.1f s%s, board %.3f s\n",
			e.Iteration, p.total, e.Epoch, trainLossText(e.TrainLoss), e.TestLoss, e.TestAccuracy, e.WallS, rate, e.BoardTimeS)
	}
	p.prevIter, p.prevWallS = e.Iteration, e.WallS
}

// done clears the bar; the final line takes its place.
func (p *trainProgress) done() {
	if p.bar != nil {
		p.bar.Clear()
	}
}

// progressEvery is how often a long command without a terminal writes a
// progress line.
var progressEvery = 10 * time.Second

// countProgress shows a count towards a total: a bar on a terminal, else a
// line every progressEvery (none for runs shorter than that).
type countProgress struct {
	bar   *progressbar.ProgressBar
	log   io.Writer
	what  string
	total int
	start time.Time
	next  time.Time
}

func newCountProgress(w io.Writer, terminal bool, desc, what string, total int) *countProgress {
	p := &countProgress{what: what, total: total, start: time.Now()}
	p.next = p.start.Add(progressEvery)
	if terminal {
		p.bar = newBar(w, total, desc, what)
	} else {
		p.log = w
	}
	return p
}

// set records that done of the total are done.
func (p *countProgress) set(done int) {
	if p == nil {
		return
	}
	if p.bar != nil {
		p.bar.Set(done)
		return
	}
	now := time.Now()
	if p.log == nil || now.Before(p.next) || done <= 0 {
		return
	}
	p.next = now.Add(progressEvery)
	el := now.Sub(p.start)
	left := time.Duration(float64(el) * float64(p.total-done) / float64(done))
	fmt.Fprintf(p.log, "%d of %d %s (%.0f%%), %v, about %v left\n", done, p.total, p.what,
		100*float64(done)/float64(p.total), el.Round(time.Second), left.Round(time.Second))
}

// done clears the bar.
func (p *countProgress) done() {
	if p != nil && p.bar != nil {
		p.bar.Clear()
	}
}
