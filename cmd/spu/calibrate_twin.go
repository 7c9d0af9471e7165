package main

import (
	"fmt"
	"io"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/calibration/twin"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
)

// twinJSON is spu calibrate --twin --calibration FILE --json's report.
type twinJSON struct {
	Calibration string `json:"calibration"`
	Serial      string `json:"serial"`
	Base        string `json:"base"`
	Twin        string `json:"twin"`
}

// twinBase returns the --twin-base profile, or (with name empty) the one
// the board's hal.Info describes.
func twinBase(name string, info hal.Info, cal *calibration.Calibration) (sim.Profile, error) {
	if name == "" {
		return twin.Base(info, cal)
	}
	p, err := sim.NamedProfile(name)
	if err != nil {
		return sim.Profile{}, fmt.Errorf("--twin-base: %w", err)
	}
	return p, nil
}

// writeTwin writes the twin of the board cal was measured on to path.
func writeTwin(path, base string, info hal.Info, cal *calibration.Calibration) error {
	bp, err := twinBase(base, info, cal)
	if err != nil {
		return err
	}
	p, err := twin.Profile(bp, cal)
	if err != nil {
		return fmt.Errorf("--twin: %w", err)
	}
	if err := twin.Save(path, p); err != nil {
		return fmt.Errorf("--twin: %w", err)
	}
	return nil
}

// convertTwin is spu calibrate --calibration FILE --twin OUT --twin-base
// PROFILE: the twin of an existing calibration, with no board opened.
func convertTwin(f *flags, calPath, out, base string, stdout io.Writer) error {
	if base == "" {
		return usagef("--twin with --calibration needs --twin-base NAME|FILE.json: without a board, the design's profile gives the ranges, resolutions and timing")
	}
	cal, err := calibration.Load(calPath)
	if err != nil {
		return fmt.Errorf("--calibration: %w", err)
	}
	if err := writeTwin(out, base, hal.Info{}, cal); err != nil {
		return err
	}
	r := twinJSON{Calibration: calPath, Serial: cal.Board.Serial, Base: base, Twin: out}
	if f.json {
		return writeJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "twin of %s (calibration %s, base %s) written to %s: open it as sim:%s\n", r.Serial, calPath, base, out, out)
	return nil
}
