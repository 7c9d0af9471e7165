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

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// refineJSON is the refinement part of spu solve --refine's report.
type refineJSON struct {
	Tolerance jfloat `json:"tolerance"`
	Converged bool   `json:"converged"`
	Stalled   string `json:"stalled,omitempty"`
	Rounds    int    `json:"rounds"`
	// Rho, Residual, DurationS and BoardTimeS are per round (the first
	// solve first): contraction, relative residual after the round,
	// sampled and total board time.
	Rho        []jfloat  `json:"rho"`
	Residual   []jfloat  `json:"residual"`
	DurationS  []float64 `json:"duration_s"`
	BoardTimeS []float64 `json:"board_time_s"`
	Programs   int       `json:"programs"`
	// Correction is the corrections' sampling budget.
	Correction budgetJSON `json:"correction"`
}

// budgetJSON is a sampling budget of inner solves (solver.InexactOptions).
type budgetJSON struct {
	DurationS    float64 `json:"duration_s"`
	MaxDurationS float64 `json:"max_duration_s"`
	Batches      int     `json:"batches"`
	Tol          float64 `json:"tol"`
}

func newBudget(o solver.Options) budgetJSON {
	return budgetJSON{DurationS: o.Duration.Seconds(), MaxDurationS: o.MaxDuration.Seconds(), Batches: o.Batches, Tol: o.Tol}
}

// refineSolve is spu solve --refine on a problem that fits the board: the
// first solve with the flags' options, corrections with the solver's
// inexact budget. A refinement that stalled is reported, then returned as
// an error (exit 3 when a round saturated, else 1).
func refineSolve(ctx context.Context, sf *solveFlags, b hal.Board, p problem, a *mat.Dense, o *solver.Options, stdout io.Writer) error {
	start := time.Now()
	sess, err := solver.NewSession(b)
	if err != nil {
		return err
	}
	sys, err := solver.Prepare(ctx, sess, a)
	if err != nil {
		return err
	}
	ref, err := solver.Refine(ctx, sys, append([]float64(nil), p.b...), &solver.RefineOptions{Tol: sf.refine, First: o})
	wall := time.Since(start)
	if ref == nil {
		return err
	}
	xd, derr := digitalSolve(a, p.b)
	if derr != nil {
		return derr
	}
	first := ref.First
	if first == nil { // b = 0: no board solve
		first = &solver.Result{X: ref.X, Notes: ref.Notes}
	}
	rep := newSolveReport(sf.board, p, a, first, xd, wall)
	rep.X = jfloats(ref.X)
	rep.StdErr = nanStdErr(p.n)
	rep.Residual = jfloat(solver.RelResidual(a, ref.X, p.b))
	rep.RelError = jfloat(relDiff(ref.X, xd))
	rep.BoardTimeS, rep.Clocked = ref.Usage.BoardTime.Seconds(), ref.Usage.Clocked
	rep.Notes = append(ref.Notes, refineNote)
	rep.Refine = newRefineJSON(sf.refine, ref)
	if werr := sf.write(stdout, rep); werr != nil {
		return werr
	}
	if err != nil {
		err = fmt.Errorf("result written, but %w", err)
		if errors.Is(err, hal.ErrSaturated) {
			return &saturatedError{err}
		}
	}
	return err
}

// refineNote says what the report's single-solve fields describe.
const refineNote = "refined: x is the sum of the rounds' board solves, its relative error is at most κ(A) times the relative residual (std_err is not defined); scale, samples, batches, burn, duration, period, relaxation, pilots and saturated describe the first solve, board time the whole refinement"

// nanStdErr is an n-vector of NaN (JSON null): no statistical error bar.
func nanStdErr(n int) []jfloat {
	v := make([]jfloat, n)
	for i := range v {
		v[i] = jfloat(math.NaN())
	}
	return v
}

func newRefineJSON(tol float64, ref *solver.Refinement) *refineJSON {
	r := &refineJSON{Tolerance: jfloat(tol), Converged: ref.Converged, Stalled: ref.Stalled,
		Rounds: len(ref.Rounds), Programs: ref.Usage.Programs, Correction: newBudget(ref.Correction),
		Rho: []jfloat{}, Residual: []jfloat{}, DurationS: []float64{}, BoardTimeS: []float64{}}
	for _, rd := range ref.Rounds {
		r.Rho = append(r.Rho, jfloat(rd.Rho))
		r.Residual = append(r.Residual, jfloat(rd.Residual))
		r.DurationS = append(r.DurationS, rd.Duration.Seconds())
		r.BoardTimeS = append(r.BoardTimeS, rd.BoardTime.Seconds())
	}
	return r
}

