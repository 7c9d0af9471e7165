package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// maxRandomN bounds --random: a larger problem fits no board the solver
// drives.
const maxRandomN = solver.MaxDenseCells

// jfloat is a float64 that encodes NaN and ±Inf as JSON null instead of
// failing the whole report (the solver's scale may overflow to +Inf).
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func jfloats(v []float64) []jfloat {
	out := make([]jfloat, len(v))
	for i, x := range v {
		out[i] = jfloat(x)
	}
	return out
}

// scaleJSON is the scaling the solver applied.
type scaleJSON struct {
	Alpha jfloat `json:"alpha"`
	Beta  jfloat `json:"beta"`
}

// pilotJSON is one pilot run of the solver.
type pilotJSON struct {
	Beta      jfloat `json:"beta"`
	Peak      jfloat `json:"peak"`
	Saturated int    `json:"saturated"`
}

// solveJSON is the report of spu solve --json.
type solveJSON struct {
	Board       string      `json:"board"`
	Problem     string      `json:"problem"`
	N           int         `json:"n"`
	X           []jfloat    `json:"x"`
	StdErr      []jfloat    `json:"std_err"`
	XDigital    []jfloat    `json:"x_digital"`
	Residual    jfloat      `json:"residual"`
	RelError    jfloat      `json:"rel_error"`
	BoardTimeS  float64     `json:"board_time_s"`
	Clocked     bool        `json:"board_time_clocked"`
	WallS       float64     `json:"wall_s"`
	Scale       scaleJSON   `json:"scale"`
	Samples     int         `json:"samples"`
	Batches     int         `json:"batches"`
	BurnS       float64     `json:"burn_s"`
	DurationS   float64     `json:"duration_s"`
	PeriodS     float64     `json:"period_s"`
	RelaxationS float64     `json:"relaxation_s"`
	Retries     int         `json:"retries"`
	Pilots      []pilotJSON `json:"pilots"`
	Saturated   int         `json:"saturated"`
	Notes       []string    `json:"notes"`
	// Refine is present with --refine on a problem that fits the board.
	Refine *refineJSON `json:"refine,omitempty"`
	// Tiled is present when the problem was tiled (n > cells, or --block).
	Tiled *tiledJSON `json:"tiled,omitempty"`
}

const solveHelp = `Solves A x = b on the board: the solver scales the problem into the board's
ranges, lets the node voltages relax and averages samples. The answer is
compared with a digital solve (gonum LU):
  residual  = ‖A x − b‖ / ‖b‖          (‖A x − b‖ when b = 0)
  rel_error = ‖x − x_digital‖ / ‖x_digital‖   (‖x − x_digital‖ when x_digital = 0)

Input, one of:
  --a A.csv --b b.csv   A as rows of numbers; b one row or one column
  --a problem.json      {"a": [[...], ...], "b": [...]} (or --a A.json --b b.json)
  --random N --cond K --seed S
                        A = Q diag(λ) Qᵀ, Q orthogonal from the QR of a Gaussian matrix,
                        λ log-spaced from 1 to K, b Gaussian (PCG seeded with S)

` + csvHelp + `
A must be square with finite entries and every eigenvalue's real part > 0
(it is refused before the board runs).

A problem larger than the board (n > cells), or any with --block K, is
tiled: the board solves the diagonal blocks of at most K rows (contiguous,
equal sizes; K defaults to the board's cells) as the preconditioner of
flexible CG (symmetric positive-definite A) or flexible GMRES (other A),
which run in float64 to the relative residual --refine R (default 1e-6).
Every diagonal block must be stable. The report adds the method, blocks,
outer iterations, programmings and board time; std_err is null.

--board given more than once, or as a comma list, is a pool: the problem is
tiled (blocks of at most the smallest board's cells) and block i is solved
on board i mod (pool size), all boards at once; each board gets its own
--calibration (use "cache" for each board's newest). The answer does not
depend on which board finishes first; a failing board is named.
With --refine R the board's answer is refined digitally until the relative
residual ‖b − A x‖/‖b‖ is at most R (iterative refinement: each round the
board solves A d = r for the float64 residual r, scaled on its own, and
x ← x + d; A is programmed once). The report adds the rounds, the
contraction ρ of each round (the board's per-solve error) and the residual
after it; std_err is null. A refinement that stalls (ρ ≥ 1, or a saturated
round) is reported, then exits 1 (3 if a round saturated). See
docs/solving.md.

If the final sampling saturates the report is still printed and the exit
code is 3. Solver flags left out take the solver's defaults; given ones must
be positive, except --burn 0, which skips the burn-in, and --batches, which
must be at least 2.
`

