package plot

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The first ten series get ten different colours; the eleventh repeats the
// first (and is dashed).
func TestSeriesColors(t *testing.T) {
	seen := map[any]int{}
	for i := range 10 {
		c := seriesColor(i)
		_, dup := seen[c]
		assert.False(t, dup, "series %d repeats the colour of series %d", i, seen[c])
		seen[c] = i
	}
	assert.Equal(t, seriesColor(0), seriesColor(10))
}