// print adds the refinement's lines to the text report (nothing when r is
// nil).
func (r *refineJSON) print(tw *tabwriter.Writer) {
	if r == nil {
		return
	}
	state := "converged"
	if !r.Converged {
		state = "stalled"
	}
	last := 1.0
	if len(r.Residual) > 0 {
		last = float64(r.Residual[len(r.Residual)-1])
	}
	fmt.Fprintf(tw, "refinement\t%s after %d rounds (tolerance %.3g, last round's residual %.3g)\n", state, r.Rounds, r.Tolerance, last)
	fmt.Fprintf(tw, "ρ per round\t%s\n", floatList(r.Rho))
	fmt.Fprintf(tw, "residual per round\t%s\n", floatList(r.Residual))
	fmt.Fprintf(tw, "programmings\t%d\n", r.Programs)
	fmt.Fprintf(tw, "correction budget\t%v sampled (%d batches), doubled up to %v until rel. std err ≤ %g\n",
		seconds(r.Correction.DurationS), r.Correction.Batches, seconds(r.Correction.MaxDurationS), r.Correction.Tol)
	if r.Stalled != "" {
		fmt.Fprintf(tw, "stalled\t%s\n", r.Stalled)
	}
}

// floatList formats v as space-separated %.2g values.
func floatList(v []jfloat) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2g", float64(x))
	}
	return strings.Join(s, " ")
}

// tiledJSON is the tiled part of spu solve's report (n > cells, or
// --block).
type tiledJSON struct {
	Method    string `json:"method"`
	Tolerance jfloat `json:"tolerance"`
	Converged bool   `json:"converged"`
	Stalled   string `json:"stalled,omitempty"`
	// Block is the largest block size, Blocks their number; Partition
	// names the rule (solver.Partition).
	Block     int    `json:"block"`
	Blocks    int    `json:"blocks"`
	Partition string `json:"partition"`
	// OuterIterations is the number of preconditioner applications;
	// Residual the relative residual after each.
	OuterIterations int      `json:"outer_iterations"`
	Residual        []jfloat `json:"residual"`
	Programs        int      `json:"programs"`
	BlockSolves     int      `json:"block_solves"`
	Saturated       int      `json:"saturated_block_solves"`
	BoardTimeS      float64  `json:"board_time_s"`
	// ParallelBoardTimeS is the board time with the pool's boards running
	// concurrently (board_time_s sums them); Boards is each one's share.
	ParallelBoardTimeS float64         `json:"parallel_board_time_s"`
	Boards             []poolBoardJSON `json:"boards"`
}

// poolBoardJSON is one board's share of a tiled solve.
type poolBoardJSON struct {
	URI         string  `json:"board"`
	Blocks      []int   `json:"blocks"`
	Programs    int     `json:"programs"`
	BlockSolves int     `json:"block_solves"`
	BoardTimeS  float64 `json:"board_time_s"`
}

// tiledNote says what the report's single-solve fields describe.
const tiledNote = "tiled: x comes from the outer Krylov method, its relative error is at most κ(A) times the relative residual (std_err is not defined); scale, samples, batches, burn, duration, period, relaxation and pilots describe a single solve and are zero here; see tiled for the block solves"

// tiledSolve is spu solve for a problem larger than the board (or with
// --block): block-Jacobi on the board inside FCG or FGMRES, to --refine's
// tolerance (default solver.DefaultTiledTol). Block solves take the solver
// flags when any is given, else the solver's inexact budget. A solve that
// did not converge is reported, then returned as an error (exit 1).
func tiledSolve(ctx context.Context, sf *solveFlags, boards []hal.Board, p problem, a *mat.Dense, o *solver.Options, stdout io.Writer) error {
	start := time.Now()
	pool := make([]*solver.Session, len(boards))
	for i, b := range boards {
		var err error
		if pool[i], err = solver.NewSession(b); err != nil {
			return err
		}
	}
	to := &solver.TileOptions{Tol: sf.refine, Block: sf.block}
	for _, name := range []string{"burn", "duration", "period", "batches", "tol"} {
		if sf.set[name] {
			to.Inner = o
		}
	}
	res, err := solver.TiledPool(ctx, pool, a, append([]float64(nil), p.b...), to)
	wall := time.Since(start)
	if res == nil {
		return err
	}
	xd, derr := digitalSolve(a, p.b)
	if derr != nil {
		return derr
	}
	rep := newSolveReport(sf.board, p, a, &solver.Result{X: res.X}, xd, wall)
	rep.StdErr = nanStdErr(p.n)
	rep.BoardTimeS, rep.Clocked = res.Usage.BoardTime.Seconds(), res.Usage.Clocked
	rep.Notes = append(res.Notes, tiledNote)
	tol := sf.refine
	if tol == 0 {
		tol = solver.DefaultTiledTol
	}
	rep.Tiled = &tiledJSON{Method: res.Method, Tolerance: jfloat(tol), Converged: res.Krylov.Converged,
		Block: res.Block, Blocks: len(res.Blocks), Partition: "contiguous",
		OuterIterations: res.Krylov.Iterations, Residual: jfloats(res.Krylov.Residuals),
		Programs: res.Usage.Programs, BlockSolves: res.BlockSolves, Saturated: res.Saturated,
		BoardTimeS: res.Usage.BoardTime.Seconds(), ParallelBoardTimeS: res.ParallelBoardTime.Seconds()}
	for i, sh := range res.Boards {
		rep.Tiled.Boards = append(rep.Tiled.Boards, poolBoardJSON{URI: sf.pool.uris[i], Blocks: sh.Blocks,
			Programs: sh.Usage.Programs, BlockSolves: sh.BlockSolves, BoardTimeS: sh.Usage.BoardTime.Seconds()})
	}
	if err != nil {
		rep.Tiled.Stalled = err.Error()
	}
	if werr := sf.write(stdout, rep); werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("result written, but %w", err)
	}
	return nil
}