// runSolve is spu solve: parse and check the flags, build or load the
// problem, open (and calibrate) the board, solve, compare with a digital
// solve and report; a saturated final sampling still reports, then exits 3.
func runSolve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sf, err := parseSolveFlags(args, stdout)
	if err != nil {
		return err
	}
	p, err := sf.problem(ctx)
	if err != nil {
		return err
	}

	boards, closeAll, err := sf.openBoards(ctx, stderr)
	defer closeAll()
	if err != nil {
		return err
	}
	b := boards[0]
	info := b.Info()
	o, err := sf.solverOptions(info)
	if err != nil {
		return err
	}

	a := mat.NewDense(p.n, p.n, append([]float64(nil), p.a...))
	if len(boards) > 1 || p.n > info.Cells || sf.set["block"] {
		return tiledSolve(ctx, sf, boards, p, a, o, stdout)
	}
	if sf.set["refine"] {
		return refineSolve(ctx, sf, b, p, a, o, stdout)
	}
	start := time.Now()
	res, err := solver.Solve(ctx, b, a, append([]float64(nil), p.b...), o)
	wall := time.Since(start)
	var satErr error
	if err != nil {
		if res == nil || !errors.Is(err, hal.ErrSaturated) {
			return err
		}
		// The result is complete but biased: report it, then exit 3.
		satErr = &saturatedError{fmt.Errorf("result written, but %w", err)}
	}
	if len(res.X) != p.n {
		return fmt.Errorf("solver returned %d values for a %d×%d problem: %w", len(res.X), p.n, p.n, hal.ErrDimension)
	}

	xd, err := digitalSolve(a, p.b)
	if err != nil {
		return err
	}
	rep := newSolveReport(sf.board, p, a, res, xd, wall)
	if err := sf.write(stdout, rep); err != nil {
		return err
	}
	return satErr
}

// write prints the report as JSON (--json) or text.
func (sf *solveFlags) write(w io.Writer, rep solveJSON) error {
	if sf.json {
		return writeJSON(w, rep)
	}
	printSolve(w, rep)
	return nil
}

// solveFlags are spu solve's flags.
type solveFlags struct {
	*flags
	set                    map[string]bool // the flags given
	aPath, bPath           string
	randomN                int
	cond                   float64
	seed                   uint64
	burn, duration, period durFlag
	batches                int
	tol                    float64
	calibration            string
	dither                 bool
	refine                 float64
	block                  int
	pool                   *boardList // --board, repeated or a comma list
}

// parseSolveFlags parses spu solve's flags and checks them: all before
// reading files or opening the board.
func parseSolveFlags(args []string, stdout io.Writer) (*solveFlags, error) {
	f := newFlags("solve",
		"spu solve [--board URI] (--a FILE [--b FILE] | --random N [--cond K] [--seed S]) [--json] [--burn D] [--duration D] [--period D] [--batches N] [--tol T] [--refine R] [--block K]",
		solveHelp)
	sf := &solveFlags{flags: f}
	sf.pool = newBoardList(f, &sf.board)
	f.StringVar(&sf.aPath, "a", "", "matrix A from `FILE` (CSV, or JSON holding a and b)")
	f.StringVar(&sf.bPath, "b", "", "right-hand side b from `FILE` (CSV or JSON)")
	f.IntVar(&sf.randomN, "random", 0, "generate a random SPD problem of size `N`")
	f.Float64Var(&sf.cond, "cond", 10, "condition number `K` of the random problem (1 … 1e12)")
	f.Uint64Var(&sf.seed, "seed", 1, "seed `S` of the random problem")
	f.Var(&sf.burn, "burn", "burn-in time `D` before sampling (0 = none; default: the solver's, from the problem's relaxation time)")
	f.Var(&sf.duration, "duration", "board time `D` spent sampling (default: solver's)")
	f.Var(&sf.period, "period", "sample period `D` (default: solver's)")
	f.IntVar(&sf.batches, "batches", 0, "number of batches `N` for the error bars (default: solver's)")
	f.Float64Var(&sf.tol, "tol", 0, "keep sampling (doubling the time) until max std err ≤ `T`·max|x| (default: off)")
	f.Float64Var(&sf.refine, "refine", 0, "iterative refinement to the relative residual ‖b−Ax‖/‖b‖ ≤ `R` (1e-15 … <1; default: off, tiled 1e-6)")
	f.IntVar(&sf.block, "block", 0, "tile: solve the problem in diagonal blocks of at most `K` rows on the board (default: the board's cells when n > cells)")
	f.StringVar(&sf.calibration, "calibration", "", "apply the calibration in `FILE` (or \"cache\": the newest cached one for the board; see spu calibrate)")
	f.BoolVar(&sf.dither, "dither", true, "with --calibration: dither the coupling codes across sample batches")
	if err := f.parse(args, stdout); err != nil {
		return nil, err
	}
	sf.set = f.given()
	if err := sf.check(); err != nil {
		return nil, err
	}
	return sf, nil
}

