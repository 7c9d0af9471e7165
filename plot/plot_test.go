package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func curve(n int, f func(float64) float64) (x, y []float64) {
	for i := range n {
		x = append(x, float64(10*i))
		y = append(y, f(float64(i)))
	}
	return x, y
}

func TestPNG(t *testing.T) {
	x, y := curve(50, func(i float64) float64 { return 2 * math.Exp(-i/10) })
	x2, y2 := curve(30, func(i float64) float64 { return 1 / (1 + i) })
	var buf bytes.Buffer
	require.NoError(t, PNG(&buf, 640, 480, Chart{Title: "t", XLabel: "x", YLabel: "y", LogY: true,
		Series: []Series{{Name: "a", X: x, Y: y}, {Name: "b", X: x2, Y: y2}, {X: []float64{3}, Y: []float64{1}}}}))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	assert.Equal(t, 640, img.Bounds().Dx())
	assert.Equal(t, 480, img.Bounds().Dy())
	// Something was drawn: not every pixel is the white background.
	colours := map[[4]uint32]bool{}
	for yy := 0; yy < 480; yy += 3 {
		for xx := 0; xx < 640; xx += 3 {
			r, g, b, a := img.At(xx, yy).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	assert.Greater(t, len(colours), 5)
}

func TestTraining(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train.png")
	it := []float64{0, 50, 100, 150}
	require.NoError(t, Training(path, "MNIST", "test loss",
		Run{Name: "adam", Iter: it, Loss: []float64{2.3, 0.6, 0.4, 0.3}, Acc: []float64{0.1, 0.8, 0.88, 0.91}},
		Run{Name: "tngd", Iter: it[:3], Loss: []float64{2.3, 0.4, 0.2}, Acc: []float64{0.1, 0.9, 0.93}}))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	assert.Equal(t, DefaultWidth, cfg.Width)
	assert.Equal(t, 2*DefaultPanelHeight, cfg.Height)

	// Both panels share one x range (the loss may start later).
	loss, acc := TrainingCharts("", "", Run{Iter: it, Loss: []float64{math.NaN(), 1, 0.5, 0.4}, Acc: []float64{0.1, 0.8, 0.88, 0.91}})
	assert.Equal(t, [2]float64{0, 150}, [2]float64{loss.XMin, loss.XMax})
	assert.Equal(t, [2]float64{0, 150}, [2]float64{acc.XMin, acc.XMax})
	assert.Equal(t, []float64{50, 100, 150}, loss.Series[0].X, "the unmeasured loss is left out")

	// A zero loss turns the log scale off instead of failing.
	loss, _ = TrainingCharts("", "", Run{Iter: it, Loss: []float64{1, 0, 1, 1}, Acc: []float64{0, 0, 0, 0}})
	assert.False(t, loss.LogY)
	require.NoError(t, loss.Validate())
}

func TestBadInput(t *testing.T) {
	ok := Series{Name: "ok", X: []float64{0, 1}, Y: []float64{1, 2}}
	for _, tc := range []struct {
		name   string
		w, h   int
		charts []Chart
		want   string
	}{
		{"no charts", 100, 100, nil, "no charts"},
		{"no series", 100, 100, []Chart{{Title: "c"}}, "no series"},
		{"ragged", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1}}}}}, "2 x values but 1 y values"},
		{"empty", 100, 100, []Chart{{Series: []Series{{Name: "s"}}}}, "no points"},
		{"NaN", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{math.NaN()}}}}}, "point 0 is (1, NaN)"},
		{"Inf", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{math.Inf(1)}, Y: []float64{1}}}}}, "want finite"},
		{"log of zero", 100, 100, []Chart{{LogY: true, Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{0}}}}}, "log axis"},
		{"bad range", 100, 100, []Chart{{YMin: math.Inf(-1), YMax: 1, Series: []Series{ok}}}, "not drawable"},
		{"bad x range", 100, 100, []Chart{{LogX: true, XMin: 0, XMax: 1, Series: []Series{{X: []float64{1}, Y: []float64{1}}}}}, "x range [0, 1]"},
		{"log x of zero", 100, 100, []Chart{{LogX: true, Series: []Series{{Name: "s", X: []float64{0}, Y: []float64{1}}}}}, "x = 0 on a log axis"},
		{"style", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{1}, Style: 7}}}}, "style 7"},
		{"SE count", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1, 2}, SE: []float64{1}}}}}, "1 standard errors for 2 points"},
		{"negative SE", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{1}, SE: []float64{-1}}}}}, "standard error -1"},
		{"NaN SE", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{1}, SE: []float64{math.NaN()}}}}}, "standard error NaN"},
		{"SE below log axis", 100, 100, []Chart{{LogY: true, Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{1}, SE: []float64{1}}}}}, "y − SE = 0"},
		{"range count", 100, 100, []Chart{{Series: []Series{{X: []float64{1, 2}, Y: []float64{1, 2}, Lo: []float64{0}, Hi: []float64{3, 3}}}}}, "1 lows and 2 highs for 2 points"},
		{"range with SE", 100, 100, []Chart{{Series: []Series{{X: []float64{1}, Y: []float64{1}, SE: []float64{0}, Lo: []float64{0}, Hi: []float64{2}}}}}, "with SE: true"},
		{"range misses y", 100, 100, []Chart{{Series: []Series{{X: []float64{1}, Y: []float64{1}, Lo: []float64{1.5}, Hi: []float64{2}}}}}, "range [1.5, 2] around y = 1"},
		{"range below log axis", 100, 100, []Chart{{LogY: true, Series: []Series{{X: []float64{1}, Y: []float64{1}, Lo: []float64{0}, Hi: []float64{2}}}}}, "range low 0 on a log axis"},
		{"zoom", 100, 100, []Chart{{ZoomAfter: 1, Series: []Series{ok}}}, "ZoomAfter 1"},
		{"step", 100, 100, []Chart{{XStep: math.Inf(1), Series: []Series{ok}}}, "XStep +Inf"},
		{"zero width", 0, 100, []Chart{{Series: []Series{ok}}}, "0×100"},
		{"huge", 100000, 100, []Chart{{Series: []Series{ok}}}, "100000×100"},
		{"too short for panels", 100, 60, []Chart{{Series: []Series{ok}}, {Series: []Series{ok}}}, "100×60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := PNG(&buf, tc.w, tc.h, tc.charts...)
			require.ErrorIs(t, err, ErrInput)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, buf.Len(), "nothing written on error")
		})
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.png")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.ErrorIs(t, Training(path, "", ""), ErrInput)
	require.ErrorIs(t, WriteFile(path, 100, 100, Chart{}), ErrInput)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old", string(b), "a failed plot leaves the old file")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")
	require.Error(t, WriteFile(filepath.Join(dir, "no", "such", "dir.png"), 100, 100, Chart{Series: []Series{ok}}))
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(0.15, 2.5) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.Equal(t, []string{"0.2", "0.5", "1", "2"}, labels)
	assert.Nil(t, (logTicks{}).Ticks(0, 1))
	labels = nil
	for _, tk := range (logTicks{}).Ticks(1.2, 2.3) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.GreaterOrEqual(t, len(labels), 3, "2 is the only 1-2-5 value, so linear ticks take over: %v", labels)
	labels = nil
	for _, tk := range (logTicks{}).Ticks(1.5, 3.5) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.Equal(t, []string{"2", "3"}, labels)
}

