// Package plot draws PNG line charts with gonum.org/v1/plot: one or more
// panels stacked vertically, each with named series, axis labels, a title
// and a legend. Training writes its loss and test-accuracy curves with
// Training; reports build their own Charts (for example against time
// instead of iterations) and call PNG.
package plot

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one named curve: points (X[i], Y[i]) joined in order.
type Series struct {
	Name string // legend entry; empty = not in the legend
	X, Y []float64
}

// Chart is one panel.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogY draws the y axis on a log scale (every y must then be > 0).
	LogY bool
	// YMin and YMax fix the y range when YMin < YMax; otherwise it fits
	// the data.
	YMin, YMax float64
	// Legend placement: top right by default, bottom right with
	// LegendBottom (for rising curves such as accuracy).
	LegendBottom bool
}

// ErrInput is wrapped by every error about bad chart data or sizes.
var ErrInput = errors.New("bad plot input")

// Pixel sizes accepted by PNG.
const (
	MinSize = 50
	MaxSize = 10000
	dpi     = 96
)

// DefaultWidth and DefaultHeight are a panel's size in pixels for Training.
const (
	DefaultWidth       = 900
	DefaultPanelHeight = 420
)

// Validate checks a chart: at least one series, equal lengths, at least
// one point each, finite values (positive y when LogY), a sensible fixed
// range.
func (c Chart) Validate() error {
	if len(c.Series) == 0 {
		return fmt.Errorf("chart %q: no series: %w", c.Title, ErrInput)
	}
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("chart %q series %q: %d x values but %d y values: %w", c.Title, s.Name, len(s.X), len(s.Y), ErrInput)
		}
		if len(s.X) == 0 {
			return fmt.Errorf("chart %q series %q: no points: %w", c.Title, s.Name, ErrInput)
		}
		for i := range s.X {
			x, y := s.X[i], s.Y[i]
			if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				return fmt.Errorf("chart %q series %q: point %d is (%g, %g), want finite values: %w", c.Title, s.Name, i, x, y, ErrInput)
			}
			if c.LogY && y <= 0 {
				return fmt.Errorf("chart %q series %q: point %d has y = %g on a log axis, want > 0: %w", c.Title, s.Name, i, y, ErrInput)
			}
		}
	}
	if c.YMin < c.YMax && (math.IsInf(c.YMin, 0) || math.IsInf(c.YMax, 0) || (c.LogY && c.YMin <= 0)) {
		return fmt.Errorf("chart %q: y range [%g, %g] is not drawable: %w", c.Title, c.YMin, c.YMax, ErrInput)
	}
	return nil
}

func (c Chart) plot() *gplot.Plot {
	p := gplot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Add(plotter.NewGrid())
	if c.LogY {
		p.Y.Scale = gplot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	p.Legend.Top = !c.LegendBottom
	for i, s := range c.Series {
		xy := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xy[j].X, xy[j].Y = s.X[j], s.Y[j]
		}
		l, err := plotter.NewLine(xy)
		if err != nil { // unreachable after Validate
			continue
		}
		l.Color = seriesColor(i)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i / len(palette))
		p.Add(l)
		if len(s.X) == 1 { // a single point would draw nothing
			sc, err := plotter.NewScatter(xy)
			if err == nil {
				sc.Color = l.Color
				p.Add(sc)
			}
		}
		if s.Name != "" {
			p.Legend.Add(s.Name, l)
		}
	}
	if c.YMin < c.YMax {
		p.Y.Min, p.Y.Max = c.YMin, c.YMax
	}
	return p
}

// PNG draws the charts stacked vertically (each height/len(charts) pixels
// tall) into a width × height PNG written to w.
func PNG(w io.Writer, width, height int, charts ...Chart) error {
	if width < MinSize || width > MaxSize || height < MinSize*len(charts) || height > MaxSize {
		return fmt.Errorf("plot size %d×%d pixels: want %d..%d wide and %d..%d tall: %w",
			width, height, MinSize, MaxSize, MinSize*max(1, len(charts)), MaxSize, ErrInput)
	}
	if len(charts) == 0 {
		return fmt.Errorf("no charts to draw: %w", ErrInput)
	}
	plots := make([][]*gplot.Plot, len(charts))
	for i, c := range charts {
		if err := c.Validate(); err != nil {
			return err
		}
		plots[i] = []*gplot.Plot{c.plot()}
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	cv := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi))
	dc := draw.New(cv)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: len(charts), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(12)}
	canvases := gplot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return png.Encode(w, cv.Image())
}

// WriteFile writes PNG(…) to path atomically enough for a report: to a
// temporary file in the same directory, renamed over path when complete.
func WriteFile(path string, width, height int, charts ...Chart) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plot-*.png")
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := PNG(tmp, width, height, charts...); err != nil {
		tmp.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("plot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// Run is one training run's curves for Training: at iteration Iter[i] the
// loss was Loss[i] and the test accuracy Acc[i] (a fraction in [0, 1]).
type Run struct {
	Name            string
	Iter, Loss, Acc []float64
}

// TrainingCharts returns the two panels Training draws: loss (log scale,
// when every loss is positive) and test accuracy in percent, against
// iteration.
func TrainingCharts(title, lossLabel string, runs ...Run) (loss, acc Chart) {
	if lossLabel == "" {
		lossLabel = "loss"
	}
	loss = Chart{Title: title, XLabel: "iteration", YLabel: lossLabel, LogY: true}
	acc = Chart{XLabel: "iteration", YLabel: "test accuracy (%)", LegendBottom: true}
	for _, r := range runs {
		loss.Series = append(loss.Series, Series{Name: r.Name, X: r.Iter, Y: r.Loss})
		pct := make([]float64, len(r.Acc))
		for i, a := range r.Acc {
			pct[i] = 100 * a
		}
		acc.Series = append(acc.Series, Series{Name: r.Name, X: r.Iter, Y: pct})
		for _, l := range r.Loss {
			if !(l > 0) {
				loss.LogY = false
			}
		}
	}
	return loss, acc
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

// logTicks labels a log axis at 1, 2 and 5 times powers of ten (plus
// unlabelled 3, 4, 6–9 minor ticks), so a range narrower than a decade
// still shows values.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []gplot.Tick {
	if !(lo > 0) || !(hi >= lo) {
		return nil
	}
	var ticks []gplot.Tick
	labelled := 0
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := gplot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
				labelled++
			}
			ticks = append(ticks, t)
		}
	}
	if labelled >= 2 {
		return ticks
	}
	// Less than a factor of 2.5: label every tick, or fall back to linear
	// ticks when there are too few.
	if len(ticks) >= 2 {
		for i := range ticks {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 3, 64)
		}
		return ticks
	}
	return gplot.DefaultTicks{}.Ticks(lo, hi)
}

// palette is Tableau 10: ten hues told apart also in print and by most
// colour-blind readers (gonum's default has seven). Series beyond ten
// repeat the hues with dashes.
var palette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff},
	{0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff},
}

func seriesColor(i int) color.Color { return palette[i%len(palette)] }
