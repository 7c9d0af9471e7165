//go:build ignore

// Command inverse prints solver.Inverse's estimate of A⁻¹ for
// `spu solve --random N --cond K --seed S`'s A on a board, as JSON, for
// scripts/same-output.sh: spu has no command for the covariance method, so
// the script builds this file in both trees and diffs its output. Usage:
//
//	go run scripts/inverse/main.go BOARD N COND SEED
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"

	_ "github.com/spukit/spukit/sim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "inverse:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: inverse BOARD N COND SEED")
	}
	n, err1 := strconv.Atoi(args[1])
	cond, err2 := strconv.ParseFloat(args[2], 64)
	seed, err3 := strconv.ParseUint(args[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || n < 1 || !(cond >= 1 && cond <= solver.MaxRandomCond) {
		return fmt.Errorf("N %q, COND %q, SEED %q: want N ≥ 1, 1 ≤ COND ≤ %g, SEED ≥ 0", args[1], args[2], args[3], solver.MaxRandomCond)
	}
	ctx := context.Background()
	b, err := hal.Open(ctx, args[0])
	if err != nil {
		return err
	}
	defer b.Close()
	a, _ := solver.RandomSPD(n, cond, seed)
	res, err := solver.Inverse(ctx, b, a, nil)
	if err != nil {
		return err
	}
	out := map[string]any{
		"inv": res.Inv.RawMatrix().Data, "std_err": res.StdErr.RawMatrix().Data,
		"alpha": res.Scale.Alpha, "samples": res.Samples, "batches": res.Batches,
		"burn_s": res.Burn.Seconds(), "duration_s": res.Duration.Seconds(), "period_s": res.Period.Seconds(),
		"board_time_s": res.BoardTime.Seconds(), "saturated": res.Saturated, "notes": res.Notes,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
