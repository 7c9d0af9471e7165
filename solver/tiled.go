package solver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// DefaultTiledTol is the relative residual Tiled stops at when
// TileOptions.Tol is zero: six digits, beyond what any single analog solve
// gives, at about two thirds of the outer iterations 10⁻⁹ would take.
const DefaultTiledTol = 1e-6

// Methods of Tiled.
const (
	MethodFCG    = "fcg"
	MethodFGMRES = "fgmres"
)

// TileOptions tune Tiled. The zero value selects every default.
type TileOptions struct {
	// Tol is the relative residual ‖b − A x‖₂/‖b‖₂ to reach, in
	// [1e-15, 1); zero selects DefaultTiledTol.
	Tol float64
	// Block is the largest block size k, 1 … the board's cells (a pool's:
	// its smallest board's); zero selects those cells.
	Block int
	// Method is MethodFCG (A symmetric positive definite), MethodFGMRES
	// (any nonsingular A) or "" to choose: FCG when A is symmetric (to
	// 10⁻¹² relative) and its Cholesky factorisation succeeds, else FGMRES.
	Method string
	// MaxIter and Memory are the outer method's KrylovSettings.
	MaxIter, Memory int
	// Inner tunes every block solve; nil selects each block's
	// InexactOptions (or, with T set, its TimedOptions).
	Inner *Options
	// T, when positive, gives every block solve a fixed analog run instead
	// of a sampling budget: see System.TimedOptions (T in A's own time
	// units, Window samples read at its end). TNGD's tiled mapping uses it
	// so that its relaxation time t keeps its meaning per block.
	T      float64
	Window int
	// Exact solves the blocks digitally (LU) instead of on the board: the
	// reference preconditioner the board's is compared with.
	Exact bool
}

// TiledResult is the outcome of Tiled.
type TiledResult struct {
	// X is the solution.
	X []float64
	// Method is the outer method used (MethodFCG or MethodFGMRES).
	Method string
	// Block is the largest block size; Blocks the partition, each [lo, hi)
	// a range of rows and columns of A whose diagonal block the board
	// solves.
	Block  int
	Blocks [][2]int
	// Krylov is the outer iteration: its count, residual history and the
	// final residual.
	Krylov KrylovResult
	// BlockSolves counts the board solves; Saturated those whose final
	// sampling saturated (their biased answer was still used: the flexible
	// method absorbs it, at the cost of iterations).
	BlockSolves, Saturated int
	// Usage is the board time and programmings of the solve, summed over
	// the pool's boards; Boards is each member's share.
	Usage  Usage
	Boards []BoardShare
	// ParallelBoardTime is the board time with the members running
	// concurrently: per preconditioner application, the longest member's
	// (Usage.BoardTime for a single board).
	ParallelBoardTime time.Duration
	// Notes are remarks: the blocks' notes (quantisation, conditioning),
	// saturated block solves.
	Notes []string
}

// Partition returns the rule Tiled cuts A by: the fewest contiguous blocks
// of at most k rows, nb = ⌈n/k⌉, as equal as possible (sizes ⌊n/nb⌋ or
// ⌈n/nb⌉, the larger ones first), as [lo, hi) ranges. Contiguous blocks
// capture A's strong couplings when related unknowns are numbered together
// (order them so, e.g. by reverse Cuthill–McKee for a sparse A).
func Partition(n, k int) [][2]int {
	if n < 1 || k < 1 {
		return nil
	}
	nb := (n + k - 1) / k
	out := make([][2]int, nb)
	lo := 0
	for i := range out {
		size := n / nb
		if i < n%nb {
			size++
		}
		out[i] = [2]int{lo, lo + size}
		lo += size
	}
	return out
}

// Tiled solves A x = b for an n × n A of any size on the session's board:
// the board solves the k × k diagonal blocks A_ii (k ≤ its cells, see
// Partition) as the block-Jacobi preconditioner M⁻¹r = (A_ii⁻¹ r_i)_i of a
// flexible Krylov method — FCG for a symmetric positive-definite A, FGMRES
// otherwise — which runs in float64 and tolerates the noisy, slightly
// varying board solves. Each block is a System: validated once, programmed
// once per preconditioner application, solved with TileOptions.Inner.
// Tiled is TiledPool with a pool of one.
//
// Errors before the board is touched: hal.ErrInvalid (nil context,
// session or options, NaN or Inf entries, a bad tolerance or method),
// hal.ErrDimension (A not square, len(b) ≠ n, Block outside 1 … cells),
// and any block the board cannot solve (unstable or singular, naming the
// block and its rows). Not reaching Tol returns the result with an error
// wrapping ErrNotConverged; board and context errors are returned wrapped
// with a nil result.
func Tiled(ctx context.Context, sess *Session, a mat.Matrix, b []float64, o *TileOptions) (*TiledResult, error) {
	return TiledPool(ctx, []*Session{sess}, a, b, o)
}

