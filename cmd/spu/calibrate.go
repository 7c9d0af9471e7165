package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
)

const calibrateHelp = `Measures the board's analog errors through the HAL only and writes a
calibration file (docs/calibration.md): ADC gain and offset per channel,
bias-DAC gain, offset and INL per channel, every coupling element's
effective gain (and offset when significant), each cell's τ and injected
noise — each with its standard error and fit residual. The file is written
to --out (if given) and to the cache (--cache DIR, default the user cache
directory's spukit/calibration), keyed by serial, firmware and options.
Use it with spu solve --calibration FILE (or "cache") and spu train
--calibration FILE.

--check measures a reference coupling matrix instead and reports whether
the calibration (--calibration FILE, default: the newest cached one for this
board) still holds; it exits 1 when it does not. Age and temperature
changes are reported as warnings.

A progress bar goes to stderr when it is a terminal (not with --quiet); it
names the stage being measured: the transients of each probe matrix (from
which the ADC lines, coupling gains, τ and noise are fitted), then the bias
DAC sweep. An interrupted calibration (Ctrl-C) writes nothing: every
estimate is fitted from all stages together.

--twin FILE.json also writes a simulator profile whose per-element values
are this calibration's estimates (docs/calibration.md, "A twin of a unit"):
sim:FILE.json then behaves like this board. Its ranges, resolutions and
timing come from --twin-base (a built-in profile name or a .json file),
by default from what the board reports (no rails, timing or read noise).
With --calibration FILE instead of a measurement, --twin converts an
existing calibration; --twin-base is then required.
`

// calibrateJSON is spu calibrate --json's summary.
type calibrateJSON struct {
	Board      string    `json:"board"`
	Serial     string    `json:"serial"`
	Key        string    `json:"key"`
	Out        string    `json:"out,omitempty"`
	Twin       string    `json:"twin,omitempty"`
	Cache      string    `json:"cache,omitempty"`
	BoardTimeS float64   `json:"board_time_s"`
	Clocked    bool      `json:"board_time_clocked"`
	WallS      float64   `json:"wall_s"`
	ADCGain    []float64 `json:"adc_gain"`
	ADCOffsetV []float64 `json:"adc_offset_v"`
	BiasGain   []float64 `json:"bias_gain"`
	BiasOffset []float64 `json:"bias_offset_v"`
	TauS       []float64 `json:"tau_s"`
	NoiseV     []float64 `json:"noise_v"`
	// CouplingGainRMS is the rms of (gain − 1) over the elements: the
	// coupling error an uncalibrated board has; CouplingGainSE the rms
	// standard error of a fitted gain.
	CouplingGainRMS float64  `json:"coupling_gain_rms_error"`
	CouplingGainMax float64  `json:"coupling_gain_max_error"`
	CouplingGainSE  float64  `json:"coupling_gain_se"`
	INLChannels     int      `json:"inl_channels"`
	Success         []bool   `json:"success"`
	BoundaryHits    []int    `json:"boundary_hits"`
	Notes           []string `json:"notes"`
}

// checkJSON is spu calibrate --check --json's report.
type checkJSON struct {
	Board       string `json:"board"`
	Calibration string `json:"calibration"`
	*calibration.CheckReport
}

