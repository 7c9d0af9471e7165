package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// reportTable is one table of spu report's page: its configurations in
// the order first given. slug names its plots (results-SLUG-*.png; empty:
// results-*.png) and title heads it (empty: no heading).
type reportTable struct {
	slug, title string
	runs        []*reportRun
}

// add adds one run's metrics to the configuration called name, a new one
// or another seed of one given before.
func (t *reportTable) add(name string, recs []evalRecord) {
	for _, r := range t.runs {
		if r.name == name {
			r.seeds = append(r.seeds, recs)
			return
		}
	}
	t.runs = append(t.runs, &reportRun{name: name, seeds: [][]evalRecord{recs}})
}

// plotName is the file name of the table's plot called what.
func (t *reportTable) plotName(what string) string {
	if t.slug == "" {
		return "results-" + what + ".png"
	}
	return "results-" + t.slug + "-" + what + ".png"
}

// seedStats is a number's median and range over a configuration's seeds.
type seedStats struct{ median, min, max float64 }

// statsOf returns v's median (the mean of the middle two for an even
// count) and range; v must not be empty. +Inf sorts last.
func statsOf(v []float64) seedStats {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return seedStats{median: med, min: s[0], max: s[n-1]}
}

// reached90 returns the first evaluated iteration with test accuracy
// ≥ 0.9 and the iterations since the evaluation before it (how finely
// that iteration is resolved); ok is false when no evaluation reached it.
func reached90(recs []evalRecord) (k, resolution int, ok bool) {
	for i, e := range recs {
		if e.TestAccuracy >= 0.9 {
			if i > 0 {
				resolution = e.Iteration - recs[i-1].Iteration
			}
			return e.Iteration, resolution, true
		}
	}
	return 0, 0, false
}

// fmtIters formats an iteration count from statsOf: +Inf (not reached) as
// "> last", the last iteration evaluated.
func fmtIters(v float64, last int) string {
	if math.IsInf(v, 1) {
		return fmt.Sprintf("> %d", last)
	}
	return fmt.Sprintf("%g", v)
}

// seedCells returns a row's table cells for a configuration run with
// several seeds: seeds, iterations to 90 % (median [range], and how many
// reached it when not all did), final accuracy and loss (median [range]).
func seedCells(r reportRow) []string {
	to90 := "not reached"
	if r.Reached90 > 0 {
		its := make([]float64, len(r.IterationsTo90All))
		for i, k := range r.IterationsTo90All {
			its[i] = math.Inf(1)
			if k != nil {
				its[i] = float64(*k)
			}
		}
		it := statsOf(its)
		to90 = fmt.Sprintf("%s [%s–%s]", fmtIters(it.median, r.Iterations), fmtIters(it.min, r.Iterations), fmtIters(it.max, r.Iterations))
		if r.Reached90 < r.Seeds {
			to90 += fmt.Sprintf(" (%d of %d reached)", r.Reached90, r.Seeds)
		}
	}
	acc, loss := statsOf(r.TestAccuracyAll), statsOf(r.TestLossAll)
	return []string{fmt.Sprint(r.Seeds), to90,
		fmt.Sprintf("%.4f [%.4f–%.4f]", acc.median, acc.min, acc.max),
		fmt.Sprintf("%.4f [%.4f–%.4f]", loss.median, loss.min, loss.max)}
}

// seedsTable writes the Markdown table of rows run with several seeds:
// medians and ranges, the times as medians.
func seedsTable(b *strings.Builder, rows []reportRow) {
	res := 0
	for _, r := range rows {
		res = max(res, r.Resolution)
	}
	resolved := ""
	if res > 0 {
		resolved = fmt.Sprintf(" (resolved to %d)", res)
	}
	fmt.Fprintf(b, "| run | seeds | iterations to 90 %% test accuracy%s | final test accuracy | final test loss | iterations | wall s | digital s | board time s |\n", resolved)
	fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %d | %.1f | %.2f | %.3f |\n", r.Name, strings.Join(seedCells(r), " | "),
			r.Iterations, r.WallS, r.DigitalS, r.BoardTimeS)
	}
}