// check checks the flags together: one problem source, the random
// problem's size and condition, the solver settings' bounds.
func (sf *solveFlags) check() error {
	set := sf.set
	switch {
	case set["random"] && (set["a"] || set["b"]):
		return usagef("give either --random or --a/--b, not both")
	case !set["random"] && !set["a"]:
		if set["b"] {
			return usagef("--b needs --a")
		}
		return usagef("no problem: give --a FILE [--b FILE] or --random N")
	case !set["random"] && (set["cond"] || set["seed"]):
		return usagef("--cond and --seed go with --random")
	}
	if set["random"] {
		if sf.randomN < 1 || sf.randomN > maxRandomN {
			return usagef("--random %d: want a size from 1 to %d", sf.randomN, maxRandomN)
		}
		if !(sf.cond >= 1 && sf.cond <= solver.MaxRandomCond) {
			return usagef("--cond %g: want a condition number ≥ 1 and ≤ %g (beyond it float64 round-off in forming A changes its spectrum; no board's couplings resolve it anyway)",
				sf.cond, float64(solver.MaxRandomCond))
		}
	}
	if sf.burn.negative() {
		return usagef("--burn %s: must be ≥ 0 (0 = no burn-in; leave it out for the solver's default)", &sf.burn)
	}
	for _, d := range []struct {
		name string
		f    *durFlag
	}{{"duration", &sf.duration}, {"period", &sf.period}} {
		if d.f.set && !d.f.positive() {
			return usagef("--%s %s: must be positive (leave it out for the solver's default)", d.name, d.f)
		}
	}
	if set["batches"] && sf.batches < 2 {
		return usagef("--batches %d: must be at least 2 (the error bars need two batches)", sf.batches)
	}
	if sf.batches > maxBatches {
		return usagef("--batches %d: at most %d (the error bar's own relative error 1/√(2(B−1)) is 0.7 %% there; more batches cost memory and board time without sharpening it)", sf.batches, maxBatches)
	}
	if set["tol"] && (!(sf.tol > 0) || math.IsInf(sf.tol, 0)) {
		return usagef("--tol %g: must be a positive number", sf.tol)
	}
	if set["block"] && sf.block < 1 {
		return usagef("--block %d: want a block size of at least 1 (and at most the board's cells)", sf.block)
	}
	if set["refine"] && !(sf.refine >= 1e-15 && sf.refine < 1) {
		return usagef("--refine %g: want a relative residual from 1e-15 (float64 round-off) to below 1", sf.refine)
	}
	return nil
}

// problem builds the random problem or loads A and b, refusing a loaded A
// that cannot relax before the board is opened.
func (sf *solveFlags) problem(ctx context.Context) (problem, error) {
	if sf.set["random"] {
		// Symmetric positive definite by construction: the O(n³)
		// stability check below is skipped (minutes at n = 4096).
		return randomProblem(ctx, sf.randomN, sf.cond, sf.seed)
	}
	p, err := loadProblem(sf.aPath, sf.bPath)
	if err != nil {
		return p, err
	}
	if err := hal.Stable(p.a, p.n); err != nil {
		return p, fmt.Errorf("A (%s) refused before running the board, it cannot relax to a solution (a symmetric positive-definite A always can): %w", p.aName, err)
	}
	return p, nil
}

// solverOptions turns the solver flags into solver.Options for a board
// with time constant info.Tau (durations may be given in τ); flags left
// out keep the solver's defaults.
func (sf *solveFlags) solverOptions(info hal.Info) (*solver.Options, error) {
	var o solver.Options
	for _, d := range []struct {
		name string
		f    *durFlag
		dst  *time.Duration
	}{{"burn", &sf.burn, &o.Burn}, {"duration", &sf.duration, &o.Duration}, {"period", &sf.period, &o.Period}} {
		if !d.f.set {
			continue
		}
		v, err := d.f.resolve(info.Tau)
		if err != nil {
			return nil, usagef("--%s %v", d.name, err)
		}
		if v <= 0 && d.name != "burn" {
			return nil, usagef("--%s %s is %v on a board with τ = %v: must be positive", d.name, d.f, v, info.Tau)
		}
		if err := checkBoardTime(fmt.Sprintf("--%s %s", d.name, d.f), float64(v), info.Tau); err != nil {
			return nil, err
		}
		*d.dst = v
	}
	if sf.burn.set && o.Burn == 0 {
		o.Burn = solver.NoBurn
	}
	o.Batches, o.Tol = sf.batches, sf.tol
	return &o, nil
}

