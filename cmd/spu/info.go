package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
)

// converterJSON is a DAC or ADC in info's JSON output.
type converterJSON struct {
	MinV float64 `json:"min_v"`
	MaxV float64 `json:"max_v"`
	// Bits is 0 for a continuous converter.
	Bits int     `json:"bits"`
	LSBV float64 `json:"lsb_v"`
}

// infoJSON is hal.Info with snake_case keys and units in the key names.
// Couplings are dimensionless, in units of 1/τ.
type infoJSON struct {
	Board              string        `json:"board"`
	Model              string        `json:"model"`
	Serial             string        `json:"serial"`
	Firmware           string        `json:"firmware"`
	Cells              int           `json:"cells"`
	Topology           string        `json:"topology"`
	CouplingMinPerTau  float64       `json:"coupling_min_per_tau"`
	CouplingMaxPerTau  float64       `json:"coupling_max_per_tau"`
	CouplingStepPerTau float64       `json:"coupling_step_per_tau"`
	BiasDAC            converterJSON `json:"bias_dac"`
	ADC                converterJSON `json:"adc"`
	TauS               float64       `json:"tau_s"`
	NoiseV             float64       `json:"noise_v"`
	MinSamplePeriodS   float64       `json:"min_sample_period_s"`
	Capabilities       []string      `json:"capabilities"`
	// BusTiming is present for boards on an SPI bus.
	BusTiming *spi.Timing `json:"bus_timing,omitempty"`
}

// busTimed is implemented by boards that can say what an operation costs
// on their bus (driver/spi).
type busTimed interface{ Timing() spi.Timing }

func toConverterJSON(c hal.Converter) converterJSON {
	return converterJSON{MinV: carried(c.Min), MaxV: carried(c.Max), Bits: c.Bits, LSBV: c.LSB()}
}

// carried rounds a value to the precision it carries. A serial board sends
// its ranges and noise as float32, so 0.01 V arrives as the float64
// 0.009999999776482582: a value that is exactly a float32 is given by the
// shortest decimal that reads back as that float32 (0.01), any other by
// the shortest that reads back as the float64.
func carried(v float64) float64 {
	if float64(float32(v)) != v {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', -1, 32), 64)
	return r
}

// capabilities names what the board reports: Info().Caps and "clock" when
// it keeps board time (hal.BoardTime), listed where "clock" stood when it
// was a Caps bit, so that the output is as it always was.
func capabilities(b hal.Board) []string {
	in := b.Info()
	names := in.Caps.Names()
	if _, ok := hal.BoardTime(b); ok {
		at := 0
		if in.Caps.Has(hal.CapNoise) {
			at = 1
		}
		names = slices.Insert(names, at, "clock")
	}
	if names == nil {
		names = []string{}
	}
	return names
}

func toInfoJSON(uri string, in hal.Info, caps []string) infoJSON {
	return infoJSON{
		Board: uri, Model: in.Model, Serial: in.Serial, Firmware: in.Firmware,
		Cells: in.Cells, Topology: in.Topology.String(),
		CouplingMinPerTau: carried(in.Coupling.Min), CouplingMaxPerTau: carried(in.Coupling.Max), CouplingStepPerTau: in.CouplingStep,
		BiasDAC: toConverterJSON(in.Bias), ADC: toConverterJSON(in.ADC),
		TauS: in.Tau.Seconds(), NoiseV: carried(in.Noise), MinSamplePeriodS: in.MinSamplePeriod.Seconds(),
		Capabilities: caps,
	}
}

func runInfo(ctx context.Context, args []string, stdout, _ io.Writer) error {
	f := newFlags("info", "spu info [--board URI] [--json]",
		"Prints what the board reports about itself (hal.Info). Couplings are in units of 1/τ.\n")
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	b, err := hal.Open(ctx, f.board)
	if err != nil {
		return err
	}
	defer b.Close()
	in := b.Info()
	caps := capabilities(b)
	bt, timed := b.(busTimed)
	if f.json {
		j := toInfoJSON(f.board, in, caps)
		if timed {
			t := bt.Timing()
			j.BusTiming = &t
		}
		return writeJSON(stdout, j)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("board", "%s", f.board)
	row("model", "%s", in.Model)
	row("serial", "%s", in.Serial)
	row("firmware", "%s", in.Firmware)
	row("cells", "%d", in.Cells)
	row("topology", "%s", in.Topology)
	row("coupling range", "[%g, %g] × 1/τ", carried(in.Coupling.Min), carried(in.Coupling.Max))
	if in.CouplingStep > 0 {
		row("coupling step", "%.4g × 1/τ", in.CouplingStep)
	} else {
		row("coupling step", "continuous")
	}
	row("bias DAC", "%s", converterString(in.Bias))
	row("ADC", "%s", converterString(in.ADC))
	row("tau", "%v", in.Tau)
	row("noise", "%g V rms", carried(in.Noise))
	row("min sample period", "%v", in.MinSamplePeriod)
	if len(caps) == 0 {
		caps = []string{"none"}
	}
	row("capabilities", "%s", strings.Join(caps, "|"))
	if timed {
		t := bt.Timing()
		row("SPI clock", "%g MHz", t.SPIHz/1e6)
		row("coupling update", "%v (all elements, settled)", t.Couplings)
		row("  with sign flips", "%v (through zero)", t.CouplingsSignFlip)
		row("bias channel", "%v (settled)", t.BiasChannel)
		row("set state", "%v (all cells, forced)", t.State)
		row("sample", "%v (conversion + read-out)", t.Sample)
	}
	return tw.Flush()
}

func converterString(c hal.Converter) string {
	if c.Bits == 0 {
		return fmt.Sprintf("[%g, %g] V, continuous", carried(c.Min), carried(c.Max))
	}
	return fmt.Sprintf("[%g, %g] V, %d bits, LSB %.4g V", carried(c.Min), carried(c.Max), c.Bits, c.LSB())
}

// writeJSON writes v indented, with a final newline. '&', '<' and '>'
// stay as they are: they are board URIs' option separators (spi+sim:x?a=1&b=2),
// not HTML, and \u0026 in a report is not the URI a reader pastes back.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
