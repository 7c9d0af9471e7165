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
	"github.com/spukit/spukit/sim"
)

// BenchmarkCalibratedSolve is the accuracy table of docs/calibration.md
// (make bench-calibration), on board seeds and condition numbers that no
// option was tuned on: sim:proto8 seeds 11–15, four random SPD problems at
// each of condition 10, 50 and 100 per seed, every solve sampling 2.5 s of
// board time with the solver's defaults otherwise, on
//
//   - the ideal-parts floor: the same board (seed) with every tolerance,
//     offset, gain error, INL, tempco and ageing zeroed but every noise
//     kept (injected, ADC read, bias DAC output), wrapped with dithering
//     and the exact calibration of such a board (unit gains, zero offsets):
//     what a perfect calibration would reach with this design, its 10-bit
//     couplings and this sampling time,
//   - sim:proto8 uncalibrated, and calibrated with dithering (spu solve's
//     default with --calibration).
//
// It prints a Markdown table, a row per problem as it is solved (relative error
// ‖x − x_digital‖/‖x_digital‖, the cut uncalibrated/calibrated+dither, and
// calibrated+dither over the floor) and the geometric means per condition
// number and overall.
func BenchmarkCalibratedSolve(b *testing.B) {
	ctx := context.Background()
	const problems = 4
	const dur = 2500 * time.Millisecond
	seeds := []uint64{11, 12, 13, 14, 15}
	conds := []float64{10, 50, 100}
	cols := []string{"ideal-parts floor", "uncalibrated", "calibrated + dither"}
	// Rows go to stdout as they are measured (b.Log truncates long output,
	// and a loaded machine may stop the run part way).
	fmt.Printf("| seed | cond | problem | %s | cut | cal./floor |\n|---|---|---|%s---|---|\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	var table strings.Builder
	logs := map[float64][]float64{} // per condition: log error per column, summed
	var calCost []string
	for range b.N {
		for _, seed := range seeds {
			ideal, err := sim.New(idealParts(b), seed)
			if err != nil {
				b.Fatal(err)
			}
			floor, err := Wrap(ideal, exactCalibration(ideal.Info()), &WrapOptions{Dither: true})
			if err != nil {
				b.Fatal(err)
			}
			raw, err := hal.Open(ctx, fmt.Sprintf("sim:proto8?seed=%d", seed))
			if err != nil {
				b.Fatal(err)
			}
			cal, err := Calibrate(ctx, raw, nil)
			if err != nil {
				b.Fatal(err)
			}
			calCost = append(calCost, fmt.Sprintf("seed %d: %.1f s board time, %.1f s wall", seed, cal.Cost.BoardTimeS, cal.Cost.WallS))
			dith, _ := Wrap(raw, cal, &WrapOptions{Dither: true})
			boards := []hal.Board{floor, raw, dith}
			for _, cond := range conds {
				if logs[cond] == nil {
					logs[cond] = make([]float64, len(cols))
				}
				for p := uint64(1); p <= problems; p++ {
					errs := make([]float64, len(cols))
					for c, bd := range boards {
						errs[c] = condErrB(b, bd, cond, 1000*seed+10*uint64(cond)+p, dur)
						logs[cond][c] += math.Log(errs[c])
					}
					row := make([]string, len(cols))
					for c, e := range errs {
						row[c] = fmt.Sprintf("%.2g", e)
					}
					fmt.Printf("| %d | %g | %d | %s | %.0f× | %.1f |\n", seed, cond, p, strings.Join(row, " | "), errs[1]/errs[2], errs[2]/errs[0])
				}
			}
			for _, bd := range boards {
				bd.Close()
			}
			ideal.Close()
		}
	}
	n := float64(b.N * len(seeds) * problems)
	fmt.Fprintf(&table, "\n| cond | %s | cut | cal./floor |\n|---|%s---|---|\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	all := make([]float64, len(cols))
	for _, cond := range conds {
		g := make([]float64, len(cols))
		row := make([]string, len(cols))
		for c, l := range logs[cond] {
			g[c] = math.Exp(l / n)
			all[c] += l / (n * float64(len(conds)))
			row[c] = fmt.Sprintf("%.2g", g[c])
		}
		fmt.Fprintf(&table, "| %g | %s | %.0f× | %.1f |\n", cond, strings.Join(row, " | "), g[1]/g[2], g[2]/g[0])
	}
	row := make([]string, len(cols))
	for c := range all {
		all[c] = math.Exp(all[c])
		row[c] = fmt.Sprintf("**%.2g**", all[c])
	}
	fmt.Fprintf(&table, "| all | %s | **%.0f×** | **%.1f** |\n\ncalibration cost: %s\n", strings.Join(row, " | "), all[1]/all[2], all[2]/all[0], strings.Join(calCost, "; "))
	fmt.Print(table.String())
}

// idealParts is proto8 with every part tolerance, offset, gain error, INL,
// tempco, ageing and wiper resistance zeroed but every noise source kept
// (the injected noise current, ADC read noise, bias DAC output noise): the
// board's ideal-parts floor.
func idealParts(b *testing.B) sim.Profile {
	p, err := sim.Builtin("proto8")
	if err != nil {
		b.Fatal(err)
	}
	p.Name = "proto8-ideal-parts"
	p.CapacitorTolerance = 0
	p.Coupling.Tolerance, p.Coupling.TempcoPPM, p.Coupling.AgeingPerHour = 0, 0, 0
	p.Coupling.RheostatOhm, p.Coupling.WiperMinOhm, p.Coupling.WiperMaxOhm = 0, 0, 0
	p.Bias.INLLSB, p.Bias.OffsetV, p.Bias.GainError = 0, 0, 0
	p.Bias.GainTempcoPPM, p.Bias.OffsetTempcoV = 0, 0
	p.ADC.OffsetV, p.ADC.GainError = 0, 0
	return p
}

// exactCalibration is the calibration of an ideal-parts board as a perfect
// measurement would find it: every gain 1, every offset 0, τ and σ nominal.
func exactCalibration(info hal.Info) *Calibration {
	k := info.Cells
	fill := func(n int, v float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	line := func() Affine {
		return Affine{Gain: fill(k, 1), GainSE: fill(k, 0), Offset: fill(k, 0), OffsetSE: fill(k, 0), Residual: fill(k, 0)}
	}
	c := &Calibration{Format: FormatName, Version: FormatVersion, Key: "exact",
		Board: BoardID{Model: info.Model, Serial: info.Serial, Firmware: info.Firmware, Cells: k, TauS: info.Tau.Seconds(),
			CouplingStep: info.CouplingStep, CouplingMax: info.Coupling.Max, SamplePeriodS: info.MinSamplePeriod.Seconds()},
		ADC: line(), Bias: BiasDAC{Affine: line(), Chi2: fill(k, 0)},
		Couplings: Couplings{Gain: fill(k*k, 1), GainSE: fill(k*k, 0), Offset: fill(k*k, 0), OffsetSE: fill(k*k, 0),
			OffsetFitted: make([]bool, k*k), Chi2: fill(k*k, 0), Dof: make([]int, k*k)},
		Cells: Cells{TauS: fill(k, info.Tau.Seconds()), TauSE: fill(k, 0), NoiseV: fill(k, info.Noise), NoiseSE: fill(k, 0),
			EffectiveNoiseV: fill(k, info.Noise)},
		Success: make([]bool, k), BoundaryHits: make([]int, k)}
	for i := range c.Success {
		c.Success[i] = true
	}
	return c
}

func condErrB(b *testing.B, bd hal.Board, cond float64, p uint64, d time.Duration) float64 {
	a, rhs, x := spdProblem(8, cond, p)
	r, err := solveOn(bd, a, rhs, d)
	if err != nil {
		b.Fatal(err)
	}
	return testnum.RelErr(r, x)
}

// solveErrB is condErrB at condition 100.
func solveErrB(b *testing.B, bd hal.Board, p uint64, d time.Duration) float64 {
	return condErrB(b, bd, 100, p, d)
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