func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("calibrate", "spu calibrate [--board URI] [--out FILE] [--cache DIR] [--plot FILE.png] [--twin FILE.json [--twin-base PROFILE]] [--json] | --check [--calibration FILE] | --calibration FILE --twin FILE.json --twin-base PROFILE", calibrateHelp)
	out := f.String("out", "", "write the calibration to `FILE` (JSON)")
	cache := f.String("cache", "", "cache `DIR` (default: the user cache directory's spukit/calibration)")
	noCache := f.Bool("no-cache", false, "do not write the calibration to the cache")
	plotPath := f.String("plot", "", "write programmed vs realised couplings and per-channel residuals to `FILE.png`")
	events := f.Int("events", 0, fmt.Sprintf("forced-state transients (default %d; fewer is faster and less precise)", calibration.DefaultEvents))
	seed := f.Uint64("seed", 0, "seed of the probe matrices and forced states")
	check := f.Bool("check", false, "check an existing calibration against the board instead of calibrating")
	calPath := f.String("calibration", "", "calibration `FILE` for --check (default: the newest cached one)")
	checkEvents := f.Int("check-events", 0, fmt.Sprintf("transients of the --check measurement (default %d)", calibration.DefaultCheckEvents))
	quiet := f.Bool("quiet", false, "no progress bar")
	twinOut := f.String("twin", "", "also write the board's twin, a sim profile with the calibration's values, to `FILE.json`")
	twinBaseName := f.String("twin-base", "", "the twin's nominal `PROFILE` (built-in name or .json; default: what the board reports)")
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	set := f.given()
	switch {
	case *events < 0 || *checkEvents < 0:
		return usagef("--events and --check-events must be positive")
	case *check && (set["out"] || set["plot"] || set["events"] || set["seed"] || set["no-cache"]):
		return usagef("--check takes --calibration, --cache and --check-events, not --out, --plot, --events, --seed or --no-cache")
	case *check && set["twin"]:
		return usagef("--twin goes with a calibration, not with --check")
	case set["twin-base"] && !set["twin"]:
		return usagef("--twin-base goes with --twin")
	case !*check && set["calibration"] && set["twin"]:
		if set["out"] || set["plot"] || set["events"] || set["seed"] || set["check-events"] {
			return usagef("--calibration FILE --twin converts a calibration: --out, --plot, --events, --seed and --check-events measure one")
		}
		if err := checkWritable(*twinOut); err != nil {
			return fmt.Errorf("--twin: %w", err)
		}
		return convertTwin(f, *calPath, *twinOut, *twinBaseName, stdout)
	case !*check && (set["calibration"] || set["check-events"]):
		return usagef("--calibration and --check-events go with --check (or --calibration with --twin)")
	}
	// Every file the calibration will be written to is checked before any
	// board time is spent: a calibration takes minutes on hardware.
	for _, p := range []struct{ flag, path string }{{"--plot", *plotPath}, {"--out", *out}, {"--twin", *twinOut}} {
		if p.path != "" && !*check {
			if err := checkWritable(p.path); err != nil {
				return fmt.Errorf("%s: %w", p.flag, err)
			}
		}
	}
	if *twinBaseName != "" {
		if _, err := sim.NamedProfile(*twinBaseName); err != nil {
			return fmt.Errorf("--twin-base: %w", err) // before any board time is spent
		}
	}
	cacheDir := ""
	if !*check && !*noCache {
		var err error
		if cacheDir, err = calibration.CacheDir(*cache); err != nil {
			return err
		}
		if err := calibration.CheckCacheWritable(cacheDir); err != nil {
			return fmt.Errorf("--cache: %w (or pass --no-cache)", err)
		}
	}
	b, err := hal.Open(ctx, f.board)
	if err != nil {
		return err
	}
	defer b.Close()
	if *check {
		return runCheck(ctx, f, b, *calPath, *cache, *checkEvents, stdout, stderr)
	}
	o := calibration.Options{Events: *events, Seed: *seed}
	cal, err := calibrateShowing(ctx, b, o, !*quiet && isTerminal(stderr), stderr, *out)
	if err != nil {
		return err
	}
	sum := summarise(f.board, cal)
	if err := saveCalibration(cal, &sum, *out, cacheDir, *noCache, *plotPath); err != nil {
		return err
	}
	if *twinOut != "" {
		if err := writeTwin(*twinOut, *twinBaseName, b.Info(), cal); err != nil {
			return err
		}
		sum.Twin = *twinOut
	}
	if f.json {
		return writeJSON(stdout, sum)
	}
	printCalibration(stdout, sum)
	return nil
}

