// Package plot draws PNG charts with gonum.org/v1/plot: one or more
// panels stacked vertically, each with named series, axis labels, a title
// and a legend in a strip to the right of the panels, where it cannot hide
// data. A series is drawn as a line when x is continuous (iterations,
// seconds) and as markers when x counts categories (coupling elements,
// channels), with its ±1 standard errors when it has them (error bars on
// markers, a band along a line).
// Training writes its loss and test-accuracy curves with Training;
// reports build their panels with LossChart and AccuracyChart (accuracy
// always in percent) and call WriteFile.
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

	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/spukit/spukit/internal/atomicfile"
)

// Style says how a series is drawn.
type Style int

const (
	// Lines joins the points in order: for x continuous (iterations,
	// time).
	Lines Style = iota
	// Markers draws each point on its own: for x counting categories
	// (coupling elements, channels), where a line from one category to
	// the next would mean nothing. Marker series sharing a chart are
	// shifted apart slightly along x so that coincident points and their
	// error bars stay visible.
	Markers
)

// Series is one named set of points (X[i], Y[i]).
type Series struct {
	Name  string // legend entry; empty = not in the legend
	X, Y  []float64
	Style Style
	// Hue and Glyph, when > 0, choose the colour (1 = the palette's
	// first) and the marker shape (1 = gonum plotutil's first) instead of
	// the series' position, so that series sharing a factor (the same
	// probe, say) share a colour.
	Hue, Glyph int
	// SE, when not nil, holds each Y's standard error, drawn as ±1 SE:
	// error bars on markers, a translucent band along a line.
	SE []float64
	// Lo and Hi, when not nil (both, instead of SE), bound each Y from
	// below and above (Lo[i] ≤ Y[i] ≤ Hi[i]): a range, such as the
	// spread over seeds around their median, drawn like SE.
	Lo, Hi []float64
}

// Chart is one panel.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogX and LogY draw that axis on a log scale (every value on it must
	// then be > 0).
	LogX, LogY bool
	// XMin and XMax fix the x range when XMin < XMax (see ShareX);
	// otherwise it fits the data.
	XMin, XMax float64
	// YMin and YMax fix the y range when YMin < YMax; otherwise it fits
	// the data (see ZoomAfter).
	YMin, YMax float64
	// ZoomAfter, in (0, 1), fits the y range to each series' points past
	// the first ZoomAfter of its x span (with their error bars) instead
	// of to all points: a quantity that rises fast and then settles, such
	// as test accuracy, then shows its differences instead of squeezing
	// them into the top of the axis. Earlier points fall outside the
	// range and are clipped; say so in the title.
	ZoomAfter float64
	// XStep, when > 0, puts a labelled tick at every multiple of XStep
	// in range, e.g. 1 for channel numbers or K for the first element of
	// each row of a K × K matrix.
	XStep float64
}

// ErrInput is wrapped by every error about bad chart data or sizes.
var ErrInput = errors.New("bad plot input")

// Pixel sizes accepted by PNG.
const (
	MinSize = 50
	MaxSize = 10000
	dpi     = 96
)

// DefaultWidth and DefaultPanelHeight are a panel's size in pixels for
// Training.
const (
	DefaultWidth       = 900
	DefaultPanelHeight = 420
)

// Validate checks a chart: at least one series, equal lengths, at least
// one point each, finite values (positive on a log axis), standard errors
// finite and ≥ 0, a sensible fixed range and zoom.
func (c Chart) Validate() error {
	if len(c.Series) == 0 {
		return fmt.Errorf("chart %q: no series: %w", c.Title, ErrInput)
	}
	for _, s := range c.Series {
		if err := c.validateSeries(s); err != nil {
			return fmt.Errorf("chart %q series %q: %w", c.Title, s.Name, err)
		}
	}
	if c.YMin < c.YMax && (math.IsInf(c.YMin, 0) || math.IsInf(c.YMax, 0) || (c.LogY && c.YMin <= 0)) {
		return fmt.Errorf("chart %q: y range [%g, %g] is not drawable: %w", c.Title, c.YMin, c.YMax, ErrInput)
	}
	if c.XMin < c.XMax && (math.IsInf(c.XMin, 0) || math.IsInf(c.XMax, 0) || (c.LogX && c.XMin <= 0)) {
		return fmt.Errorf("chart %q: x range [%g, %g] is not drawable: %w", c.Title, c.XMin, c.XMax, ErrInput)
	}
	if !(c.ZoomAfter >= 0 && c.ZoomAfter < 1) {
		return fmt.Errorf("chart %q: ZoomAfter %g, want a fraction in [0, 1): %w", c.Title, c.ZoomAfter, ErrInput)
	}
	if !(c.XStep >= 0) || math.IsInf(c.XStep, 0) {
		return fmt.Errorf("chart %q: XStep %g, want finite and ≥ 0: %w", c.Title, c.XStep, ErrInput)
	}
	return nil
}

