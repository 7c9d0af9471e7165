package hal_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/spukit/spukit/hal"
)

// clockBoard is a board whose Clock answer is fixed.
type clockBoard struct {
	stubBoard
	d  time.Duration
	ok bool
}

func (c clockBoard) BoardTime() (time.Duration, bool) { return c.d, c.ok }

// BoardTime reads the clock of a board that keeps one, and reports none
// both for a board without the method and for one that says it has none
// (a wrapper around a clockless board).
func TestBoardTime(t *testing.T) {
	d, ok := hal.BoardTime(clockBoard{d: 3 * time.Second, ok: true})
	assert.True(t, ok)
	assert.Equal(t, 3*time.Second, d)

	d, ok = hal.BoardTime(clockBoard{ok: false})
	assert.False(t, ok, "a Clock that says no")
	assert.Zero(t, d)

	d, ok = hal.BoardTime(stubBoard{})
	assert.False(t, ok, "no Clock at all")
	assert.Zero(t, d)
}
