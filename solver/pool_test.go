package solver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/solver"
)

// lagBoard wraps a board: every Sample first sleeps a seeded random 0–2 ms
// of wall time, shuffling which pool member finishes first, and from the
// failAt-th Sample on (failAt > 0) it fails as an unplugged board does.
type lagBoard struct {
	hal.Board
	mu      sync.Mutex
	rng     *rand.Rand
	samples int
	failAt  int
}

func (l *lagBoard) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	l.mu.Lock()
	l.samples++
	d := time.Duration(l.rng.IntN(2000)) * time.Microsecond
	fail := l.failAt > 0 && l.samples >= l.failAt
	l.mu.Unlock()
	time.Sleep(d)
	if fail {
		return 0, fmt.Errorf("sample: %w", hal.ErrDisconnected)
	}
	return l.Board.Sample(ctx, period, dst)
}

// BoardTime forwards the wrapped board's clock (hal.Clock).
func (l *lagBoard) BoardTime() (time.Duration, bool) { return hal.BoardTime(l.Board) }

func (l *lagBoard) String() string { return fmt.Sprint(l.Board) }

// pool opens sim:proto8 with seeds 1, 2, 3 behind lagBoards whose delays
// come from lagSeed; member failing (if ≥ 0) fails at its failAt-th Sample.
func pool(t *testing.T, lagSeed uint64, failing, failAt int) []*solver.Session {
	var out []*solver.Session
	for i := range 3 {
		lb := &lagBoard{Board: open(t, fmt.Sprintf("sim:proto8?seed=%d", i+1)), rng: rng(lagSeed + uint64(i))}
		if i == failing {
			lb.failAt = failAt
		}
		s, err := solver.NewSession(lb)
		require.NoError(t, err)
		out = append(out, s)
	}
	return out
}

// A pool of 3 boards gives the same answer, bit for bit, whatever order
// its members finish in: the block assignment is fixed (block i on member
// i mod 3) and each member writes only its own blocks.
func TestTiledPoolCompletionOrder(t *testing.T) {
	a, b := solver.RandomSPD(40, 10, 1)
	o := &solver.TileOptions{Tol: 1e-6}
	var first *solver.TiledResult
	for _, lag := range []uint64{1, 2} {
		res, err := solver.TiledPool(t.Context(), pool(t, 100*lag, -1, 0), a, b, o)
		require.NoError(t, err)
		require.Len(t, res.Boards, 3)
		assert.Equal(t, []int{0, 3}, res.Boards[0].Blocks)
		assert.Equal(t, []int{1, 4}, res.Boards[1].Blocks)
		assert.Equal(t, []int{2}, res.Boards[2].Blocks)
		assert.Contains(t, res.Boards[2].Board, "seed 3")
		assert.Less(t, res.ParallelBoardTime, res.Usage.BoardTime, "members run concurrently")
		// Members 0 and 1 reprogram each of their two blocks once per
		// application; member 2 keeps its only block programmed.
		assert.Equal(t, 4*res.Krylov.Iterations+1, res.Usage.Programs)
		assert.LessOrEqual(t, relResidual(a, res.X, b), 1e-6)
		if first == nil {
			first = res
			continue
		}
		assert.Equal(t, first.X, res.X, "same bits whatever the completion order")
		assert.Equal(t, first.Krylov.Residuals, res.Krylov.Residuals)
	}
}

// A member that fails mid-solve stops the solve with an error naming it;
// a block larger than the pool's smallest board is refused naming that one.
func TestTiledPoolErrors(t *testing.T) {
	a, b := solver.RandomSPD(40, 10, 1)
	_, err := solver.TiledPool(t.Context(), pool(t, 7, 1, 20), a, b, &solver.TileOptions{Tol: 1e-6})
	require.ErrorIs(t, err, hal.ErrDisconnected)
	assert.ErrorContains(t, err, "board 1 (sim:proto8 (8 cells, seed 2)): block ")
	small, err := solver.NewSession(simBoard(t, "ideal", 1, func(p *sim.Profile) { p.Cells = 4 }))
	require.NoError(t, err)
	p := pool(t, 7, -1, 0)
	p = append(p, small)
	_, err = solver.TiledPool(t.Context(), p, a, b, &solver.TileOptions{Block: 5})
	require.ErrorIs(t, err, hal.ErrDimension)
	assert.ErrorContains(t, err, "block size 5: want 1 … 4 (the pool's smallest board, 3 (sim:ideal (4 cells, seed 1)), has 4 cells)")
	_, err = solver.TiledPool(t.Context(), []*solver.Session{p[0], p[1], p[0]}, a, b, &solver.TileOptions{})
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.ErrorContains(t, err, "pool members 0 and 2 are the same board (sim:proto8 (8 cells, seed 1))")
	_, err = solver.TiledPool(t.Context(), nil, a, b, &solver.TileOptions{})
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.ErrorContains(t, err, "empty pool")
}
