package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spukit/spukit/hal"
)

const (
	// sampleChunk is how many samples are read per Board.Sample call; the
	// CSV is streamed so --n is not limited by memory.
	sampleChunk = 4096
	// maxSamples bounds --n.
	maxSamples = 100_000_000
)

// sampleJSON is the summary of spu sample --json.
type sampleJSON struct {
	Board            string    `json:"board"`
	Cells            int       `json:"cells"`
	Samples          int       `json:"samples"`
	PeriodS          float64   `json:"period_s"`
	BurnS            float64   `json:"burn_s"`
	BoardTimeS       *float64  `json:"board_time_s"` // null without hal.Clock
	WallS            float64   `json:"wall_s"`
	MeanV            []float64 `json:"mean_v"`
	StdV             []float64 `json:"std_v"`
	Saturated        int       `json:"saturated"`
	SaturatedPerCell []int     `json:"saturated_per_cell"`
	Out              string    `json:"out"`
}

const sampleHelp = `Programs the couplings (--couplings, a K×K matrix in units of 1/τ, CSV or JSON)
and the bias (--bias, K volts: a CSV/JSON file or a list like 0.5,0,-0.5) if given,
lets the board evolve for --burn, then reads --n samples of all K node voltages
one --period apart. Without --couplings/--bias the board keeps what it has
(at power-up: identity couplings, zero bias). Values are programmed as given:
nothing is scaled, so entries outside the board's range are refused (spu solve
scales problems into range automatically).

The CSV (to --out, or stdout) has a header t_s,x0,...,xK-1 and one row per
sample; t_s is the board's own clock (board time since it was opened, at the
sample's last reading) when it has one, else the nominal time since sampling
began. A summary (mean, standard deviation, saturated readings per cell,
board time) goes to stderr; with --json it is JSON, on stdout when --out is
given and on stderr otherwise. Progress goes to stderr: a bar on a terminal,
else a line every 10 s (not with --quiet, nor when the JSON summary goes to
stderr).

With --out x.npy the samples are one float64 array of shape (n, K), and
with --out x.npz an archive of arrays: x (n, K), t_s (n,), couplings (K, K)
and bias (K,) when given, period_s, burn_s, samples, saturated_per_cell,
and strings board (the URI), info (spu info --json), calibration and
calibration_measured_at (empty without --calibration) and spu_version.
numpy reads both with np.load (no pickle); strings with str(z["board"]).
They are written when sampling ends, so --n × K is bounded (2^28 values).
--calibration corrects the readings and the programmed values with the
board's calibration, as in spu solve.

` + csvHelp + `
--n must be ≥ 1 and --period ≥ 0 (0 = the board's minimum); --burn 0 skips
the burn-in. When readings saturate every sample is still written, the
problem is reported on stderr and the exit code is 3.
`

// runSample is spu sample: parse and check the flags, read the couplings
// and bias, open the board and resolve the timing against it, program it,
// stream the samples as CSV, then summarise; saturated readings still
// write every sample, then exit 3.
func runSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sf, err := parseSampleFlags(args, stdout)
	if err != nil {
		return err
	}
	// Read the inputs before touching the board.
	a, an, bias, err := sf.readInputs()
	if err != nil {
		return err
	}

	b, err := hal.Open(ctx, sf.board)
	if err != nil {
		return err
	}
	defer b.Close()
	if sf.calibration != "" {
		if b, err = calibratedBoard(b, sf.calibration, true, stderr, "sample"); err != nil {
			return err
		}
	}
	info := b.Info()
	k := info.Cells
	if f := npyFormat(sf.out); f != "" && sf.n > maxNPYValues/k {
		return usagef("--n %d samples of %d cells: at most %d values in a .%s (held in memory until the end, 8 bytes each): write CSV or record in pieces",
			sf.n, k, maxNPYValues, f)
	}
	if a != nil && an != k {
		return fmt.Errorf("couplings %s are %d×%d but board %s has %d cells: want %d×%d: %w",
			sf.couplings, an, an, sf.board, k, k, k, hal.ErrDimension)
	}
	if bias != nil && len(bias) != k {
		return fmt.Errorf("bias %s has %d entries but board %s has %d cells: want %d: %w",
			sf.bias, len(bias), sf.board, k, k, hal.ErrDimension)
	}
	per, burnD, err := sf.timing(info)
	if err != nil {
		return err
	}

	var w io.Writer = stdout
	var file *os.File
	if sf.out != "" {
		if file, err = createOut(sf.out); err != nil {
			return err
		}
		defer file.Close()
		w = file
	}

	start := time.Now()
	if err := sf.program(ctx, b, a, bias, burnD); err != nil {
		return err
	}
	var res *sampleStats
	if npyFormat(sf.out) != "" {
		meta := sampleMeta{b: b, a: a, bias: bias, period: per, burn: burnD}
		res, err = sf.sampleNPY(ctx, meta, file, stderr)
	} else {
		res, err = sf.sample(ctx, b, per, w, file, stderr)
	}
	if err != nil {
		return err
	}
	wall := time.Since(start)
	return sf.report(b, k, res, per, burnD, wall, stdout, stderr)
}

