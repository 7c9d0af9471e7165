package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// iterReport mirrors the parts of solveJSON that --refine adds.
type iterReport struct {
	RelError float64    `json:"rel_error"`
	Residual float64    `json:"residual"`
	StdErr   []*float64 `json:"std_err"`
	Tiled    *struct {
		Method          string    `json:"method"`
		Converged       bool      `json:"converged"`
		Block           int       `json:"block"`
		Blocks          int       `json:"blocks"`
		OuterIterations int       `json:"outer_iterations"`
		Residual        []float64 `json:"residual"`
		Programs        int       `json:"programs"`
		BlockSolves     int       `json:"block_solves"`
		BoardTimeS      float64   `json:"board_time_s"`
	} `json:"tiled"`
	BoardTimeS float64 `json:"board_time_s"`
	Refine     *struct {
		Converged bool      `json:"converged"`
		Rounds    int       `json:"rounds"`
		Rho       []float64 `json:"rho"`
		Residual  []float64 `json:"residual"`
		Programs  int       `json:"programs"`
	} `json:"refine"`
}

func iterJSON(t *testing.T, args ...string) iterReport {
	t.Helper()
	return solveJSONAs[iterReport](t, args...)
}

// Issue 13's done-when for refinement on sim:ideal.
func TestSolveRefineIdeal(t *testing.T) {
	r := iterJSON(t, "--board", "sim:ideal", "--random", "8", "--cond", "100", "--seed", "1", "--refine", "1e-10")
	assert.LessOrEqual(t, r.RelError, 1e-9)
	assert.LessOrEqual(t, r.Residual, 1e-10)
	require.NotNil(t, r.Refine)
	assert.True(t, r.Refine.Converged)
	assert.Equal(t, 1, r.Refine.Programs)
	require.Len(t, r.Refine.Rho, r.Refine.Rounds)
	require.Len(t, r.Refine.Residual, r.Refine.Rounds)
	assert.InDelta(t, r.Residual, r.Refine.Residual[r.Refine.Rounds-1], 1e-12)
	for _, se := range r.StdErr {
		assert.Nil(t, se, "a refined x has no statistical error bar")
	}
	plain := iterJSON(t, "--board", "sim:ideal", "--random", "8", "--cond", "100", "--seed", "1")
	assert.Nil(t, plain.Refine, "without --refine the report has no refine part")
}

func TestSolveRefineBadFlag(t *testing.T) {
	for _, v := range []string{"0", "1", "1e-16", "-1", "NaN"} {
		code, _, errOut := spu(t, "solve", "--random", "8", "--refine", v)
		assert.Equal(t, exitUsage, code, v)
		assert.Contains(t, errOut, "--refine "+v, v)
		assert.Contains(t, errOut, "from 1e-15", v)
	}
}

// Issue 13's done-when for tiled solves: n = 64 on the 8-cell proto8.
func TestSolveTiledProto8(t *testing.T) {
	r := iterJSON(t, "--board", "sim:proto8", "--random", "64", "--cond", "10", "--seed", "1", "--refine", "1e-8")
	assert.LessOrEqual(t, r.RelError, 1e-7)
	assert.LessOrEqual(t, r.Residual, 1e-8)
	require.NotNil(t, r.Tiled)
	tl := r.Tiled
	assert.Equal(t, "fcg", tl.Method)
	assert.True(t, tl.Converged)
	assert.Equal(t, 8, tl.Block)
	assert.Equal(t, 8, tl.Blocks)
	require.Len(t, tl.Residual, tl.OuterIterations)
	assert.Equal(t, tl.Blocks*tl.OuterIterations, tl.Programs, "each block programmed once per outer iteration")
	assert.Equal(t, tl.Programs, tl.BlockSolves)
	assert.Greater(t, tl.BoardTimeS, 0.0)
	assert.Equal(t, r.BoardTimeS, tl.BoardTimeS)
	assert.Nil(t, r.Refine)
}

func TestSolveBlockBadFlag(t *testing.T) {
	code, _, errOut := spu(t, "solve", "--random", "8", "--block", "0")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--block 0: want a block size of at least 1")
}

// A pool: --board repeated and as a comma list; each board gets its blocks
// round-robin and reports its share.
func TestSolvePool(t *testing.T) {
	type pooled struct {
		Board string `json:"board"`
		Tiled struct {
			Blocks             int     `json:"blocks"`
			OuterIterations    int     `json:"outer_iterations"`
			BoardTimeS         float64 `json:"board_time_s"`
			ParallelBoardTimeS float64 `json:"parallel_board_time_s"`
			Boards             []struct {
				Board  string `json:"board"`
				Blocks []int  `json:"blocks"`
			} `json:"boards"`
		} `json:"tiled"`
		RelError float64 `json:"rel_error"`
	}
	r := solveJSONAs[pooled](t, "--board", "sim:proto8?seed=1,sim:proto8?seed=2", "--board", "sim:ideal",
		"--random", "20", "--cond", "10", "--refine", "1e-6")
	assert.Equal(t, "sim:proto8?seed=1,sim:proto8?seed=2,sim:ideal", r.Board)
	assert.Equal(t, 3, r.Tiled.Blocks)
	require.Len(t, r.Tiled.Boards, 3)
	for i, want := range []string{"sim:proto8?seed=1", "sim:proto8?seed=2", "sim:ideal"} {
		assert.Equal(t, want, r.Tiled.Boards[i].Board)
		assert.Equal(t, []int{i}, r.Tiled.Boards[i].Blocks)
	}
	assert.Less(t, r.Tiled.ParallelBoardTimeS, r.Tiled.BoardTimeS)
	assert.LessOrEqual(t, r.RelError, 1e-5)
	code, _, errOut := spu(t, "solve", "--random", "20", "--board", "sim:ideal,,sim:ideal")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `empty board URI in "sim:ideal,,sim:ideal"`)
	code, _, errOut = spu(t, "solve", "--random", "20", "--board", "sim:ideal,sim:proto9")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut, "pool board sim:proto9")
}
