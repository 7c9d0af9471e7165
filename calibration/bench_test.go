package calibration

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
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
	return testnum.RelErr(r, x)
}

// BenchmarkCalibrationBudget is the diagnosis table of docs/calibration.md
// (make bench-calibration-budget): how the calibrated solve error on
// continuous-coupling boards (quantisation out of the picture) moves with
// the calibration budget — seeds 1–3, four problems each, 2.5 s sampling —
// and the drift check's χ²/dof on fresh calibrations, checked in-process
// and on a re-opened simulator (seeds 1–6).
func BenchmarkCalibrationBudget(b *testing.B) {
	ctx := context.Background()
	rows := []struct {
		name, profile string
		calibrate     bool
		o             Options
	}{
		{"ideal parts, not calibrated", "testdata/proto8-ideal-continuous.json", false, Options{}},
		{"ideal parts, default budget", "testdata/proto8-ideal-continuous.json", true, Options{}},
		{"ideal parts, 4× transients", "testdata/proto8-ideal-continuous.json", true, Options{Events: 4 * DefaultEvents}},
		{"ideal parts, 4× bias sweep", "testdata/proto8-ideal-continuous.json", true, Options{BiasTaus: 4 * DefaultBiasTaus}},
		{"ideal parts, 4× both", "testdata/proto8-ideal-continuous.json", true, Options{Events: 4 * DefaultEvents, BiasTaus: 4 * DefaultBiasTaus}},
		{"proto8 parts, default budget", "testdata/proto8-continuous.json", true, Options{}},
		{"proto8 parts without INL, default", "testdata/proto8-continuous-noinl.json", true, Options{}},
		{"proto8 parts, 4× transients", "testdata/proto8-continuous.json", true, Options{Events: 4 * DefaultEvents}},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| board | calibration board time | error |\n|---|---|---|\n")
	for range b.N {
		for _, row := range rows {
			var tot, bt float64
			for seed := uint64(1); seed <= 3; seed++ {
				bd, err := hal.Open(ctx, fmt.Sprintf("sim:%s?seed=%d", row.profile, seed))
				if err != nil {
					b.Fatal(err)
				}
				use := bd
				if row.calibrate {
					o := row.o
					c, err := Calibrate(ctx, bd, &o)
					if err != nil {
						b.Fatal(err)
					}
					bt = c.Cost.BoardTimeS
					if use, err = Wrap(bd, c, nil); err != nil {
						b.Fatal(err)
					}
				}
				e := 0.0
				for p := uint64(1); p <= 4; p++ {
					e += solveErrB(b, use, 10*seed+p, 2500*time.Millisecond) / 4
				}
				tot += math.Log(e) / 3
				bd.Close()
			}
			fmt.Fprintf(&table, "| %s | %.0f s | %.2g |\n", row.name, bt, math.Exp(tot))
		}
		fmt.Fprintf(&table, "\n| seed | χ²/dof in-process | χ²/dof on a re-opened simulator |\n|---|---|---|\n")
		for seed := uint64(1); seed <= 6; seed++ {
			uri := fmt.Sprintf("sim:proto8?seed=%d", seed)
			bd, err := hal.Open(ctx, uri)
			if err != nil {
				b.Fatal(err)
			}
			c, err := Calibrate(ctx, bd, &Options{Events: 30000, Seed: seed})
			if err != nil {
				b.Fatal(err)
			}
			r1, err := Check(ctx, bd, c, &CheckOptions{Seed: seed + 100})
			if err != nil {
				b.Fatal(err)
			}
			fresh, err := hal.Open(ctx, uri)
			if err != nil {
				b.Fatal(err)
			}
			r2, err := Check(ctx, fresh, c, &CheckOptions{Seed: seed + 100})
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&table, "| %d | %.2f | %.2f |\n", seed, r1.Chi2PerDof, r2.Chi2PerDof)
			bd.Close()
			fresh.Close()
		}
	}
	// b.Log truncates long output: the table goes to stdout whole.
	fmt.Print(table.String())
}