// TiledPool is Tiled on a pool of boards, one Session each, which solve
// different blocks concurrently: block i goes to member i mod m, a fixed
// assignment, each member solves its blocks in order, and each writes only
// its blocks' rows, so the result does not depend on which board finishes
// first (every board is deterministic for its own sequence of calls). The
// block size is at most the smallest member's cells. A member's board
// error stops the solve with an error naming the member (its index and
// the board's description); when several fail in one application, the
// lowest index is reported. The members may differ in everything else
// (each with its own calibration wrapper, for example).
func TiledPool(ctx context.Context, pool []*Session, a mat.Matrix, b []float64, o *TileOptions) (*TiledResult, error) {
	res, err := tiled(ctx, pool, a, b, o)
	if err != nil {
		err = fmt.Errorf("solver: tiled: %w", err)
	}
	return res, err
}

func tiled(ctx context.Context, pool []*Session, a mat.Matrix, b []float64, o *TileOptions) (*TiledResult, error) {
	members, err := newMembers(ctx, pool, o)
	if err != nil {
		return nil, err
	}
	data, n, err := square(a)
	if err != nil {
		return nil, err
	}
	if err := vector("b", b, n); err != nil {
		return nil, err
	}
	set := KrylovSettings{Tol: o.Tol, MaxIter: o.MaxIter, Memory: o.Memory}
	if set.Tol == 0 {
		set.Tol = DefaultTiledTol
	}
	k, err := blockSize(o.Block, members)
	if err != nil {
		return nil, err
	}
	am := mat.NewDense(n, n, data)
	method, err := chooseMethod(o.Method, am)
	if err != nil {
		return nil, err
	}
	t := &tiles{res: &TiledResult{X: make([]float64, n), Method: method, Block: k, Blocks: Partition(n, k)},
		inner: o.Inner, timeT: o.T, window: o.Window, members: members}
	if err := t.prepare(ctx, am, o.Exact); err != nil {
		return nil, err
	}
	solve := FCG
	if method == MethodFGMRES {
		solve = FGMRES
	}
	kr, err := solve(ctx, t.res.X, am, b, PreconditionerFunc(t.apply), set, nil)
	t.res.Krylov = kr
	t.account()
	if t.res.Saturated > 0 {
		t.res.Notes = append(t.res.Notes, fmt.Sprintf("%d of %d block solves saturated; their biased answers were used (the outer method corrects them, at the cost of iterations)", t.res.Saturated, t.res.BlockSolves))
	}
	if err != nil && !errors.Is(err, ErrNotConverged) {
		return nil, err
	}
	return t.res, err
}

// chooseMethod resolves TileOptions.Method for A.
func chooseMethod(m string, a *mat.Dense) (string, error) {
	switch m {
	case MethodFCG, MethodFGMRES:
		return m, nil
	case "":
		n, _ := a.Dims()
		raw := append([]float64(nil), a.RawMatrix().Data...)
		if ok, _, _ := symmetrise(raw, n); ok {
			var ch mat.Cholesky
			if ch.Factorize(mat.NewSymDense(n, raw)) {
				return MethodFCG, nil
			}
		}
		return MethodFGMRES, nil
	}
	return "", fmt.Errorf("method %q: want %q, %q or \"\" (choose): %w", m, MethodFCG, MethodFGMRES, hal.ErrInvalid)
}

// tiles is the block-Jacobi preconditioner of a Tiled solve.
type tiles struct {
	res     *TiledResult
	inner   *Options
	timeT   float64   // TileOptions.T
	window  int       // TileOptions.Window
	members []*member // the pool; block i is members[i%len(members)]'s
	sys     []*System // board blocks, by block
	lu      []*mat.LU // exact blocks
	quoted  int       // block notes seen
}

// owner returns the member that solves block i.
func (t *tiles) owner(i int) *member { return t.members[i%len(t.members)] }

// prepare validates every diagonal block: as a System on its member's
// board, or factorised (exact).
func (t *tiles) prepare(ctx context.Context, a *mat.Dense, exact bool) error {
	for i, blk := range t.res.Blocks {
		lo, hi := blk[0], blk[1]
		ai := a.Slice(lo, hi, lo, hi)
		where := fmt.Sprintf("block %d (rows and columns %d–%d of A, %d×%d)", i, lo, hi-1, hi-lo, hi-lo)
		if exact {
			var lu mat.LU
			lu.Factorize(ai)
			if c := lu.Cond(); !(c < 1/eps) {
				return fmt.Errorf("%s is singular (condition number %.3g, want < 1/ε = %.3g): block-Jacobi needs invertible diagonal blocks; reorder A or use a larger block: %w", where, c, 1/eps, hal.ErrUnstable)
			}
			t.lu = append(t.lu, &lu)
			continue
		}
		m := t.owner(i)
		sys, err := prepare(ctx, m.sess, ai, false, "")
		if err != nil {
			return fmt.Errorf("%s%s cannot be solved on the board: %w", m.prefix(len(t.members)), where, err)
		}
		m.blocks = append(m.blocks, i)
		t.sys = append(t.sys, sys)
		t.note(i, sys.notes)
	}
	return nil
}