// newSolveReport is the report of a solve of p (A = a) on board: the
// board's answer, the digital one xd, their agreement and the solver's
// account of what it did.
func newSolveReport(board string, p problem, a *mat.Dense, res *solver.Result, xd []float64, wall time.Duration) solveJSON {
	rep := solveJSON{
		Board: board, Problem: p.source, N: p.n,
		X: jfloats(res.X), StdErr: jfloats(res.StdErr), XDigital: jfloats(xd),
		Residual:   jfloat(solver.RelResidual(a, res.X, p.b)),
		RelError:   jfloat(relDiff(res.X, xd)),
		BoardTimeS: res.BoardTime.Seconds(), Clocked: res.Clocked, WallS: wall.Seconds(),
		Scale:   scaleJSON{Alpha: jfloat(res.Scale.Alpha), Beta: jfloat(res.Scale.Beta)},
		Samples: res.Samples, Batches: res.Batches,
		BurnS: max(res.Burn, 0).Seconds(), DurationS: res.Duration.Seconds(), PeriodS: res.Period.Seconds(),
		RelaxationS: res.Relaxation.Seconds(),
		Retries:     res.Retries, Pilots: []pilotJSON{}, Saturated: res.Saturated, Notes: res.Notes,
	}
	for _, pl := range res.Pilots {
		rep.Pilots = append(rep.Pilots, pilotJSON{Beta: jfloat(pl.Beta), Peak: jfloat(pl.Peak), Saturated: pl.Saturated})
	}
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	if len(rep.StdErr) != p.n {
		rep.StdErr = make([]jfloat, p.n)
	}
	return rep
}

// digitalSolve solves a x = b with gonum for comparison. An ill-conditioned
// a still gives an answer (gonum reports the condition as an error).
func digitalSolve(a *mat.Dense, b []float64) ([]float64, error) {
	n, _ := a.Dims()
	var x mat.VecDense
	err := x.SolveVec(a, mat.NewVecDense(n, append([]float64(nil), b...)))
	var ce mat.Condition
	if err != nil && !errors.As(err, &ce) {
		return nil, fmt.Errorf("digital solve: %v: %w", err, hal.ErrUnstable)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = x.AtVec(i)
	}
	return out, nil
}

// relDiff is ‖x − ref‖/‖ref‖, or ‖x − ref‖ when ref = 0.
func relDiff(x, ref []float64) float64 {
	d := make([]float64, len(x))
	floats.SubTo(d, x, ref)
	if nr := floats.Norm(ref, 2); nr != 0 {
		return floats.Norm(d, 2) / nr
	}
	return floats.Norm(d, 2)
}

func printSolve(w io.Writer, r solveJSON) {
	fmt.Fprintf(w, "%s on %s\n\n", r.Problem, r.Board)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "i\tx\t± std err\tx digital\t|x − x digital|\t\n")
	for i := range r.X {
		se := fmt.Sprintf("%.2g", r.StdErr[i])
		if math.IsNaN(float64(r.StdErr[i])) {
			se = "—" // refined or tiled: no statistical error bar
		}
		fmt.Fprintf(tw, "%d\t%.6g\t%s\t%.6g\t%.2g\t\n", i, r.X[i], se, r.XDigital[i], math.Abs(float64(r.X[i]-r.XDigital[i])))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "residual ‖Ax−b‖/‖b‖\t%.3g\n", r.Residual)
	fmt.Fprintf(tw, "relative error vs digital\t%.3g\n", r.RelError)
	if r.Tiled == nil { // a tiled solve has no single solve to describe
		fmt.Fprintf(tw, "scale\talpha %.4g, beta %.4g\n", r.Scale.Alpha, r.Scale.Beta)
		fmt.Fprintf(tw, "samples\t%d in %d batches, one every %v over %v\n", r.Samples, r.Batches,
			seconds(r.PeriodS), seconds(r.DurationS))
		fmt.Fprintf(tw, "burn-in\t%v (relaxation time %v)\n", seconds(r.BurnS), seconds(r.RelaxationS))
		fmt.Fprintf(tw, "retries\t%d (%d pilot runs)\n", r.Retries, len(r.Pilots))
	}
	if r.Saturated > 0 {
		fmt.Fprintf(tw, "saturated readings\t%d\n", r.Saturated)
	}
	bt := "board clock"
	if !r.Clocked {
		bt = "the board keeps no clock: wall time"
	}
	fmt.Fprintf(tw, "board time\t%v (%s)\n", seconds(r.BoardTimeS), bt)
	fmt.Fprintf(tw, "wall time\t%v\n", seconds(r.WallS).Round(time.Millisecond))
	r.Refine.print(tw)
	r.Tiled.print(tw)
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// seconds converts seconds to a duration for printing, rounded to 0.1 µs.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * 1e9)).Round(100 * time.Nanosecond)
}
