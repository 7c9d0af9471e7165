package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/plot"
)

// A hand-made 2-cell calibration with three probes.
func smallCalibration() *calibration.Calibration {
	c := &calibration.Calibration{Board: calibration.BoardID{Serial: "S", Cells: 2}, MeasuredAt: time.Unix(0, 0).UTC()}
	c.Couplings = calibration.Couplings{
		Gain:       []float64{1.01, 0.99, 1.02, 0.98},
		Offset:     []float64{0, 0.01, 0, -0.01},
		Probes:     [][]float64{{1, 0.5, 0.5, 1}, {2, -0.5, -0.5, 2}, {1.5, 0, 0, 1.5}},
		Realised:   [][]float64{{1.011, 0.506, 0.51, 0.969}, {2.02, -0.485, -0.51, 1.95}, {1.515, 0.01, 0, 1.46}},
		RealisedSE: [][]float64{{1e-3, 2e-3, 1e-3, 2e-3}, {1e-3, 1e-3, 1e-3, 1e-3}, {2e-3, 2e-3, 2e-3, 2e-3}},
	}
	c.ADC.Residual = []float64{3.3e-3, 3.2e-3}
	c.Bias.Residual = []float64{2.2e-4, 2.5e-4}
	return c
}

// Coupling elements and channels are categories: every calibration series
// is drawn as markers, on ticks at row starts or at every channel, and
// the residuals after calibration carry the realised values' standard
// errors.
func TestCalibrationChartsAreCategorical(t *testing.T) {
	c := smallCalibration()
	charts := calibrationCharts(c)
	require.Len(t, charts, 4)
	for _, ch := range charts {
		require.NoError(t, ch.Validate(), ch.Title)
		assert.Positive(t, ch.XStep, ch.Title)
		for _, s := range ch.Series {
			assert.Equal(t, plot.Markers, s.Style, "%s / %s", ch.Title, s.Name)
		}
	}
	assert.Equal(t, 2.0, charts[0].XStep, "a tick at the start of each row of the 2 × 2 matrix")
	assert.Equal(t, 1.0, charts[3].XStep, "a tick at every channel")
	resid := charts[2]
	require.Len(t, resid.Series, calPlotProbes)
	for p, s := range resid.Series {
		assert.Equal(t, c.Couplings.RealisedSE[p], s.SE, "probe %d's residuals carry its standard errors", p+1)
	}
	for _, ch := range charts[:3] {
		for _, s := range ch.Series {
			probe := 1
			if strings.HasPrefix(s.Name, "probe 2") {
				probe = 2
			}
			assert.Equal(t, probe, s.Hue, "%s / %s: one colour per probe in every panel", ch.Title, s.Name)
		}
	}
	assert.Contains(t, charts[1].Title, "2.0e-03", "the before-panel names the largest standard error it does not draw")
	require.NoError(t, writeCalibrationPlot(filepath.Join(t.TempDir(), "c.png"), c))
}

// spu report's accuracy panels are in percent, like spu train --plot's,
// zoomed past the start; the loss panel shares the accuracy panel's x
// range.
func TestReportCharts(t *testing.T) {
	l1, l2 := 0.9, 0.4
	runs := []*reportRun{{name: "a", seeds: [][]evalRecord{{
		{Iteration: 0, TestAccuracy: 0.1},
		{Iteration: 10, TestAccuracy: 0.85, TrainLoss: &l1, DigitalS: 0.5, BoardTimeS: 0.1},
		{Iteration: 20, TestAccuracy: 0.91, TrainLoss: &l2, DigitalS: 1, BoardTimeS: 0.2},
	}}}}
	acc, loss, accT := reportCharts(runs, 10000)
	_, trainAcc := plot.TrainingCharts("", "", plot.Run{Iter: []float64{0}, Loss: []float64{1}, Acc: []float64{0.5}})
	for _, c := range []plot.Chart{acc, accT} {
		require.NoError(t, c.Validate())
		assert.Equal(t, trainAcc.YLabel, c.YLabel)
		assert.Equal(t, plot.AccuracyZoom, c.ZoomAfter)
		assert.Equal(t, 91.0, c.Series[0].Y[len(c.Series[0].Y)-1], "percent")
		// The binomial standard error of 91 % over 10,000 images, in percent.
		require.Len(t, c.Series[0].SE, len(c.Series[0].Y), "standard errors drawn")
		assert.InDelta(t, 100*math.Sqrt(0.91*0.09/10000), c.Series[0].SE[len(c.Series[0].SE)-1], 1e-12)
	}
	assert.Equal(t, []float64{0.6, 1.2}, accT.Series[0].X, "digital + board time, time 0 left off the log axis")
	require.NoError(t, loss.Validate())
	assert.Equal(t, []float64{10, 20}, loss.Series[0].X, "no training loss at iteration 0")
	assert.Equal(t, [2]float64{acc.XMin, acc.XMax}, [2]float64{loss.XMin, loss.XMax})
	assert.Equal(t, [2]float64{0, 20}, [2]float64{acc.XMin, acc.XMax})
}
