package plot

import (
	"image"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// kinds counts the data plotters a chart built, by type.
func kinds(ps []gplot.Plotter) (lines, scatters, errBars int) {
	for _, p := range ps {
		switch p.(type) {
		case *plotter.Line:
			lines++
		case *plotter.Scatter:
			scatters++
		case *plotter.YErrorBars:
			errBars++
		}
	}
	return lines, scatters, errBars
}

// Categories (coupling elements, channels) are drawn as markers: no line
// joins one category to the next. Continuous x keeps its line.
func TestMarkersAreNotJoined(t *testing.T) {
	x := []float64{0, 1, 2, 3}
	y := []float64{1, -1, 2, -2}
	c := Chart{Series: []Series{{Name: "elements", X: x, Y: y, Style: Markers}}}
	require.NoError(t, c.Validate())
	lines, scatters, _ := kinds(c.build().plotters)
	assert.Zero(t, lines, "a categorical series must not be drawn as a line")
	assert.Equal(t, 1, scatters)

	c.Series[0].Style = Lines
	lines, scatters, _ = kinds(c.build().plotters)
	assert.Equal(t, 1, lines)
	assert.Zero(t, scatters)
}

// A series with standard errors gets ±1 SE bars at its points; one without
// gets none.
func TestErrorBarsWhereStandardErrorsExist(t *testing.T) {
	se := []float64{0.1, 0.2, 0.3}
	c := Chart{Series: []Series{
		{Name: "with", X: []float64{0, 1, 2}, Y: []float64{1, 2, 3}, SE: se, Style: Markers},
		{Name: "without", X: []float64{0, 1, 2}, Y: []float64{3, 2, 1}, Style: Markers},
	}}
	require.NoError(t, c.Validate())
	d := c.build()
	_, _, errBars := kinds(d.plotters)
	require.Equal(t, 1, errBars, "exactly the series with standard errors has error bars")
	for _, p := range d.plotters {
		eb, ok := p.(*plotter.YErrorBars)
		if !ok {
			continue
		}
		require.Len(t, eb.YErrors, len(se))
		for i, e := range eb.YErrors {
			assert.Equal(t, se[i], e.Low, "point %d", i)
			assert.Equal(t, se[i], e.High, "point %d", i)
			assert.Equal(t, c.Series[0].Y[i], eb.XYs[i].Y)
		}
	}
	// The y range holds the bars.
	assert.LessOrEqual(t, d.plot.Y.Min, 1-0.1)
	assert.GreaterOrEqual(t, d.plot.Y.Max, 3+0.3)
}

// Along a line, standard errors are a band (a polygon through y ± SE)
// drawn behind the line, not error bars at every point.
func TestBandAlongLine(t *testing.T) {
	y, se := []float64{1, 2, 3}, []float64{0.1, 0.2, 0.3}
	c := Chart{Series: []Series{{Name: "curve", X: []float64{0, 1, 2}, Y: y, SE: se}}}
	require.NoError(t, c.Validate())
	ps := c.build().plotters
	_, _, errBars := kinds(ps)
	assert.Zero(t, errBars)
	require.Len(t, ps, 2)
	pg, ok := ps[0].(*plotter.Polygon)
	require.True(t, ok, "the band comes first, behind the line: %T", ps[0])
	_, ok = ps[1].(*plotter.Line)
	require.True(t, ok)
	require.Len(t, pg.XYs, 1)
	ring := pg.XYs[0]
	require.Len(t, ring, 2*len(y))
	for i := range y {
		assert.InDelta(t, y[i]+se[i], ring[i].Y, 1e-12, "upper edge at %d", i)
		assert.InDelta(t, y[i]-se[i], ring[2*len(y)-1-i].Y, 1e-12, "lower edge at %d", i)
	}
	// A one-point line gets an error bar instead.
	c.Series[0] = Series{X: []float64{0}, Y: []float64{1}, SE: []float64{0.1}}
	_, _, errBars = kinds(c.build().plotters)
	assert.Equal(t, 1, errBars)
}

// A Lo–Hi range is drawn like SE but need not be symmetric: the band's
// edges are Hi and Lo themselves, bars reach them, and the y range fits
// them.
func TestRangeBand(t *testing.T) {
	y, lo, hi := []float64{1, 2, 3}, []float64{0.5, 1.9, 2}, []float64{1.1, 4, 3}
	c := Chart{Series: []Series{{X: []float64{0, 1, 2}, Y: y, Lo: lo, Hi: hi}}}
	require.NoError(t, c.Validate())
	ps := c.build().plotters
	pg, ok := ps[0].(*plotter.Polygon)
	require.True(t, ok, "the band comes first: %T", ps[0])
	ring := pg.XYs[0]
	require.Len(t, ring, 2*len(y))
	for i := range y {
		assert.InDelta(t, hi[i], ring[i].Y, 1e-12, "upper edge at %d", i)
		assert.InDelta(t, lo[i], ring[2*len(y)-1-i].Y, 1e-12, "lower edge at %d", i)
	}
	ylo, yhi := c.yRange()
	assert.InDelta(t, 0.5-0.05*3.5, ylo, 1e-12, "lowest Lo 0.5, highest Hi 4, padded by 5 % of 3.5")
	assert.InDelta(t, 4+0.05*3.5, yhi, 1e-12)
	c.Series[0].Style = Markers
	for _, p := range c.build().plotters {
		if eb, ok := p.(*plotter.YErrorBars); ok {
			assert.InDelta(t, 1.0-0.5, eb.YErrors[0].Low, 1e-12)
			assert.InDelta(t, 1.1-1.0, eb.YErrors[0].High, 1e-12)
			assert.InDelta(t, 4.0-2.0, eb.YErrors[1].High, 1e-12)
		}
	}
	_, _, errBars := kinds(c.build().plotters)
	assert.Equal(t, 1, errBars)
}

// Hue and Glyph pick a series' colour and marker; 0 leaves them to its
// position.
func TestHueAndGlyph(t *testing.T) {
	pts := []float64{0, 1}
	c := Chart{Series: []Series{
		{X: pts, Y: pts, Style: Markers},
		{X: pts, Y: pts, Style: Markers, Hue: 1, Glyph: 4},
	}}
	require.NoError(t, c.Validate())
	var sc []*plotter.Scatter
	for _, p := range c.build().plotters {
		sc = append(sc, p.(*plotter.Scatter))
	}
	require.Len(t, sc, 2)
	assert.Equal(t, seriesColor(0), sc[0].Color)
	assert.Equal(t, seriesColor(0), sc[1].Color, "Hue 1 is the first colour, whatever the position")
	assert.Equal(t, plotutil.Shape(0), sc[0].Shape)
	assert.Equal(t, plotutil.Shape(3), sc[1].Shape)
	c.Series[1].Hue = -1
	require.ErrorIs(t, c.Validate(), ErrInput)
}

// Marker series at the same categories are set side by side, in series
// order, within a quarter of the category spacing; lines are not moved.
func TestMarkersDodge(t *testing.T) {
	x := []float64{0, 2, 4}
	c := Chart{Series: []Series{
		{X: x, Y: []float64{1, 1, 1}, Style: Markers},
		{X: x, Y: []float64{1, 1, 1}, Style: Lines},
		{X: x, Y: []float64{1, 1, 1}, Style: Markers},
	}}
	shift := c.dodge()
	assert.Zero(t, shift[1])
	assert.Less(t, shift[0], shift[2])
	for _, s := range shift {
		assert.LessOrEqual(t, math.Abs(s), 2.0/4)
	}
	var xs [][]float64
	for _, p := range c.build().plotters {
		if sc, ok := p.(*plotter.Scatter); ok {
			var v []float64
			for _, pt := range sc.XYs {
				v = append(v, pt.X)
			}
			xs = append(xs, v)
		}
	}
	require.Len(t, xs, 2)
	for i := range x {
		assert.NotEqual(t, xs[0][i], xs[1][i], "coincident markers at category %g", x[i])
	}
}

func newCanvas(w, h int) draw.Canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	return draw.New(vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi)))
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// Legends sit beside the panels, never over any panel's data area, and
// inside the image; the gonum plots draw no legend of their own.
func TestLegendOutsideData(t *testing.T) {
	x, y := curve(50, func(i float64) float64 { return 1 - math.Exp(-i/5) })
	var many []Series
	for i := range 9 {
		many = append(many, Series{Name: "a rather long run name " + string(rune('a'+i)), X: x, Y: y})
	}
	charts := []Chart{
		{Title: "nine runs", Series: many},
		{Title: "unnamed", Series: []Series{{X: x, Y: y}}},
		{Title: "markers", Series: []Series{{Name: "probe 1", X: x, Y: y, Style: Markers}}},
	}
	dc := newCanvas(900, 1200)
	f := newFigure(charts)
	at := f.layout(dc)
	for i, p := range f.panels {
		assert.Zero(t, p.plot.Legend.Rectangle(dc).Size().X, "panel %d: gonum would draw a legend inside the data", i)
		if charts[i].Title == "unnamed" {
			assert.Nil(t, p.legend)
			continue
		}
		require.NotNil(t, p.legend, "panel %d", i)
		box := at.legend[i]
		assert.Positive(t, box.Size().X)
		assert.Positive(t, box.Size().Y)
		for j, data := range at.data {
			assert.False(t, overlaps(box, data), "legend %d %v overlaps the data area of panel %d %v", i, box, j, data)
		}
		assert.GreaterOrEqual(t, box.Min.X, dc.Min.X)
		assert.LessOrEqual(t, box.Max.X, dc.Max.X)
		assert.GreaterOrEqual(t, box.Min.Y, dc.Min.Y)
		assert.LessOrEqual(t, box.Max.Y, dc.Max.Y)
	}
}

