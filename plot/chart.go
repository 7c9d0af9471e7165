package plot

import (
	"image/color"
	"math"
	"slices"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// drawn is what a chart becomes: the gonum plot (axes, grid, data) and
// its legend, drawn apart from the plot so that it never covers data.
type drawn struct {
	plot     *gplot.Plot
	plotters []gplot.Plotter // the data plotters added to plot, in order
	legend   *gplot.Legend   // nil when no series is named
}

// build turns a validated chart into gonum plotters: a line per Lines
// series (plus a marker when it has a single point), a scatter per
// Markers series; standard errors as a ±1 SE band behind a line, as error
// bars on markers (and on a one-point line).
func (c Chart) build() drawn {
	p := gplot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Add(plotter.NewGrid())
	if c.LogX {
		p.X.Scale = gplot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	} else if c.XStep > 0 {
		p.X.Tick.Marker = stepTicks{c.XStep}
	}
	if c.LogY {
		p.Y.Scale = gplot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	} else {
		p.Y.Tick.Marker = roundTicks{yTicks}
	}
	d := drawn{plot: p}
	leg := gplot.NewLegend()
	leg.Top, leg.Left = true, true
	named := 0
	shift := c.dodge()
	for i, s := range c.Series {
		col, shape := i, i // the series' position picks its colour and marker
		if s.Hue > 0 {
			col = s.Hue - 1
		}
		if s.Glyph > 0 {
			shape = s.Glyph - 1
		}
		xy := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xy[j].X, xy[j].Y = s.X[j]+shift[i], s.Y[j]
		}
		var thumb gplot.Thumbnailer
		if s.Style == Lines {
			l, _ := plotter.NewLine(xy) // cannot fail after Validate
			l.Color = seriesColor(col)
			l.Width = vg.Points(1.5)
			l.Dashes = plotutil.Dashes(col / len(palette))
			d.plotters = append(d.plotters, l)
			thumb = l
		}
		if s.Style == Markers || len(xy) == 1 { // a one-point line draws nothing
			sc, _ := plotter.NewScatter(xy)
			sc.Color = seriesColor(col)
			sc.Shape = plotutil.Shape(shape)
			sc.Radius = vg.Points(2.5)
			d.plotters = append(d.plotters, sc)
			if thumb == nil {
				thumb = sc
			}
		}
		down, up := s.spread()
		switch {
		case down == nil:
		case s.Style == Lines && len(xy) > 1:
			// Behind the line: error bars at every point of a curve would
			// be a comb.
			last := len(d.plotters) - 1
			line := d.plotters[last]
			d.plotters = append(d.plotters[:last], band(xy, down, up, seriesColor(col)), line)
		default:
			d.plotters = append(d.plotters, errorBars(xy, down, up, seriesColor(col)))
		}
		if s.Name != "" {
			leg.Add(s.Name, thumb)
			named++
		}
	}
	p.Add(d.plotters...)
	if named > 0 {
		d.legend = &leg
	}
	if c.XMin < c.XMax {
		p.X.Min, p.X.Max = c.XMin, c.XMax
	}
	p.Y.Min, p.Y.Max = c.yRange()
	return d
}

// spread returns how far below and above each Y the series' band or bars
// reach: ±SE, or down to Lo and up to Hi; nil, nil when it has neither.
func (s Series) spread() (down, up []float64) {
	if s.SE != nil {
		return s.SE, s.SE
	}
	if s.Lo == nil {
		return nil, nil
	}
	down, up = make([]float64, len(s.Y)), make([]float64, len(s.Y))
	for i, y := range s.Y {
		down[i], up[i] = y-s.Lo[i], s.Hi[i]-y
	}
	return down, up
}

// band is the translucent area between y − down and y + up along a curve.
func band(xy plotter.XYs, down, up []float64, col color.Color) *plotter.Polygon {
	ring := make(plotter.XYs, 0, 2*len(xy))
	for i, p := range xy {
		ring = append(ring, plotter.XY{X: p.X, Y: p.Y + up[i]})
	}
	for i := len(xy) - 1; i >= 0; i-- {
		ring = append(ring, plotter.XY{X: xy[i].X, Y: xy[i].Y - down[i]})
	}
	pg, _ := plotter.NewPolygon(ring) // cannot fail: finite after Validate
	r, g, b, _ := col.RGBA()
	pg.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x40}
	pg.LineStyle.Width = 0
	return pg
}

// errorBars draws bars from y − down to y + up with small caps at each
// point.
func errorBars(xy plotter.XYs, down, up []float64, col color.Color) *plotter.YErrorBars {
	e := make(plotter.YErrors, len(down))
	for i := range down {
		e[i].Low, e[i].High = down[i], up[i]
	}
	eb, _ := plotter.NewYErrorBars(struct {
		plotter.XYs
		plotter.YErrors
	}{xy, e}) // cannot fail: finite after Validate
	eb.Color = col
	eb.Width = vg.Points(1)
	eb.CapWidth = vg.Points(3)
	return eb
}

// dodge returns each series' x shift: 0 for Lines; for the m Markers
// series, evenly spaced offsets spanning half the smallest gap between
// their distinct x values, so that series at the same category sit side
// by side, in series order, within the category.
func (c Chart) dodge() []float64 {
	shift := make([]float64, len(c.Series))
	var xs []float64
	var idx []int
	for i, s := range c.Series {
		if s.Style == Markers {
			xs = append(xs, s.X...)
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 || c.LogX {
		return shift
	}
	slices.Sort(xs)
	gap := math.Inf(1)
	for i := 1; i < len(xs); i++ {
		if d := xs[i] - xs[i-1]; d > 0 {
			gap = min(gap, d)
		}
	}
	if math.IsInf(gap, 1) {
		gap = 1
	}
	m := float64(len(idx))
	for j, i := range idx {
		shift[i] = (float64(j) - (m-1)/2) * gap / (2 * m)
	}
	return shift
}

// yRange returns the y range: YMin..YMax when set, else the range of each
// series' points (with their band or bars) past the first ZoomAfter of its x span, padded by
// 5 % on each side (in log space on a log axis) so that no marker sits on
// the frame.
func (c Chart) yRange() (lo, hi float64) {
	if c.YMin < c.YMax {
		return c.YMin, c.YMax
	}
	tr, inv := func(v float64) float64 { return v }, func(v float64) float64 { return v }
	if c.LogY {
		tr, inv = math.Log10, func(v float64) float64 { return math.Pow(10, v) }
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		x0, x1 := slices.Min(s.X), slices.Max(s.X)
		from := x0 + c.ZoomAfter*(x1-x0)
		down, up := s.spread()
		for i, x := range s.X {
			if x < from {
				continue
			}
			var d, u float64
			if down != nil {
				d, u = down[i], up[i]
			}
			lo, hi = min(lo, tr(s.Y[i]-d)), max(hi, tr(s.Y[i]+u))
		}
	}
	pad := 0.05 * (hi - lo)
	if pad == 0 {
		pad = 0.05 * max(math.Abs(hi), 1)
	}
	return inv(lo - pad), inv(hi + pad)
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
