package calibration

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spukit/spukit/hal"
)

// BenchmarkCalibratedSolve is the full accuracy table of
// docs/calibration.md (make bench-calibration): five sim:proto8 seeds, four
// random SPD problems of condition 100 each, every solve sampling 2.5 s of
// board time, on
//
//   - sim:ideal (the reference; it has twice proto8's coupling
//     range and ADC range, so it is statistically better at equal time),
//   - testdata/proto8-ideal.json (proto8's ranges with ideal parts: the
//     statistical floor of proto8's geometry),
//   - sim:proto8 uncalibrated, calibrated with nearest-code rounding,
//     calibrated with dithering,
//   - testdata/proto8-continuous.json calibrated (the same parts with
//     continuous couplings: what calibration leaves without quantisation).
//
// It logs a Markdown table of mean relative errors and the calibration cost.
func BenchmarkCalibratedSolve(b *testing.B) {
	ctx := context.Background()
	const problems = 4
	const dur = 2500 * time.Millisecond
	cols := []string{"ideal", "proto8 ranges, ideal parts", "uncalibrated", "calibrated", "calibrated + dither", "continuous couplings, calibrated"}
	var table strings.Builder
	fmt.Fprintf(&table, "| seed | %s | cal. board time | cal. wall |\n|---|%s---|---|\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	total := make([]float64, len(cols))
	for range b.N {
		for seed := uint64(1); seed <= 5; seed++ {
			mustOpen := func(uri string) hal.Board {
				bd, err := hal.Open(ctx, uri)
				if err != nil {
					b.Fatal(err)
				}
				return bd
			}
			raw := mustOpen(fmt.Sprintf("sim:proto8?seed=%d", seed))
			cont := mustOpen(fmt.Sprintf("sim:testdata/proto8-continuous.json?seed=%d", seed))
			cal, err := Calibrate(ctx, raw, nil)
			if err != nil {
				b.Fatal(err)
			}
			calC, err := Calibrate(ctx, cont, nil)
			if err != nil {
				b.Fatal(err)
			}
			round, _ := Wrap(raw, cal, nil)
			dith, _ := Wrap(raw, cal, &WrapOptions{Dither: true})
			contW, _ := Wrap(cont, calC, nil)
			boards := []hal.Board{mustOpen(fmt.Sprintf("sim:ideal?seed=%d", seed)),
				mustOpen(fmt.Sprintf("sim:testdata/proto8-ideal.json?seed=%d", seed)), raw, round, dith, contW}
			errs := make([]float64, len(cols))
			for p := uint64(1); p <= problems; p++ {
				for c, bd := range boards {
					e := solveErrB(b, bd, 10*seed+p, dur)
					errs[c] += e / problems
				}
			}
			row := make([]string, len(cols))
			for c, e := range errs {
				row[c] = fmt.Sprintf("%.2g", e)
				total[c] += math.Log(e) / 5
			}
			fmt.Fprintf(&table, "| %d | %s | %.1f s | %.1f s |\n", seed, strings.Join(row, " | "), cal.Cost.BoardTimeS, cal.Cost.WallS)
			for _, bd := range boards {
				bd.Close()
			}
			cont.Close()
		}
	}
	row := make([]string, len(cols))
	for c, l := range total {
		row[c] = fmt.Sprintf("**%.2g**", math.Exp(l/float64(b.N)))
	}
	fmt.Fprintf(&table, "| geometric mean | %s | | |\n", strings.Join(row, " | "))
	b.Log("\n" + table.String())
}

func solveErrB(b *testing.B, bd hal.Board, p uint64, d time.Duration) float64 {
	a, rhs, x := spdProblem(8, 100, p)
	r, err := solveOn(bd, a, rhs, d)
	if err != nil {
		b.Fatal(err)
	}
	return relErr(r, x)
}