// The y range comes from the data: with ZoomAfter, from the points past
// the first part of each series' x span, padded 5 % per side.
func TestYRangeFromData(t *testing.T) {
	// Rises from 10 to ~90 and settles: at x ≥ 10 (10 % of 0..100) y is
	// within [lo, hi] below.
	x, y := curve(11, func(i float64) float64 { return 90 - 80*math.Exp(-2*i) })
	c := Chart{ZoomAfter: 0.1, Series: []Series{{X: x, Y: y}}}
	lo, hi := c.yRange()
	dataLo, dataHi := y[1], y[len(y)-1] // the curve rises: its extremes past x = 10
	pad := 0.05 * (dataHi - dataLo)
	assert.InDelta(t, dataLo-pad, lo, 1e-9)
	assert.InDelta(t, dataHi+pad, hi, 1e-9)
	assert.Greater(t, lo, y[0], "the first point (chance level) is left below the axis")
	p := c.build().plot
	assert.Equal(t, lo, p.Y.Min)
	assert.Equal(t, hi, p.Y.Max)

	// Without a zoom every point is in range, still padded.
	c.ZoomAfter = 0
	lo, hi = c.yRange()
	assert.Less(t, lo, y[0])
	assert.Greater(t, hi, y[len(y)-1])
	// A fixed range wins.
	c.YMin, c.YMax = -1, 2
	lo, hi = c.yRange()
	assert.Equal(t, [2]float64{-1, 2}, [2]float64{lo, hi})
	// A log axis pads by a factor: 1..100 → 10^(−0.1)..10^(2.1).
	c = Chart{LogY: true, Series: []Series{{X: []float64{0, 1}, Y: []float64{1, 100}}}}
	lo, hi = c.yRange()
	assert.InDelta(t, math.Pow(10, -0.1), lo, 1e-12)
	assert.InDelta(t, math.Pow(10, 2.1), hi, 1e-9)
	// A flat series still gets a range.
	c = Chart{Series: []Series{{X: []float64{0, 1}, Y: []float64{3, 3}}}}
	lo, hi = c.yRange()
	assert.Less(t, lo, 3.0)
	assert.Greater(t, hi, 3.0)
}

func TestStepTicks(t *testing.T) {
	var labels []string
	for _, tk := range (stepTicks{8}).Ticks(-0.4, 63.4) {
		labels = append(labels, tk.Label)
	}
	assert.Equal(t, []string{"0", "8", "16", "24", "32", "40", "48", "56"}, labels, "no −0")
	labels = nil
	for _, tk := range (roundTicks{8}).Ticks(86.7, 93.6) {
		labels = append(labels, tk.Label)
	}
	assert.Equal(t, []string{"87", "88", "89", "90", "91", "92", "93"}, labels)
	labels = nil
	for _, tk := range (roundTicks{4}).Ticks(-0.00035, 0.00035) {
		labels = append(labels, tk.Label)
	}
	assert.Equal(t, []string{"-0.0002", "0", "0.0002"}, labels)
	labels = nil
	for _, tk := range (roundTicks{4}).Ticks(0, 1560) {
		labels = append(labels, tk.Label)
	}
	assert.Equal(t, []string{"0", "500", "1000", "1500"}, labels)
	assert.NotEmpty(t, (stepTicks{1}).Ticks(0, 1000), "too many steps: gonum's ticks")
}