// maxBlockNotes bounds the blocks' notes quoted in the result: with many
// blocks they repeat the same remark with other numbers.
const maxBlockNotes = 4

// note adds block i's notes, up to maxBlockNotes in all, then counts them.
func (t *tiles) note(i int, notes []string) {
	for _, note := range notes {
		t.quoted++
		switch {
		case t.quoted <= maxBlockNotes:
			t.res.Notes = append(t.res.Notes, fmt.Sprintf("block %d: %s", i, note))
		case t.quoted == maxBlockNotes+1:
			t.res.Notes = append(t.res.Notes, "further blocks have notes of the same kinds (not quoted)")
		}
	}
}

// eps is the float64 unit round-off 2⁻⁵².
const eps = 0x1p-52

// apply is the preconditioner: dst_i = A_ii⁻¹ r_i for every block, on
// the pool's boards concurrently (applyPool) or digitally.
func (t *tiles) apply(ctx context.Context, dst, r []float64) error {
	if t.lu == nil {
		return t.applyPool(ctx, dst, r)
	}
	for i, blk := range t.res.Blocks {
		lo, hi := blk[0], blk[1]
		z := mat.NewVecDense(hi-lo, dst[lo:hi])
		// prepare refused near-singular blocks; a Condition error here is
		// only a warning.
		var c mat.Condition
		if err := z.SolveVec(t.lu[i], mat.NewVecDense(hi-lo, append([]float64(nil), r[lo:hi]...))); err != nil && !errors.As(err, &c) {
			return fmt.Errorf("block %d: %w", i, err)
		}
	}
	return nil
}

// solveBlock solves block i on its member's board into dst's rows; a
// saturated final sampling is counted in m, its answer used.
func (t *tiles) solveBlock(ctx context.Context, m *member, i int, dst, r []float64) error {
	lo, hi := t.res.Blocks[i][0], t.res.Blocks[i][1]
	res, err := t.sys[i].Solve(ctx, r[lo:hi], t.innerFor(i, r[lo:hi]))
	if err != nil && (res == nil || !errors.Is(err, hal.ErrSaturated)) {
		return fmt.Errorf("block %d (rows %d–%d): %w", i, lo, hi-1, err)
	}
	if err != nil {
		m.saturated++
	}
	m.solves++
	copy(dst[lo:hi], res.X)
	return nil
}

// innerFor returns block i's solve options for its part r of the residual.
func (t *tiles) innerFor(i int, r []float64) *Options {
	switch {
	case t.inner != nil:
		return t.inner
	case t.timeT > 0:
		return t.sys[i].TimedOptions(t.timeT, t.window, r)
	}
	return t.sys[i].InexactOptions()
}

// TimedOptions returns the options of a solve of A x = rhs that lets the
// board run for the time T in A's own units — the dynamics ẋ = −(A x − rhs)
// from x = 0 for T, as TNGD's t (T/α τ of board time on the board's A' =
// αA) — reading window samples (at least 2, the fewest batch means take)
// at the board's shortest period, the last at T. No pilots run: the bias scale β
// comes from the bound ‖x(s)‖₂ ≤ min(s, 1/μ)·‖rhs‖₂ on the whole run (μ the
// smallest eigenvalue of A's symmetric part), so the state stays within
// half the ADC's range, capped so that the bias fits. For an A whose
// symmetric part is not positive definite there is no such bound, and
// the pilots choose β as usual. A short T is an approximate solve by
// design: its error is e^{−AT}x, not noise.
func (s *System) TimedOptions(T float64, window int, rhs []float64) *Options {
	alpha := s.sA / s.mA
	window = max(window, 2)
	// The window's samples end at T, as TNGD's do: the board relaxes for
	// T less the window, then reads one sample every period.
	read := time.Duration(window) * s.info.MinSamplePeriod
	burn := taus(s.tau, T/alpha) - read
	if burn <= 0 {
		burn = NoBurn
	}
	o := &Options{Burn: burn, Duration: read, Batches: 2, Period: s.info.MinSamplePeriod}
	nr := floats.Norm(rhs, 2)
	if !(s.mu > 0) || nr == 0 {
		return o
	}
	grow := math.Min(T, alpha/s.mu) * nr // bound on ‖x(s)‖₂, problem units
	beta := meanTarget * s.sess.adc.span() * alpha / grow
	u := make([]float64, len(rhs))
	mb := floats.Norm(rhs, math.Inf(1))
	for i, v := range rhs {
		u[i] = v / mb
	}
	if top, err := rangeScale(u, s.info.Bias.Range, biasMargin, "rhs"); err == nil {
		beta = math.Min(beta, top/mb)
	}
	if beta > 0 && !math.IsInf(beta, 0) {
		o.Beta = beta
	}
	return o
}