// sampleFlags are spu sample's flags.
type sampleFlags struct {
	*flags
	n                                 int
	period, burn                      durFlag
	couplings, bias, out, calibration string
	quiet                             bool
}

// parseSampleFlags parses spu sample's flags and checks those that need
// no board.
func parseSampleFlags(args []string, stdout io.Writer) (*sampleFlags, error) {
	f := newFlags("sample",
		"spu sample [--board URI] [--n N] [--period D] [--burn D] [--couplings FILE] [--bias FILE|LIST] [--calibration FILE] [--out FILE.csv|.npy|.npz] [--json] [--quiet]",
		sampleHelp)
	sf := &sampleFlags{flags: f}
	f.IntVar(&sf.n, "n", 1000, "number of samples `N` (≥ 1)")
	sf.burn.Set("20tau")
	f.Var(&sf.period, "period", "sample period `D` (0 = the board's minimum)")
	f.Var(&sf.burn, "burn", "burn-in time `D` before the first sample (0 = none)")
	f.StringVar(&sf.couplings, "couplings", "", "program the coupling matrix from `FILE` (CSV or JSON, K×K, units of 1/τ)")
	f.StringVar(&sf.bias, "bias", "", "program the bias from a `FILE` (CSV or JSON) or a list like 0.5,0,-0.5 (volts)")
	f.StringVar(&sf.out, "out", "", "write the samples to `FILE` instead of stdout: CSV, or NumPy for a name ending .npy or .npz")
	f.StringVar(&sf.calibration, "calibration", "", "sample through the calibration in `FILE` (or \"cache\": the newest cached one for the board; see spu calibrate)")
	f.BoolVar(&sf.quiet, "quiet", false, "no progress on stderr")
	if err := f.parse(args, stdout); err != nil {
		return nil, err
	}
	if sf.n <= 0 {
		return nil, usagef("--n %d: the sample count must be at least 1", sf.n)
	}
	if sf.n > maxSamples {
		return nil, usagef("--n %d: at most %d samples per run (about 130 bytes of CSV each on 8 cells, 13 GB at the bound: record longer runs in pieces)", sf.n, maxSamples)
	}
	if sf.period.negative() {
		return nil, usagef("--period %s: must be ≥ 0 (0 = the board's minimum)", &sf.period)
	}
	if sf.burn.negative() {
		return nil, usagef("--burn %s: must be ≥ 0 (0 = no burn-in)", &sf.burn)
	}
	return sf, nil
}

// readInputs reads --couplings (a, an×an; nil without it) and --bias (nil
// without it).
func (sf *sampleFlags) readInputs() (a []float64, an int, bias []float64, err error) {
	if sf.couplings != "" {
		t, err := readTable(sf.couplings, "couplings")
		if err != nil {
			return nil, 0, nil, fmt.Errorf("--couplings: %w", err)
		}
		if a, an, err = t.square("A"); err != nil {
			return nil, 0, nil, err
		}
	}
	if sf.bias != "" {
		if bias, err = parseVectorArg(sf.bias, "bias"); err != nil {
			return nil, 0, nil, err
		}
	}
	return a, an, bias, nil
}

// timing resolves --period and --burn against the board (durations may be
// given in τ) and bounds the board time they ask for.
func (sf *sampleFlags) timing(info hal.Info) (per, burn time.Duration, err error) {
	per, err = sf.period.resolve(info.Tau)
	if err != nil {
		return 0, 0, usagef("--period %v", err)
	}
	if per, err = hal.SamplePeriod(info, per); err != nil {
		return 0, 0, fmt.Errorf("--period %s: %w; use at least %v (--period 0 picks it)", &sf.period, err, info.MinSamplePeriod)
	}
	burnD, err := sf.burn.resolve(info.Tau)
	if err != nil {
		return 0, 0, usagef("--burn %v", err)
	}
	if err := checkBoardTime("--burn "+sf.burn.String(), float64(burnD), info.Tau); err != nil {
		return 0, 0, err
	}
	if err := checkBoardTime(fmt.Sprintf("--n %d samples one --period %v apart", sf.n, per), float64(sf.n)*float64(per), info.Tau); err != nil {
		return 0, 0, err
	}
	return per, burnD, nil
}

