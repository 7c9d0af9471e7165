package haltest

import (
	"context"
	"errors"
	"time"

	"github.com/spukit/spukit/hal"
)

// checkInfo: Info is valid and stable across calls and operations.
func checkInfo(ctx context.Context, b hal.Board, _ config) error {
	in := b.Info()
	if err := in.Validate(); err != nil {
		return failf("Info().Validate(): %w", err)
	}
	if in.Cells <= 0 {
		return failf("Info().Cells = %d, want > 0", in.Cells)
	}
	if again := b.Info(); again != in {
		return failf("Info() changed between two calls: %+v, then %+v", in, again)
	}
	if err := smoke(ctx, b); err != nil {
		return err
	}
	if again := b.Info(); again != in {
		return failf("Info() changed after programming, running and sampling: %+v, then %+v", in, again)
	}
	return nil
}

// checkClock: a board that keeps board time accounts for at least the time
// it ran and sampled, its clock never goes back, and it keeps saying that
// it keeps time.
func checkClock(ctx context.Context, b hal.Board, _ config) error {
	t0, ok := hal.BoardTime(b)
	if !ok {
		return skipf("%T keeps no board time (hal.BoardTime)", b)
	}
	now := func() (time.Duration, error) {
		t, ok := hal.BoardTime(b)
		if !ok {
			return 0, failf("BoardTime() stopped reporting a clock it reported at open")
		}
		return t, nil
	}
	in := b.Info()
	k := in.Cells
	if t0 < 0 {
		return failf("BoardTime() = %v at open, want ≥ 0", t0)
	}
	if _, err := programNeutral(ctx, b, in); err != nil {
		return err
	}
	t1, err := now()
	if err != nil {
		return err
	}
	if t1 < t0 {
		return failf("BoardTime() went back from %v to %v while programming", t0, t1)
	}
	d := tauSpan(in, 10, 1)
	if err := b.Run(ctx, d); err != nil {
		return failf("Run(%v): %w", d, err)
	}
	t2, err := now()
	if err != nil {
		return err
	}
	if t2-t1 < d {
		return failf("Run(%v) advanced BoardTime() by only %v", d, t2-t1)
	}
	const n = 100
	p := max(in.MinSamplePeriod, in.Tau)
	got, err := b.Sample(ctx, p, make([]float64, n*k))
	if err != nil && !errors.Is(err, hal.ErrSaturated) || got != n {
		return failf("Sample(%d samples every %v) = %d, %v", n, p, got, err)
	}
	t3, err := now()
	if err != nil {
		return err
	}
	if t3-t2 < (n-1)*p {
		return failf("Sample(%d samples every %v) advanced BoardTime() by only %v, want ≥ %v", n, p, t3-t2, (n-1)*p)
	}
	return nil
}