// print adds the tiled solve's lines to the text report (nothing when t is
// nil).
func (t *tiledJSON) print(tw *tabwriter.Writer) {
	if t == nil {
		return
	}
	state := "converged"
	if !t.Converged {
		state = "did not converge"
	}
	fmt.Fprintf(tw, "tiled\t%s, block-Jacobi over %d %s blocks of at most %d, %s in %d outer iterations (tolerance %.3g)\n",
		t.Method, t.Blocks, t.Partition, t.Block, state, t.OuterIterations, t.Tolerance)
	fmt.Fprintf(tw, "residual per iteration\t%s\n", floatList(t.Residual))
	fmt.Fprintf(tw, "programmings\t%d (%d block solves, %d saturated)\n", t.Programs, t.BlockSolves, t.Saturated)
	if len(t.Boards) > 1 {
		fmt.Fprintf(tw, "pool\t%d boards, %v of board time when they run concurrently\n", len(t.Boards), seconds(t.ParallelBoardTimeS))
		for _, b := range t.Boards {
			fmt.Fprintf(tw, "  %s\tblocks %v, %d programmings, %v board time\n", b.URI, b.Blocks, b.Programs, seconds(b.BoardTimeS))
		}
	}
}

// boardList is spu solve's --board: given more than once, or as a comma
// list, it names a pool of boards for a tiled solve. It keeps the joined
// list in the flags' board field, which the report shows.
type boardList struct {
	uris  []string
	given bool
	dst   *string
}

// newBoardList replaces f's --board flag (registered by newFlags, its
// default kept) with a boardList writing to dst.
func newBoardList(f *flags, dst *string) *boardList {
	fl := f.Lookup("board")
	l := &boardList{uris: []string{fl.DefValue}, dst: dst}
	fl.Value = l
	fl.Usage = "board `URI`, e.g. sim:proto8?seed=3, sim:ideal, sim:profile.json; repeat it (or give a comma list) for a pool of boards that solve a tiled problem's blocks concurrently"
	return l
}

func (l *boardList) String() string { return strings.Join(l.uris, ",") }

// Set adds the comma-separated URIs of v; the first Set replaces the
// default.
func (l *boardList) Set(v string) error {
	if !l.given {
		l.uris, l.given = nil, true
	}
	for _, u := range strings.Split(v, ",") {
		if u == "" {
			return fmt.Errorf("empty board URI in %q", v)
		}
		l.uris = append(l.uris, u)
	}
	*l.dst = l.String()
	return nil
}

// openBoards opens every board of --board, each with its own calibration
// when --calibration is given ("cache": each board's newest). closeAll
// closes every board it opened (the raw boards, as before pools): call it
// also on error.
func (sf *solveFlags) openBoards(ctx context.Context, stderr io.Writer) (boards []hal.Board, closeAll func(), err error) {
	var raw []hal.Board
	closeAll = func() {
		for _, b := range raw {
			b.Close()
		}
	}
	for _, uri := range sf.pool.uris {
		b, err := hal.Open(ctx, uri)
		if err != nil {
			if len(sf.pool.uris) > 1 {
				err = fmt.Errorf("pool board %s: %w", uri, err)
			}
			return nil, closeAll, err
		}
		raw = append(raw, b)
		if sf.calibration != "" {
			if b, err = calibratedBoard(b, sf.calibration, sf.dither, stderr, "solve"); err != nil {
				return nil, closeAll, err
			}
		}
		boards = append(boards, b)
	}
	return boards, closeAll, nil
}
