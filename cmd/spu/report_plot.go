package main

import (
	"math"
	"path/filepath"

	"github.com/spukit/spukit/plot"
)

// writeReportPlots writes a table's figures into dir and returns their
// paths: results[-SLUG]-iterations.png (test accuracy over the training
// loss, against iteration) and results[-SLUG]-time.png (test accuracy
// against digital plus board time). testN is the runs' test-set size, for
// the accuracy's standard errors (configurations with one seed).
func writeReportPlots(dir string, t *reportTable, testN int) ([]string, error) {
	acc, loss, accT := reportCharts(t.runs, testN)
	plots := []string{filepath.Join(dir, t.plotName("iterations")), filepath.Join(dir, t.plotName("time"))}
	if err := plot.WriteFile(plots[0], 900, 900, acc, loss); err != nil {
		return nil, err
	}
	return plots, plot.WriteFile(plots[1], 900, 450, accT)
}

func reportCharts(runs []*reportRun, testN int) (acc, loss, accT plot.Chart) {
	pr := make([]plot.Run, len(runs))
	for i, r := range runs {
		pr[i] = seedRun(r)
		pr[i].TestN = testN
	}
	acc = plot.AccuracyChart("Test accuracy", false, pr...)
	loss = plot.LossChart("Training loss (batch, at each evaluation)", "loss", pr...)
	plot.ShareX(&acc, &loss)
	accT = plot.AccuracyChart("Test accuracy vs time (digital + estimated board time)", true, pr...)
	return acc, loss, accT
}

// seedRun is a configuration's curves: with one seed, its evaluations;
// with several, at each iteration evaluated in every seed (runs with
// fine evaluations share the coarse ones and the fine ones before the
// earliest reached 90 %), the median of time, loss and accuracy and the
// range of the last two. The training loss at an evaluation is the mean
// since the evaluation before, which may differ between seeds with
// different fine evaluations; it is for the plot's shape only.
func seedRun(r *reportRun) plot.Run {
	pr := plot.Run{Name: r.name, Seeds: len(r.seeds)}
	for _, k := range commonIterations(r.seeds) {
		var tm, loss, acc []float64
		for _, recs := range r.seeds {
			e := evalAt(recs, k)
			tm, acc = append(tm, e.DigitalS+e.BoardTimeS), append(acc, e.TestAccuracy)
			l := math.NaN() // no training loss before the first step
			if e.TrainLoss != nil {
				l = *e.TrainLoss
			}
			loss = append(loss, l)
		}
		a, l := statsOf(acc), statsOf(loss)
		if math.IsNaN(l.median) || math.IsNaN(l.min) || math.IsNaN(l.max) {
			l = seedStats{math.NaN(), math.NaN(), math.NaN()}
		}
		pr.Iter = append(pr.Iter, float64(k))
		pr.Time = append(pr.Time, statsOf(tm).median)
		pr.Acc, pr.AccLo, pr.AccHi = append(pr.Acc, a.median), append(pr.AccLo, a.min), append(pr.AccHi, a.max)
		pr.Loss, pr.LossLo, pr.LossHi = append(pr.Loss, l.median), append(pr.LossLo, l.min), append(pr.LossHi, l.max)
	}
	return pr
}

// commonIterations returns the iterations evaluated in every seed's run,
// in order.
func commonIterations(seeds [][]evalRecord) []int {
	count := map[int]int{}
	for _, recs := range seeds {
		for _, e := range recs {
			count[e.Iteration]++
		}
	}
	var ks []int
	for _, e := range seeds[0] {
		if count[e.Iteration] == len(seeds) {
			ks = append(ks, e.Iteration)
		}
	}
	return ks
}

// evalAt returns the evaluation at iteration k of recs (which has one).
func evalAt(recs []evalRecord, k int) evalRecord {
	for _, e := range recs {
		if e.Iteration == k {
			return e
		}
	}
	return evalRecord{}
}