func (c Chart) validateSeries(s Series) error {
	if len(s.X) != len(s.Y) {
		return fmt.Errorf("%d x values but %d y values: %w", len(s.X), len(s.Y), ErrInput)
	}
	if len(s.X) == 0 {
		return fmt.Errorf("no points: %w", ErrInput)
	}
	if s.Style != Lines && s.Style != Markers {
		return fmt.Errorf("style %d, want Lines or Markers: %w", s.Style, ErrInput)
	}
	if s.Hue < 0 || s.Glyph < 0 {
		return fmt.Errorf("hue %d, glyph %d: want ≥ 0 (0: by position): %w", s.Hue, s.Glyph, ErrInput)
	}
	if s.SE != nil && len(s.SE) != len(s.Y) {
		return fmt.Errorf("%d standard errors for %d points: %w", len(s.SE), len(s.Y), ErrInput)
	}
	if err := validateRange(s); err != nil {
		return err
	}
	for i := range s.X {
		x, y := s.X[i], s.Y[i]
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("point %d is (%g, %g), want finite values: %w", i, x, y, ErrInput)
		}
		if c.LogX && x <= 0 {
			return fmt.Errorf("point %d has x = %g on a log axis, want > 0: %w", i, x, ErrInput)
		}
		if c.LogY && y <= 0 {
			return fmt.Errorf("point %d has y = %g on a log axis, want > 0: %w", i, y, ErrInput)
		}
		if s.SE != nil && !(s.SE[i] >= 0 && !math.IsInf(s.SE[i], 1)) {
			return fmt.Errorf("point %d has standard error %g, want finite and ≥ 0: %w", i, s.SE[i], ErrInput)
		}
		if s.Lo != nil && c.LogY && s.Lo[i] <= 0 {
			return fmt.Errorf("point %d: range low %g on a log axis, want > 0: %w", i, s.Lo[i], ErrInput)
		}
		if s.SE != nil && c.LogY && y-s.SE[i] <= 0 {
			return fmt.Errorf("point %d: y − SE = %g on a log axis, want > 0: %w", i, y-s.SE[i], ErrInput)
		}
	}
	return nil
}

// validateRange checks a series' Lo and Hi: both or neither, not with
// SE, one each per point, finite, Lo[i] ≤ Y[i] ≤ Hi[i].
func validateRange(s Series) error {
	if s.Lo == nil && s.Hi == nil {
		return nil
	}
	if s.SE != nil || len(s.Lo) != len(s.Y) || len(s.Hi) != len(s.Y) {
		return fmt.Errorf("%d lows and %d highs for %d points (with SE: %v): want one each and no SE: %w",
			len(s.Lo), len(s.Hi), len(s.Y), s.SE != nil, ErrInput)
	}
	for i, y := range s.Y {
		if !(s.Lo[i] <= y && y <= s.Hi[i]) || math.IsInf(s.Lo[i], 0) || math.IsInf(s.Hi[i], 0) {
			return fmt.Errorf("point %d: range [%g, %g] around y = %g, want finite and Lo ≤ y ≤ Hi: %w", i, s.Lo[i], s.Hi[i], y, ErrInput)
		}
	}
	return nil
}

// PNG draws the charts stacked vertically (each height/len(charts) pixels
// tall, less the legend strip on the right) into a width × height PNG
// written to w.
func PNG(w io.Writer, width, height int, charts ...Chart) error {
	if width < MinSize || width > MaxSize || height < MinSize*len(charts) || height > MaxSize {
		return fmt.Errorf("plot size %d×%d pixels: want %d..%d wide and %d..%d tall: %w",
			width, height, MinSize, MaxSize, MinSize*max(1, len(charts)), MaxSize, ErrInput)
	}
	if len(charts) == 0 {
		return fmt.Errorf("no charts to draw: %w", ErrInput)
	}
	for _, c := range charts {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	cv := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi))
	dc := draw.New(cv)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	newFigure(charts).draw(dc)
	return png.Encode(w, cv.Image())
}

// WriteFile writes PNG(…) to path atomically enough for a report: to a
// temporary file in the same directory, renamed over path when complete.
// The file's mode is 0666 less the umask, like any file a program writes.
func WriteFile(path string, width, height int, charts ...Chart) error {
	tmp, err := atomicfile.CreateTemp(filepath.Dir(path), ".plot-", ".png")
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := PNG(tmp, width, height, charts...); err != nil {
		tmp.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