// saveCalibration writes cal to --out and to the cache (unless --no-cache),
// noting where in sum, and plots it to --plot.
func saveCalibration(cal *calibration.Calibration, sum *calibrateJSON, out, cacheDir string, noCache bool, plotPath string) error {
	if out != "" {
		if err := cal.Save(out); err != nil {
			return err
		}
		sum.Out = out
	}
	if !noCache {
		p := calibration.CachePath(cacheDir, cal.Board.Serial, cal.Key)
		if err := cal.Save(p); err != nil {
			return err
		}
		sum.Cache = p
	}
	if plotPath != "" {
		if err := writeCalibrationPlot(plotPath, cal); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	return nil
}

// calibrateShowing calibrates b with options o, with a progress bar on
// stderr naming the stage when bar is set; an interrupt is reported with
// the stage it stopped in and what was kept (see interruptedCalibration;
// out is the --out file left as it was).
func calibrateShowing(ctx context.Context, b hal.Board, o calibration.Options, bar bool, stderr io.Writer, out string) (*calibration.Calibration, error) {
	var pb *stageBar
	if bar {
		pb = newStageBar(stderr, "calibrating "+b.Info().Serial)
	}
	// The stage and fraction reached, for the bar and for an interrupt.
	stage, done := "", 0.0
	o.Progress = func(s string, f float64) {
		stage, done = s, f
		if pb != nil {
			pb.set(s, f)
		}
	}
	cal, err := calibration.Calibrate(ctx, b, &o)
	if pb != nil {
		pb.clear()
	}
	if err != nil && ctx.Err() != nil {
		return nil, interruptedCalibration(err, stage, done, out)
	}
	return cal, err
}

// interruptedCalibration says what an interrupted calibration kept:
// nothing, because every estimate is fitted from all stages at the end —
// so no file was written, and an existing --out or cached calibration is
// left as it was.
func interruptedCalibration(err error, stage string, done float64, out string) error {
	where := "before the first stage"
	if stage != "" {
		where = fmt.Sprintf("during %s (%.0f %% of the calibration done)", stage, 100*done)
	}
	kept := "nothing was written"
	if out != "" {
		kept += fmt.Sprintf(" (--out %s and the cache are as they were)", out)
	} else {
		kept += " (the cache is as it was)"
	}
	return fmt.Errorf("interrupted %s: %s — every estimate is fitted from all stages together, so a partial run keeps none; run spu calibrate again: %w",
		where, kept, err)
}

func summarise(board string, c *calibration.Calibration) calibrateJSON {
	s := calibrateJSON{Board: board, Serial: c.Board.Serial, Key: c.Key,
		BoardTimeS: c.Cost.BoardTimeS, Clocked: c.Cost.Clocked, WallS: c.Cost.WallS,
		ADCGain: c.ADC.Gain, ADCOffsetV: c.ADC.Offset, BiasGain: c.Bias.Gain, BiasOffset: c.Bias.Offset,
		TauS: c.Cells.TauS, NoiseV: c.Cells.NoiseV, Success: c.Success, BoundaryHits: c.BoundaryHits, Notes: c.Notes}
	if s.Notes == nil {
		s.Notes = []string{}
	}
	var ss, se float64
	for e, g := range c.Couplings.Gain {
		ss += (g - 1) * (g - 1)
		se += c.Couplings.GainSE[e] * c.Couplings.GainSE[e]
		s.CouplingGainMax = math.Max(s.CouplingGainMax, math.Abs(g-1))
	}
	n := float64(len(c.Couplings.Gain))
	s.CouplingGainRMS, s.CouplingGainSE = math.Sqrt(ss/n), math.Sqrt(se/n)
	for _, t := range c.Bias.INL {
		if t != nil {
			s.INLChannels++
		}
	}
	return s
}

func printCalibration(w io.Writer, s calibrateJSON) {
	fmt.Fprintf(w, "calibration of %s (%s), key %s\n\n", s.Serial, s.Board, s.Key)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ch\tADC gain\tADC offset mV\tbias gain\tbias offset mV\tτ µs\tnoise mV\tok\tsat\t\n")
	for i := range s.ADCGain {
		fmt.Fprintf(tw, "%d\t%.5f\t%.3f\t%.5f\t%.3f\t%.2f\t%.3f\t%v\t%d\t\n", i, s.ADCGain[i], 1e3*s.ADCOffsetV[i],
			s.BiasGain[i], 1e3*s.BiasOffset[i], 1e6*s.TauS[i], 1e3*s.NoiseV[i], s.Success[i], s.BoundaryHits[i])
	}
	tw.Flush()
	fmt.Fprintf(w, "\ncoupling gains: rms error %.3g, max %.3g (standard error %.2g each)\n", s.CouplingGainRMS, s.CouplingGainMax, s.CouplingGainSE)
	fmt.Fprintf(w, "INL tables kept: %d channels\n", s.INLChannels)
	clk := "board clock"
	if !s.Clocked {
		clk = "requested durations; the board keeps no clock"
	}
	fmt.Fprintf(w, "board time %.2f s (%s), wall %.2f s\n", s.BoardTimeS, clk, s.WallS)
	for _, p := range []struct{ k, v string }{{"written", s.Out}, {"cached", s.Cache}, {"twin written", s.Twin}} {
		if p.v != "" {
			fmt.Fprintf(w, "%s %s\n", p.k, p.v)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// loadCalibration reads --calibration: a file, or "cache" for the newest
// cached calibration of the board, and warns about staleness on stderr.
func loadCalibration(path, cacheDir string, b hal.Board, stderr io.Writer, cmd string) (*calibration.Calibration, string, error) {
	var cal *calibration.Calibration
	var err error
	if path == "" || path == "cache" {
		dir, derr := calibration.CacheDir(cacheDir)
		if derr != nil {
			return nil, "", derr
		}
		cal, path, err = calibration.FindCached(dir, b.Info(), nil)
	} else {
		cal, err = calibration.Load(path)
	}
	if err != nil {
		return nil, "", err
	}
	if err := cal.Matches(b.Info()); err != nil {
		return nil, "", fmt.Errorf("--calibration %s: %w", path, err)
	}
	var temp *float64
	if t, ok := calibration.Temperature(b); ok {
		temp = &t
	}
	for _, w := range cal.Staleness(time.Now(), b.Info(), temp, calibration.Limits{}) {
		fmt.Fprintf(stderr, "spu %s: warning: %s\n", cmd, w)
	}
	return cal, path, nil
}

func runCheck(ctx context.Context, f *flags, b hal.Board, path, cache string, events int, stdout, stderr io.Writer) error {
	cal, path, err := loadCalibration(path, cache, b, io.Discard, "calibrate")
	if err != nil {
		return err
	}
	rep, err := calibration.Check(ctx, b, cal, &calibration.CheckOptions{Events: events})
	if err != nil {
		return err
	}
	if f.json {
		if err := writeJSON(stdout, checkJSON{Board: f.board, Calibration: path, CheckReport: rep}); err != nil {
			return err
		}
	} else {
		state := "holds"
		if !rep.Holds {
			state = "does NOT hold"
		}
		fmt.Fprintf(stdout, "calibration %s on %s: %s\n", path, f.board, state)
		fmt.Fprintf(stdout, "  χ²/dof %.3g over %d quantities (threshold %.3g)\n", rep.Chi2PerDof, rep.Dof, rep.Threshold)
		fmt.Fprintf(stdout, "  coupling deviation rms %.3g, max %.3g (1/τ; standard error %.2g, harmless below %.2g)\n",
			rep.RMSCoupling, rep.MaxCoupling, rep.RMSCouplingSE, rep.MinEffect)
		fmt.Fprintf(stdout, "  board time %.2f s, wall %.2f s\n", rep.BoardTimeS, rep.WallS)
		for _, w := range rep.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
	}
	if !rep.Holds {
		return errors.New("the calibration no longer holds: recalibrate with spu calibrate")
	}
	return nil
}

// calibratedBoard wraps b with the calibration named by path (a file or
// "cache"), printing staleness warnings to stderr.
func calibratedBoard(b hal.Board, path string, dither bool, stderr io.Writer, cmd string) (hal.Board, error) {
	cal, _, err := loadCalibration(path, "", b, stderr, cmd)
	if err != nil {
		if strings.HasPrefix(err.Error(), "--calibration ") {
			return nil, err // already names the flag and the file
		}
		return nil, fmt.Errorf("--calibration: %w", err)
	}
	return calibration.Wrap(b, cal, &calibration.WrapOptions{Dither: dither})
}

// driftCheck returns the training maintenance hook of --check-every: check
// the calibration; when it fails, warn, or recalibrate (and cache the new
// calibration) with --recalibrate.
func driftCheck(wb calibration.Board, recalibrate bool, stderr io.Writer, m *maintenance) func(context.Context, int) error {
	return func(ctx context.Context, k int) error {
		rep, err := calibration.Check(ctx, wb, wb.Calibration(), nil)
		if err != nil {
			return err
		}
		m.Checks++
		m.BoardTimeS += rep.BoardTimeS
		if rep.Holds {
			return nil
		}
		m.Failed++
		if !recalibrate {
			fmt.Fprintf(stderr, "spu train: warning: iteration %d: the calibration no longer holds (χ²/dof %.3g, coupling deviation rms %.3g/τ); pass --recalibrate to recalibrate during training\n",
				k, rep.Chi2PerDof, rep.RMSCoupling)
			return nil
		}
		o := wb.Calibration().Options
		cal, err := calibration.Calibrate(ctx, wb.Unwrap(), &o)
		if err != nil {
			return fmt.Errorf("recalibrating: %w", err)
		}
		m.Recalibrations++
		m.BoardTimeS += cal.Cost.BoardTimeS
		if err := wb.SetCalibration(cal); err != nil {
			return err
		}
		msg := ""
		if dir, err := calibration.CacheDir(""); err == nil {
			p := calibration.CachePath(dir, cal.Board.Serial, cal.Key)
			if err := cal.Save(p); err == nil {
				msg = ", cached " + p
			}
		}
		fmt.Fprintf(stderr, "spu train: iteration %d: the calibration had drifted (χ²/dof %.3g); recalibrated in %.1f s of board time%s\n",
			k, rep.Chi2PerDof, cal.Cost.BoardTimeS, msg)
		return nil
	}
}
