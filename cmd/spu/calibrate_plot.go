package main

import (
	"fmt"
	"slices"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/plot"
)

// calPlotProbes is how many probes the calibration plot shows (more
// would crowd every element's column).
const calPlotProbes = 2

// writeCalibrationPlot writes calibrationCharts to path.
func writeCalibrationPlot(path string, c *calibration.Calibration) error {
	charts := calibrationCharts(c)
	return plot.WriteFile(path, plot.DefaultWidth, len(charts)*plot.DefaultPanelHeight*4/5, charts...)
}

// calibrationCharts returns four panels: the first probes' programmed and
// realised couplings element by element; realised minus programmed (the
// error calibration removes); realised minus the calibrated model, with
// the realised values' standard errors; the ADC and bias lines' rms
// residuals per channel. Elements and channels are categories, so every
// series is drawn as markers.
func calibrationCharts(c *calibration.Calibration) []plot.Chart {
	cp := c.Couplings
	k := c.Board.Cells
	n := len(cp.Gain)
	elem := indices(n)
	var couplings, uncal, resid []plot.Series
	var maxSE float64
	for p := range min(calPlotProbes, len(cp.Probes)) {
		pr, re := cp.Probes[p], cp.Realised[p]
		r := make([]float64, n)
		u := make([]float64, n)
		for e := range r {
			r[e] = re[e] - (cp.Gain[e]*pr[e] + cp.Offset[e])
			u[e] = re[e] - pr[e]
		}
		maxSE = max(maxSE, slices.Max(cp.RealisedSE[p]))
		name := fmt.Sprintf("probe %d", p+1)
		// One colour per probe in every panel; ring = programmed,
		// cross = realised, side by side in each element.
		m, hue := plot.Markers, p+1
		couplings = append(couplings, plot.Series{Name: name + " programmed", X: elem, Y: pr, Style: m, Hue: hue, Glyph: 1},
			plot.Series{Name: name + " realised", X: elem, Y: re, Style: m, Hue: hue, Glyph: 4})
		uncal = append(uncal, plot.Series{Name: name, X: elem, Y: u, Style: m, Hue: hue, Glyph: 1})
		resid = append(resid, plot.Series{Name: name, X: elem, Y: r, SE: cp.RealisedSE[p], Style: m, Hue: hue, Glyph: 1})
	}
	mv := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = 1e3 * x
		}
		return out
	}
	ch := indices(k)
	shown := fmt.Sprintf("%d of %d probes", min(calPlotProbes, len(cp.Probes)), len(cp.Probes))
	elemX := fmt.Sprintf("element e = i·%d + j (row i, column j)", k)
	step := float64(k)
	return []plot.Chart{
		{Title: fmt.Sprintf("calibration of %s, %s: couplings programmed and realised (%s)", c.Board.Serial, c.MeasuredAt.Format("2006-01-02 15:04 MST"), shown),
			XLabel: elemX, YLabel: "τ·M (1/τ)", XStep: step, Series: couplings},
		{Title: fmt.Sprintf("before calibration: realised − programmed (standard errors ≤ %.1e/τ, inside the markers)", maxSE),
			XLabel: elemX, YLabel: "1/τ", XStep: step, Series: uncal},
		{Title: "after calibration: realised − calibrated model, ±1 standard error of the realised value",
			XLabel: elemX, YLabel: "1/τ", XStep: step, Series: resid},
		{Title: "rms residuals of the straight lines per channel", XLabel: "channel", YLabel: "mV rms (log scale)", LogY: true, XStep: 1, Series: []plot.Series{
			{Name: "ADC line", X: ch, Y: mv(c.ADC.Residual), Style: plot.Markers, Hue: 3, Glyph: 2},
			{Name: "bias line", X: ch, Y: mv(c.Bias.Residual), Style: plot.Markers, Hue: 5, Glyph: 3},
		}},
	}
}

// indices returns 0, 1, …, n−1 as float64s: category positions.
func indices(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i)
	}
	return v
}
