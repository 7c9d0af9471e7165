package plot

import (
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// figure is the charts of one image, laid out: panels stacked with their
// data areas aligned, legends in a strip to the right of every panel.
type figure struct {
	panels []drawn
}

// placed is where a figure's parts land on a canvas.
type placed struct {
	plots  []draw.Canvas  // each panel's canvas (axes, title, data)
	data   []vg.Rectangle // each panel's data area
	legend []vg.Rectangle // each panel's legend box (zero when none)
}

// legendGap separates the legend strip from the panels, and legendMargin
// keeps it off the image's right edge (the text's drawn extent can exceed
// its measured width by a little).
const (
	legendGap    = vg.Length(10)
	legendMargin = vg.Length(6)
)

func newFigure(charts []Chart) figure {
	f := figure{panels: make([]drawn, len(charts))}
	for i, c := range charts {
		f.panels[i] = c.build()
	}
	return f
}

// layout places the figure on dc: the legend strip is as wide as the
// widest legend, the panels share the rest, and each legend's top is level
// with its panel's data area.
func (f figure) layout(dc draw.Canvas) placed {
	var strip vg.Length
	for _, p := range f.panels {
		if p.legend != nil {
			strip = max(strip, p.legend.Rectangle(dc).Size().X+legendGap+legendMargin)
		}
	}
	plots := make([][]*gplot.Plot, len(f.panels))
	for i, p := range f.panels {
		plots[i] = []*gplot.Plot{p.plot}
	}
	tiles := draw.Tiles{Rows: len(f.panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(12)}
	canvases := gplot.Align(plots, tiles, draw.Crop(dc, 0, -strip, 0, 0))
	out := placed{plots: make([]draw.Canvas, len(f.panels)), data: make([]vg.Rectangle, len(f.panels)),
		legend: make([]vg.Rectangle, len(f.panels))}
	for i, p := range f.panels {
		c := canvases[i][0]
		out.plots[i] = c
		out.data[i] = p.plot.DataCanvas(c).Rectangle
		if p.legend == nil {
			continue
		}
		size := p.legend.Rectangle(dc).Size()
		top := out.data[i].Max.Y
		out.legend[i] = vg.Rectangle{
			Min: vg.Point{X: dc.Max.X - strip + legendGap, Y: top - size.Y},
			Max: vg.Point{X: dc.Max.X - strip + legendGap + size.X, Y: top},
		}
	}
	return out
}

// draw draws the figure on dc.
func (f figure) draw(dc draw.Canvas) {
	at := f.layout(dc)
	for i, p := range f.panels {
		p.plot.Draw(at.plots[i])
		if p.legend != nil {
			p.legend.Draw(draw.Canvas{Canvas: dc.Canvas, Rectangle: at.legend[i]})
		}
	}
}