// program programs the couplings and bias given (as given: nothing is
// scaled) and runs the burn-in.
func (sf *sampleFlags) program(ctx context.Context, b hal.Board, a, bias []float64, burn time.Duration) error {
	if a != nil {
		if err := b.SetCouplings(ctx, a); err != nil {
			return fmt.Errorf("couplings %s: %w%s", sf.couplings, err, rangeHint(err))
		}
	}
	if bias != nil {
		if err := b.SetBias(ctx, bias); err != nil {
			return fmt.Errorf("bias %s: %w%s", sf.bias, err, rangeHint(err))
		}
	}
	if burn > 0 {
		if err := b.Run(ctx, burn); err != nil {
			return fmt.Errorf("burn-in: %w", err)
		}
	}
	return nil
}

// sample streams the --n samples as CSV to w (closing file, --out, when
// set) with progress on stderr; an interrupt keeps the rows written.
func (sf *sampleFlags) sample(ctx context.Context, b hal.Board, per time.Duration, w io.Writer, file *os.File, stderr io.Writer) (*sampleStats, error) {
	prog := sf.progress(stderr)
	res, err := sampleCSV(ctx, b, sf.n, per, w, prog.set)
	prog.done()
	if err == nil && file != nil {
		err = file.Close()
	}
	if err != nil && ctx.Err() != nil {
		// sampleCSV flushed every whole row read before the interrupt.
		dest := "stdout"
		if sf.out != "" {
			dest = sf.out
		}
		return nil, fmt.Errorf("interrupted; the rows written to %s before it are kept, each one complete: %w", dest, err)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// progress is the progress display on stderr (nil: none), never where the
// CSV or the JSON summary goes.
func (sf *sampleFlags) progress(stderr io.Writer) *countProgress {
	if sf.quiet || (sf.json && sf.out == "") {
		return nil
	}
	return newCountProgress(stderr, isTerminal(stderr), "sampling "+sf.board, "samples", sf.n)
}

// report writes the summary of k cells (JSON on stdout with --out, else on stderr;
// a table on stderr without --json) and returns the saturation error.
func (sf *sampleFlags) report(b hal.Board, k int, res *sampleStats, per, burnD, wall time.Duration, stdout, stderr io.Writer) error {
	sum := sampleJSON{
		Board: sf.board, Cells: k, Samples: res.samples, PeriodS: per.Seconds(), BurnS: burnD.Seconds(),
		WallS: wall.Seconds(), MeanV: res.mean, StdV: res.std(), SaturatedPerCell: res.sat, Out: "-",
	}
	if bt, ok := hal.BoardTime(b); ok {
		t := bt.Seconds()
		sum.BoardTimeS = &t
	}
	for _, c := range res.sat {
		sum.Saturated += c
	}
	if sf.out != "" {
		sum.Out = sf.out
	}
	if sf.json {
		jw := stderr
		if sf.out != "" {
			jw = stdout
		}
		if err := writeJSON(jw, sum); err != nil {
			return err
		}
	} else {
		printSampleSummary(stderr, sum, burnD, per)
	}
	if sum.Saturated > 0 {
		return &saturatedError{fmt.Errorf("samples written, but %w", &hal.SaturationError{Counts: res.sat, Samples: res.samples})}
	}
	return nil
}

// rangeHint adds advice to an out-of-range error from programming values
// given on the command line.
func rangeHint(err error) string {
	var re *hal.RangeError
	if errors.As(err, &re) {
		return "; spu sample programs values as given, so divide them by a common factor"
	}
	return ""
}

// sampleStats accumulates per-cell running means and variances (Welford).
type sampleStats struct {
	samples int
	mean    []float64
	m2      []float64
	sat     []int
}

func (s *sampleStats) std() []float64 {
	out := make([]float64, len(s.m2))
	if s.samples > 1 {
		for i, m := range s.m2 {
			out[i] = math.Sqrt(m / float64(s.samples-1))
		}
	}
	return out
}

// sampleCSV reads n samples one period apart and streams them as CSV to w.
// Saturated readings are counted, not fatal.
func sampleCSV(ctx context.Context, b hal.Board, n int, period time.Duration, w io.Writer, progress func(done int)) (*sampleStats, error) {
	k := b.Info().Cells
	cs := &csvSink{bw: bufio.NewWriterSize(w, 1<<16), line: make([]byte, 0, 32*(k+1))}
	line := append(cs.line, "t_s"...)
	for i := range k {
		line = append(line, ",x"...)
		line = strconv.AppendInt(line, int64(i), 10)
	}
	line = append(line, '\n')
	if _, err := cs.bw.Write(line); err != nil {
		return nil, err
	}
	st, err := sampleTo(ctx, b, n, period, cs.row, progress)
	if ferr := cs.bw.Flush(); err == nil && ferr != nil {
		return nil, ferr
	}
	return st, err
}

// csvSink writes one CSV row per sample: t_s, then the K readings.
type csvSink struct {
	bw   *bufio.Writer
	line []byte
}

func (cs *csvSink) row(ts float64, x []float64) error {
	line := strconv.AppendFloat(cs.line[:0], ts, 'g', -1, 64)
	for _, v := range x {
		line = append(line, ',')
		line = strconv.AppendFloat(line, v, 'g', -1, 64)
	}
	cs.line = append(line, '\n')
	_, err := cs.bw.Write(cs.line)
	return err
}

// sampleTo reads n samples one period apart and hands each to emit with
// its time (the row slice is reused). Saturated readings are counted, not
// fatal; on an error every sample read before it has been emitted and the
// statistics count them.
func sampleTo(ctx context.Context, b hal.Board, n int, period time.Duration, emit func(ts float64, x []float64) error, progress func(done int)) (*sampleStats, error) {
	k := b.Info().Cells
	_, hasClock := hal.BoardTime(b)
	st := &sampleStats{mean: make([]float64, k), m2: make([]float64, k), sat: make([]int, k)}
	chunk := sampleRows(n, k)
	buf := make([]float64, chunk*k)
	for done := 0; done < n; {
		rows := min(n-done, chunk)
		dst := buf[:rows*k]
		t0, _ := hal.BoardTime(b)
		got, err := b.Sample(ctx, period, dst)
		var se *hal.SaturationError
		if errors.As(err, &se) {
			for i, c := range se.Counts {
				if i < k {
					st.sat[i] += c
				}
			}
			err = nil
		}
		// Time of the last reading of each sample: from the board's clock
		// when it has one (spread evenly over the call), else nominal.
		t1, _ := hal.BoardTime(b)
		for r := range got {
			var ts float64
			if hasClock && rows > 0 {
				ts = (t0 + time.Duration(float64(t1-t0)*float64(r+1)/float64(rows))).Seconds()
			} else {
				ts = (time.Duration(done+r+1) * period).Seconds()
			}
			row := dst[r*k : r*k+k]
			st.add(row)
			if werr := emit(ts, row); werr != nil {
				return st, werr
			}
		}
		if err != nil {
			return st, fmt.Errorf("after %d samples: %w", done+got, err)
		}
		done += got
		progress(done)
		if got == 0 {
			return st, fmt.Errorf("board returned no samples after %d: %w", done, hal.ErrDisconnected)
		}
	}
	return st, nil
}

// add counts one sample into the running means and variances.
func (s *sampleStats) add(row []float64) {
	s.samples++
	for i, v := range row {
		d := v - s.mean[i]
		s.mean[i] += d / float64(s.samples)
		s.m2[i] += d * (v - s.mean[i])
	}
}

func printSampleSummary(w io.Writer, s sampleJSON, burn, period time.Duration) {
	fmt.Fprintf(w, "%s: %d samples of %d cells, one every %v, after %v burn-in\n", s.Board, s.Samples, s.Cells, period, burn)
	if s.BoardTimeS != nil {
		fmt.Fprintf(w, "board time %v, wall time %v\n",
			time.Duration(*s.BoardTimeS*1e9).Round(time.Microsecond), time.Duration(s.WallS*1e9).Round(time.Microsecond))
	} else {
		fmt.Fprintf(w, "wall time %v (the board keeps no clock)\n", time.Duration(s.WallS*1e9).Round(time.Microsecond))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "cell\tmean (V)\tstd (V)\tsaturated\t\n")
	for i := range s.Cells {
		fmt.Fprintf(tw, "%d\t%.6g\t%.4g\t%d\t\n", i, s.MeanV[i], s.StdV[i], s.SaturatedPerCell[i])
	}
	tw.Flush()
}