// Accuracy is in percent in every accuracy panel, against iteration or
// time, with the y range fitted past the first AccuracyZoom of each run.
func TestAccuracyChart(t *testing.T) {
	runs := []Run{
		{Name: "fast", Iter: []float64{0, 20, 40, 60}, Time: []float64{0, 0.1, 0.2, 0.3}, Acc: []float64{0.1, 0.85, 0.9, 0.92}},
		{Name: "slow", Iter: []float64{0, 20, 40, 60}, Time: []float64{0, 10, 20, 30}, Acc: []float64{0.1, 0.8, 0.88, 0.91}},
	}
	for _, byTime := range []bool{false, true} {
		c := AccuracyChart("acc", byTime, runs...)
		require.NoError(t, c.Validate())
		assert.Equal(t, "test accuracy (%)", c.YLabel)
		assert.Equal(t, AccuracyZoom, c.ZoomAfter)
		assert.Contains(t, c.Title, "last 90 % of each run", "the title says the axis is zoomed")
		for _, s := range c.Series {
			for _, y := range s.Y {
				assert.Greater(t, y, 1.0, "%s: %g is a fraction, want percent", s.Name, y)
			}
		}
		lo, hi := c.yRange()
		assert.Greater(t, lo, 10.0, "chance level is below the zoomed axis")
		assert.Less(t, lo, 88.0, "every point past the zoom is in range")
		assert.Greater(t, hi, 92.0)
		if byTime {
			assert.True(t, c.LogX)
			assert.Equal(t, []float64{0.1, 0.2, 0.3}, c.Series[0].X, "time 0 is left off the log axis")
		} else {
			assert.Equal(t, []float64{10, 85, 90, 92}, c.Series[0].Y)
		}
	}
	for _, s := range AccuracyChart("acc", false, runs...).Series {
		assert.Nil(t, s.SE, "no test-set size, no standard errors")
	}
	// With the test-set size: the binomial SE in percent, and the title
	// says what the bands are.
	runs[0].TestN, runs[1].TestN = 10000, 10000
	c := AccuracyChart("acc", false, runs...)
	assert.InDelta(t, 100*math.Sqrt(0.92*0.08/10000), c.Series[0].SE[3], 1e-12)
	assert.Contains(t, c.Title, "±1 binomial SE (10000 test images)")
	runs[1].TestN = 5000
	assert.NotContains(t, AccuracyChart("acc", false, runs...).Title, "10000", "sizes differ")
	_, acc := TrainingCharts("", "", runs...)
	assert.Equal(t, AccuracyChart("", false, runs...).YLabel, acc.YLabel, "training and report plots use one unit")

	// Runs over seeds: their range as the band (in percent), no SE, and
	// the titles say what line and band are.
	seeds := Run{Name: "median", Iter: []float64{0, 20}, Acc: []float64{0.1, 0.9}, Loss: []float64{math.NaN(), 0.5},
		Seeds: 5, AccLo: []float64{0.08, 0.85}, AccHi: []float64{0.12, 0.95}, LossLo: []float64{math.NaN(), 0.4}, LossHi: []float64{math.NaN(), 0.7}}
	c = AccuracyChart("acc", false, seeds)
	require.NoError(t, c.Validate())
	assert.Nil(t, c.Series[0].SE)
	assert.Equal(t, []float64{85, 95}, []float64{c.Series[0].Lo[1], c.Series[0].Hi[1]})
	assert.Contains(t, c.Title, "median of 5 seeds, bands: their range")
	l := LossChart("loss", "", seeds)
	require.NoError(t, l.Validate())
	assert.Equal(t, []float64{0.4}, l.Series[0].Lo, "the unmeasured point is left out with its range")
	assert.Equal(t, []float64{0.7}, l.Series[0].Hi)
	assert.Equal(t, "loss; lines: median of 5 seeds, bands: their range", l.Title)
	assert.True(t, l.LogY)

	// A run without positive times keeps a linear time axis.
	runs[1].Time = []float64{0, 0, 0, 0}
	c = AccuracyChart("acc", true, runs...)
	assert.False(t, c.LogX)
	require.NoError(t, c.Validate())
	// Ragged runs are refused by Validate, not a panic.
	runs[1].Time = nil
	require.ErrorIs(t, AccuracyChart("acc", true, runs...).Validate(), ErrInput)
}
