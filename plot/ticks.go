package plot

import (
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
)

// logTicks labels a log axis at 1, 2 and 5 times powers of ten (plus
// unlabelled 3, 4, 6–9 minor ticks), so a range narrower than a decade
// still shows values.
type logTicks struct{}

// Ticks implements gplot.Ticker.
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
				t.Label = formatTick(v)
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
			ticks[i].Label = formatTick(ticks[i].Value)
		}
		return ticks
	}
	return gplot.DefaultTicks{}.Ticks(lo, hi)
}

// yTicks is about how many labels a linear y axis gets: gonum's default
// gives three or four, too few to read values off a zoomed axis.
const yTicks = 8

// roundTicks labels a linear axis at about N multiples of a round step
// (1, 2 or 5 times a power of ten).
type roundTicks struct{ N int }

// Ticks implements gplot.Ticker.
func (t roundTicks) Ticks(lo, hi float64) []gplot.Tick {
	if !(hi > lo) {
		return gplot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / float64(t.N)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * p
	for _, m := range []float64{1, 2, 5} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	return stepTicks{step}.Ticks(lo, hi)
}

// stepTicks labels every multiple of Step in range (gonum's default ticks
// when that would be more than 31 labels).
type stepTicks struct{ Step float64 }

// Ticks implements gplot.Ticker.
func (t stepTicks) Ticks(lo, hi float64) []gplot.Tick {
	first, last := math.Ceil(lo/t.Step), math.Floor(hi/t.Step)
	if last-first > 30 || last < first {
		return gplot.DefaultTicks{}.Ticks(lo, hi)
	}
	// Labels rounded to the decimals the step has (0.05 → 2), so that
	// k·0.1 prints 0.3, not 0.30000000000000004.
	scale := math.Pow(10, max(0, math.Ceil(-math.Log10(t.Step)-1e-9)))
	var ticks []gplot.Tick
	for k := first; k <= last; k++ {
		v := k*t.Step + 0 // + 0 turns −0 into 0
		label := strconv.FormatFloat(math.Round(v*scale)/scale+0, 'f', -1, 64)
		ticks = append(ticks, gplot.Tick{Value: v, Label: label})
	}
	return ticks
}

func formatTick(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }
