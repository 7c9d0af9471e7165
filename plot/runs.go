package plot

import (
	"fmt"
	"math"
)

// Run is one training run's curves: at iteration Iter[i], reached after
// Time[i] seconds, the loss was Loss[i] (NaN where not measured) and the
// test accuracy Acc[i] (a fraction in [0, 1]). Time may be nil when no
// chart is drawn against time.
type Run struct {
	Name                  string
	Iter, Time, Loss, Acc []float64
	// TestN is the number of test images behind each Acc (0: unknown).
	// When known, AccuracyChart draws the binomial standard error
	// √(p(1 − p)/TestN) as a band.
	TestN int
	// Seeds, when > 1, says that the run stands for that many runs (seeds)
	// of one configuration: Acc and Loss are their medians and AccLo,
	// AccHi, LossLo, LossHi their smallest and largest values at each
	// point, which the charts draw as a band instead of the SE.
	Seeds                        int
	AccLo, AccHi, LossLo, LossHi []float64
}

// AccuracyZoom is the share of each run's x span that AccuracyChart leaves
// out when choosing its y range: accuracy climbs from chance to within a
// few percent of its final value in the first tenth of a run, and fitting
// the axis to that climb squeezes every later difference between runs into
// the top of the panel. The loss panel drawn beside it shows the start.
const AccuracyZoom = 0.1

// AccuracyChart returns a panel of test accuracy in percent against
// iteration, or with byTime against Time on a log axis (a run's point at
// time 0 left out) so that runs taking seconds and minutes are both
// readable; when some run has no positive time, the time axis is linear.
// The y range fits each run's accuracy past its first AccuracyZoom (see
// Chart.ZoomAfter), and the title says so.
func AccuracyChart(title string, byTime bool, runs ...Run) Chart {
	c := Chart{XLabel: "iteration", YLabel: "test accuracy (%)", ZoomAfter: AccuracyZoom,
		Title: fmt.Sprintf("y axis fitted to the last %.0f %% of each run", 100*(1-AccuracyZoom))}
	if title != "" {
		c.Title = title + "\n" + c.Title // the notes on a second line
	}
	if byTime {
		c.XLabel, c.LogX = "seconds", true
		for _, r := range runs {
			if !hasPositive(r.Time) {
				c.LogX = false
			}
		}
		if c.LogX {
			c.XLabel = "seconds (log scale)"
		}
	}
	sizes, seeds := map[int]bool{}, map[int]bool{}
	for _, r := range runs {
		s := Series{Name: r.Name}
		for i, a := range r.Acc {
			x := at(r.Iter, i)
			if byTime {
				x = at(r.Time, i)
			}
			if c.LogX && !(x > 0) {
				continue
			}
			s.X, s.Y = append(s.X, x), append(s.Y, 100*a)
			switch {
			case r.Seeds > 1:
				s.Lo, s.Hi = append(s.Lo, 100*at(r.AccLo, i)), append(s.Hi, 100*at(r.AccHi, i))
			case r.TestN > 0:
				s.SE = append(s.SE, 100*math.Sqrt(max(0, a*(1-a))/float64(r.TestN)))
			}
		}
		c.Series = append(c.Series, s)
		if r.Seeds > 1 {
			seeds[r.Seeds] = true
		} else {
			sizes[r.TestN] = true
		}
	}
	if n := seedNote(seeds); n != "" {
		c.Title += "; " + n
	}
	if len(sizes) == 1 && !sizes[0] {
		for n := range sizes {
			c.Title += fmt.Sprintf("; bands: ±1 binomial SE (%d test images)", n)
		}
	} else if len(sizes) > 1 {
		c.Title += "; bands: ±1 binomial SE"
	}
	return c
}

// LossChart returns a panel of loss against iteration, on a log axis when
// every measured loss is positive; NaN losses (not measured) are left out.
func LossChart(title, label string, runs ...Run) Chart {
	if label == "" {
		label = "loss"
	}
	c := Chart{Title: title, XLabel: "iteration", YLabel: label, LogY: true}
	seeds := map[int]bool{}
	for _, r := range runs {
		s := Series{Name: r.Name}
		for i, l := range r.Loss {
			if math.IsNaN(l) {
				continue
			}
			s.X, s.Y = append(s.X, at(r.Iter, i)), append(s.Y, l)
			lo := l
			if r.Seeds > 1 {
				lo = at(r.LossLo, i)
				s.Lo, s.Hi = append(s.Lo, lo), append(s.Hi, at(r.LossHi, i))
			}
			if !(lo > 0) {
				c.LogY = false
			}
		}
		c.Series = append(c.Series, s)
		if r.Seeds > 1 {
			seeds[r.Seeds] = true
		}
	}
	if n := seedNote(seeds); n != "" && c.Title != "" {
		c.Title += "; " + n
	} else if n != "" {
		c.Title = n
	}
	return c
}

// seedNote is what a chart's title says about its seed bands (seeds holds
// the seed counts of the runs with more than one): nothing without them.
func seedNote(seeds map[int]bool) string {
	switch {
	case len(seeds) == 1:
		for n := range seeds {
			return fmt.Sprintf("lines: median of %d seeds, bands: their range", n)
		}
	case len(seeds) > 1:
		return "lines: median over seeds, bands: their range"
	}
	return ""
}

// TrainingCharts returns the two panels Training draws: loss (log scale
// when every loss is positive) and test accuracy in percent, against
// iteration.
func TrainingCharts(title, lossLabel string, runs ...Run) (loss, acc Chart) {
	loss, acc = LossChart(title, lossLabel, runs...), AccuracyChart("", false, runs...)
	ShareX(&loss, &acc)
	return loss, acc
}

// ShareX gives the charts one x range, the union of their data's, so that
// panels stacked over each other line up point for point.
func ShareX(charts ...*Chart) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range charts {
		for _, s := range c.Series {
			for _, x := range s.X {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
	}
	if lo < hi {
		for _, c := range charts {
			c.XMin, c.XMax = lo, hi
		}
	}
}

// Training writes the two-panel PNG (loss and test accuracy vs iteration)
// for one or more runs to path.
func Training(path, title, lossLabel string, runs ...Run) error {
	if len(runs) == 0 {
		return fmt.Errorf("plot %s: no runs: %w", path, ErrInput)
	}
	loss, acc := TrainingCharts(title, lossLabel, runs...)
	return WriteFile(path, DefaultWidth, 2*DefaultPanelHeight, loss, acc)
}

// at is v[i], or NaN (which Validate refuses) when a run's slices are
// ragged.
func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return math.NaN()
}

func hasPositive(v []float64) bool {
	for _, x := range v {
		if x > 0 {
			return true
		}
	}
	return false
}
