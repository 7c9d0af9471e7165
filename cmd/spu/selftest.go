package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/selftest"
)

const selftestHelp = `The bring-up check to run on a new board before anything else
(docs/boards.md, "First power-up"). Through the HAL, plus the driver's own
chip read-back where it has one, it measures: the noise floor, τ and state
forcing of every cell; a DAC→ADC loopback per bias channel at several
levels with the couplings the identity (gain, offset, linearity) and its
crosstalk into the other cells; every coupling element at both signs; and
the sampling timing. Each row says what was measured and what a good board
gives; a failed row says the most likely cause and what to check on the
bench. It exits 1 when any check fails, and leaves the board at A = I,
b = 0, x = 0. About 1.5 s of board time on an 8-cell τ = 100 µs board.

A progress bar goes to stderr when it is a terminal (not with --quiet).
`

// selftestJSON is spu selftest --json's report.
type selftestJSON struct {
	Board  string `json:"board"`
	Serial string `json:"serial"`
	*selftest.Report
}

// busStats is implemented by boards that count their bus traffic and late
// samples (driver/spi).
type busStats interface{ Stats() spi.Stats }

func runSelftest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("selftest", "spu selftest [--board URI] [--json] [--all] [--quiet]", selftestHelp)
	quiet := f.Bool("quiet", false, "no progress bar")
	all := f.Bool("all", false, "print every row (by default the passing rows of a check fold into one line)")
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	b, err := hal.Open(ctx, f.board)
	if err != nil {
		// A board the driver refuses at start-up is the selftest's first
		// finding; a malformed URI is a mistake on the command line.
		if errors.Is(err, hal.ErrInvalid) || ctx.Err() != nil {
			return err
		}
		return report(stdout, f, "", selftest.Unopened(err), *all)
	}
	defer b.Close()
	var o selftest.Options
	if bs, ok := b.(busStats); ok {
		o.Late = func() (int, time.Duration) { s := bs.Stats(); return s.Late, s.MaxLate }
	}
	var bar *stageBar
	if !*quiet && isTerminal(stderr) {
		bar = newStageBar(stderr, "selftest "+b.Info().Serial)
		o.Progress = bar.set
	}
	rep, err := selftest.Run(ctx, b, &o)
	if bar != nil {
		bar.clear()
	}
	if err != nil {
		return err
	}
	return report(stdout, f, b.Info().Serial, rep, *all)
}

// report prints rep as JSON or as a table and returns an error when a
// check failed.
func report(stdout io.Writer, f *flags, serial string, rep *selftest.Report, all bool) error {
	if f.json {
		if err := writeJSON(stdout, selftestJSON{Board: f.board, Serial: serial, Report: rep}); err != nil {
			return err
		}
	} else {
		printSelftest(stdout, f.board, serial, rep, all)
	}
	if n := len(rep.Failed()); n > 0 {
		return fmt.Errorf("%d of %d checks failed (see the hints)", n, len(rep.Checks))
	}
	return nil
}

// printSelftest prints the report as a table, then the hint of every
// failed row. Unless all is set, the passing (and the skipped) rows of a
// check that has several (one per cell, channel, element or chip) fold
// into one line:
// the failures are what a technician reads; --all and --json keep every
// row.
func printSelftest(w io.Writer, board, serial string, rep *selftest.Report, all bool) {
	if serial == "" {
		serial = "a board that did not open"
	}
	fmt.Fprintf(w, "selftest of %s (%s)\n\n", serial, board)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "check\tcomponent\tresult\tmeasured\texpected\n")
	for _, g := range groupChecks(rep.Checks) {
		ok, skipped := 0, 0
		for _, c := range g {
			if c.Pass && !all && len(g) > 1 {
				if c.Skipped {
					skipped++
				} else {
					ok++
				}
				continue
			}
			res := "ok"
			switch {
			case c.Skipped:
				res = "skipped"
			case !c.Pass:
				res = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, c.Component, res, c.Measured, c.Expected)
		}
		if ok > 0 {
			fmt.Fprintf(tw, "%s\t%d of %d\tok\t(each row: --all)\t\n", g[0].Name, ok, len(g))
		}
		if skipped > 0 {
			fmt.Fprintf(tw, "%s\t%d of %d\tskipped\tnot measured: a part they need failed (each row: --all)\t\n", g[0].Name, skipped, len(g))
		}
	}
	tw.Flush()
	failed := rep.Failed()
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nwhat to check:\n")
		for _, c := range failed {
			fmt.Fprintf(w, "  %s, %s: %s\n", c.Name, c.Component, c.Hint)
		}
	}
	clk := "board clock"
	if !rep.Clocked {
		clk = "time in board calls; the board keeps no clock"
	}
	verdict := "PASS"
	if !rep.Pass {
		verdict = fmt.Sprintf("FAIL (%d of %d checks)", len(failed), len(rep.Checks))
	}
	if rep.WallS == 0 { // the board did not open
		fmt.Fprintf(w, "\n%s\n", verdict)
		return
	}
	fmt.Fprintf(w, "\n%s — board time %.2f s (%s), wall %.2f s\n", verdict, rep.BoardTimeS, clk, rep.WallS)
}

// groupChecks splits the rows into runs of the same check name.
func groupChecks(cs []selftest.Check) [][]selftest.Check {
	var gs [][]selftest.Check
	for i, c := range cs {
		if i == 0 || c.Name != cs[i-1].Name {
			gs = append(gs, nil)
		}
		gs[len(gs)-1] = append(gs[len(gs)-1], c)
	}
	return gs
}
