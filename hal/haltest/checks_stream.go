package haltest

import (
	"context"
	"errors"
	"slices"

	"github.com/spukit/spukit/hal"
)

// checkStream: a board that reports Sample's progress (hal.Streamer)
// reports growing counts below the count it returns, for samples that are
// final then (they do not change afterwards), and takes a nil progress.
func checkStream(ctx context.Context, b hal.Board, _ config) error {
	sb, ok := b.(hal.Streamer)
	if !ok {
		return skipf("%T does not report Sample's progress (hal.Streamer)", b)
	}
	k := b.Info().Cells
	rows := max(2, min(300, (1<<21)/k)) // at most 16 MiB of samples
	dst := make([]float64, rows*k)
	var seen []float64 // samples [0, last) as they were when reported
	last := 0
	var bad error
	got, err := sb.SampleStream(ctx, 0, dst, func(n int) {
		if bad == nil && (n <= last || n >= rows) {
			bad = failf("SampleStream(%d samples): progress(%d) after progress(%d); want growing counts below %d", rows, n, last, rows)
		}
		if bad == nil {
			seen = append(seen, dst[last*k:n*k]...)
			last = n
		}
	})
	if err != nil && !errors.Is(err, hal.ErrSaturated) || got != rows {
		return failf("SampleStream(%d samples) = %d, %v", rows, got, err)
	}
	if bad != nil {
		return bad
	}
	if !slices.Equal(seen, dst[:last*k]) {
		return failf("SampleStream(%d samples): samples changed after progress(%d) reported them final", rows, last)
	}
	if got, err := sb.SampleStream(ctx, 0, dst, nil); err != nil && !errors.Is(err, hal.ErrSaturated) || got != rows {
		return failf("SampleStream(%d samples, nil progress) = %d, %v", rows, got, err)
	}
	return nil
}
