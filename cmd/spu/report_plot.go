package main

import (
	"math"
	"path/filepath"

	"github.com/spukit/spukit/plot"
)

// writeReportPlots writes spu report's figures into dir and returns their
// paths: results-iterations.png (test accuracy over the training loss,
// against iteration) and results-time.png (test accuracy against digital
// plus board time). testN is the runs' test-set size, for the accuracy's
// standard errors.
func writeReportPlots(dir string, runs []reportRun, testN int) ([]string, error) {
	acc, loss, accT := reportCharts(runs, testN)
	plots := []string{filepath.Join(dir, "results-iterations.png"), filepath.Join(dir, "results-time.png")}
	if err := plot.WriteFile(plots[0], 900, 900, acc, loss); err != nil {
		return nil, err
	}
	return plots, plot.WriteFile(plots[1], 900, 450, accT)
}

func reportCharts(runs []reportRun, testN int) (acc, loss, accT plot.Chart) {
	pr := make([]plot.Run, len(runs))
	for i, r := range runs {
		pr[i].Name, pr[i].TestN = r.name, testN
		for _, e := range r.recs {
			l := math.NaN() // no training loss before the first step
			if e.TrainLoss != nil {
				l = *e.TrainLoss
			}
			pr[i].Iter = append(pr[i].Iter, float64(e.Iteration))
			pr[i].Time = append(pr[i].Time, e.DigitalS+e.BoardTimeS)
			pr[i].Loss = append(pr[i].Loss, l)
			pr[i].Acc = append(pr[i].Acc, e.TestAccuracy)
		}
	}
	acc = plot.AccuracyChart("Test accuracy", false, pr...)
	loss = plot.LossChart("Training loss (batch, at each evaluation)", "loss", pr...)
	plot.ShareX(&acc, &loss)
	accT = plot.AccuracyChart("Test accuracy vs time (digital + estimated board time)", true, pr...)
	return acc, loss, accT
}
