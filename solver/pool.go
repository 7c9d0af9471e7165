package solver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/spukit/spukit/hal"
)

// BoardShare is one pool member's part of a TiledPool solve.
type BoardShare struct {
	// Board describes the member: its index in the pool and the board
	// (its String method when it has one, else model and serial).
	Board string
	// Blocks are the indices of the blocks it solved.
	Blocks []int
	// Usage is its board time and programmings; BlockSolves and Saturated
	// count its block solves and those that saturated.
	Usage                  Usage
	BlockSolves, Saturated int
}

// member is one board of a pool with its blocks and running counts.
type member struct {
	index             int
	name              string
	sess              *Session
	u0                Usage
	blocks            []int
	solves, saturated int
}

// newMembers checks the call's common arguments and the pool.
func newMembers(ctx context.Context, pool []*Session, o *TileOptions) ([]*member, error) {
	if ctx == nil || o == nil {
		return nil, fmt.Errorf("nil context or options: %w", hal.ErrInvalid)
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("empty pool: want at least one board: %w", hal.ErrInvalid)
	}
	members := make([]*member, len(pool))
	for i, s := range pool {
		if s == nil {
			return nil, fmt.Errorf("nil session (pool member %d of %d): %w", i, len(pool), hal.ErrInvalid)
		}
		for j, m := range members[:i] {
			// Members run concurrently; a Session (and its board) is
			// not safe for concurrent use.
			if m.sess == s || sameBoard(m.sess.b, s.b) {
				return nil, fmt.Errorf("pool members %d and %d are the same board (%s): give each board once: %w", j, i, m.name, hal.ErrInvalid)
			}
		}
		members[i] = &member{index: i, name: boardName(s), sess: s, u0: s.Usage()}
	}
	return members, nil
}

// sameBoard reports whether a and b are the same pointer (boards that are
// not pointers are never the same: comparing them could panic).
func sameBoard(a, b hal.Board) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Kind() == reflect.Pointer && vb.Kind() == reflect.Pointer && va.Type() == vb.Type() && va.Pointer() == vb.Pointer()
}

// boardName describes a session's board for messages.
func boardName(s *Session) string {
	if str, ok := s.b.(fmt.Stringer); ok {
		return str.String()
	}
	return fmt.Sprintf("%s, serial %s", s.info.Model, s.info.Serial)
}

// prefix is "board i (name): " in a pool of more than one, else "".
func (m *member) prefix(poolSize int) string {
	if poolSize == 1 {
		return ""
	}
	return fmt.Sprintf("board %d (%s): ", m.index, m.name)
}

// blockSize resolves TileOptions.Block: at most the smallest member's
// cells, which is also the default.
func blockSize(k int, members []*member) (int, error) {
	small := members[0]
	for _, m := range members[1:] {
		if m.sess.info.Cells < small.sess.info.Cells {
			small = m
		}
	}
	cells := small.sess.info.Cells
	if k == 0 {
		k = cells
	}
	if k < 1 || k > cells {
		who := fmt.Sprintf("board %s has %d cells", small.sess.info.Model, cells)
		if len(members) > 1 {
			who = fmt.Sprintf("the pool's smallest board, %d (%s), has %d cells", small.index, small.name, cells)
		}
		return 0, fmt.Errorf("block size %d: want 1 … %d (%s): %w", k, cells, who, hal.ErrDimension)
	}
	return k, nil
}

// applyPool solves every block on its member's board, the members
// concurrently, each its blocks in order. A member's error cancels the
// others; the lowest-indexed member's own error (not a cancellation it
// suffered from another's) is returned.
func (t *tiles) applyPool(ctx context.Context, dst, r []float64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(t.members))
	spent := make([]time.Duration, len(t.members))
	var wg sync.WaitGroup
	for j, m := range t.members {
		wg.Go(func() {
			before := m.sess.Usage().BoardTime
			for _, i := range m.blocks {
				if err := t.solveBlock(ctx, m, i, dst, r); err != nil {
					errs[j] = fmt.Errorf("%s%w", m.prefix(len(t.members)), err)
					cancel()
					break
				}
			}
			spent[j] = m.sess.Usage().BoardTime - before
		})
	}
	wg.Wait()
	longest := time.Duration(0)
	for _, d := range spent {
		longest = max(longest, d)
	}
	t.res.ParallelBoardTime += longest
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return first
}

// account sums the members' usage into the result.
func (t *tiles) account() {
	t.res.Usage = Usage{Clocked: true}
	for _, m := range t.members {
		u := m.sess.Usage().Sub(m.u0)
		t.res.Usage.BoardTime += u.BoardTime
		t.res.Usage.InBoard += u.InBoard
		t.res.Usage.Programs += u.Programs
		t.res.Usage.Clocked = t.res.Usage.Clocked && u.Clocked
		t.res.BlockSolves += m.solves
		t.res.Saturated += m.saturated
		t.res.Boards = append(t.res.Boards, BoardShare{Board: fmt.Sprintf("%d: %s", m.index, m.name),
			Blocks: m.blocks, Usage: u, BlockSolves: m.solves, Saturated: m.saturated})
	}
}
