package haltest

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

// checkCancelSample: cancelling the context while Sample works through a
// request that would take many seconds stops it promptly, with the samples
// taken so far.
func checkCancelSample(ctx context.Context, b hal.Board, cfg config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	k := in.Cells
	n, expected, boardPer, err := cancelSize(ctx, b, cfg)
	if err != nil {
		return err
	}
	if expected < 5*cfg.cancelAfter {
		return skipf("%d samples (the memory cap) take only about %v, too short to observe a cancellation after %v",
			n, expected, cfg.cancelAfter)
	}
	dst := make([]float64, n*k)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(cfg.cancelAfter, cancel)
	defer timer.Stop()
	t0, _ := hal.BoardTime(b)
	start := time.Now()
	got, err := b.Sample(cctx, 0, dst)
	el := time.Since(start)
	if err == nil {
		if el < cfg.cancelAfter {
			return skipf("%d samples took %v, finished before the cancellation at %v (timing estimate %v was too high)",
				n, el, cfg.cancelAfter, expected)
		}
		return failf("Sample(%d samples) ignored a context cancelled after %v: it ran %v and returned n = %d, nil",
			n, cfg.cancelAfter, el, got)
	}
	if !errors.Is(err, context.Canceled) {
		return failf("Sample with a context cancelled after %v: got %q, want errors.Is(err, context.Canceled)", cfg.cancelAfter, err)
	}
	if err := cancelledSoon(b, n, el, expected, t0, boardPer, cfg); err != nil {
		return err
	}
	if got < 0 || got >= n {
		return failf("cancelled Sample(%d samples) returned n = %d, want 0 ≤ n < %d", n, got, n)
	}
	if err := inRange(dst[:got*k], in.ADC.Range); err != nil {
		return failf("samples delivered before the cancellation: %w", err)
	}
	if err := smoke(ctx, b); err != nil {
		return failf("board unusable after a cancelled Sample: %w", err)
	}
	return nil
}

// cancelledSoon checks that a Sample(n samples) cancelled after
// cfg.cancelAfter stopped well before its end: by the board's own clock
// when it keeps one (board time since t0 at most half of the n samples'
// n·boardPer — work done, which a loaded machine does not stretch), else
// by the wall time el (at most half-way between the cancellation and the
// expected end of the uncancelled call).
func cancelledSoon(b hal.Board, n int, el, expected, t0, boardPer time.Duration, cfg config) error {
	if boardPer > 0 {
		t1, _ := hal.BoardTime(b)
		if full := time.Duration(n) * boardPer; t1-t0 > full/2 {
			return failf("Sample(%d samples) cancelled at %v of wall time ran %v of board time (uncancelled ≈ %v, limit %v): it did not stop",
				n, cfg.cancelAfter, t1-t0, full, full/2)
		}
		return nil
	}
	if limit := cfg.cancelAfter + (expected-cfg.cancelAfter)/2; el > limit {
		return failf("Sample(%d samples) returned %v after start, cancelled at %v: too late (uncancelled ≈ %v, limit %v)",
			n, el, cfg.cancelAfter, expected, limit)
	}
	return nil
}

// checkCancelRun: cancelling the context during a very long Run returns
// promptly (or the board finished the run sooner, as a fast simulator may).
func checkCancelRun(ctx context.Context, b hal.Board, cfg config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	d := max(cfg.longRun, 1000*in.Tau)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(cfg.cancelAfter, cancel)
	defer timer.Stop()
	start := time.Now()
	err := b.Run(cctx, d)
	el := time.Since(start)
	if err != nil && !errors.Is(err, context.Canceled) {
		return failf("Run(%v) with a context cancelled after %v: got %q, want nil or errors.Is(err, context.Canceled)",
			d, cfg.cancelAfter, err)
	}
	if limit := cfg.cancelAfter + 4*cfg.prompt; el > limit {
		return failf("Run(%v) with a context cancelled after %v returned after %v (err %v), want < %v",
			d, cfg.cancelAfter, el, err, limit)
	}
	if err := smoke(ctx, b); err != nil {
		return failf("board unusable after a cancelled Run: %w", err)
	}
	return nil
}

// checkPreCancelled: Run and Sample with an already cancelled context return
// its error at once.
func checkPreCancelled(ctx context.Context, b hal.Board, cfg config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	k := in.Cells
	// Ask for samples worth about 4·prompt, so that ignoring the context shows.
	sized := cfg
	sized.target = 4 * cfg.prompt
	n, _, _, err := cancelSize(ctx, b, sized)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var errs []error
	start := time.Now()
	err = b.Run(cctx, tauSpan(in, 10, 1))
	if el := time.Since(start); el > cfg.prompt {
		errs = append(errs, failf("Run with a cancelled context took %v, want < %v", el, cfg.prompt))
	}
	errs = append(errs, wantIs("Run(10τ) with a cancelled context", err, context.Canceled))

	dst := make([]float64, n*k)
	start = time.Now()
	got, err := b.Sample(cctx, 0, dst)
	if el := time.Since(start); el > cfg.prompt {
		errs = append(errs, failf("Sample(%d samples) with a cancelled context took %v, want < %v", n, el, cfg.prompt))
	}
	errs = append(errs, wantIs(fmtOp("Sample(%d samples) with a cancelled context", n), err, context.Canceled))
	if got < 0 || got >= n {
		errs = append(errs, failf("Sample(%d samples) with a cancelled context returned n = %d, want 0 ≤ n < %d", n, got, n))
	}
	return joinThenSmoke(ctx, b, errs)
}

// checkClose: Close is idempotent and every other method then fails with
// ErrClosed.
func checkClose(ctx context.Context, b hal.Board, _ config) error {
	if err := smoke(ctx, b); err != nil {
		return err
	}
	in := b.Info()
	k := in.Cells
	v, err := safeBias(in)
	if err != nil {
		return err
	}
	errs, err := closeTwice(ctx, b)
	if err != nil {
		return err
	}
	errs = append(errs,
		wantIs("SetCouplings after Close", b.SetCouplings(ctx, testnum.Identity(k, 1)), hal.ErrClosed),
		wantIs("SetBias after Close", b.SetBias(ctx, testnum.Constant(k, v)), hal.ErrClosed),
		wantIs("SetState after Close", b.SetState(ctx, testnum.Constant(k, v)), hal.ErrClosed),
		wantIs("Run after Close", b.Run(ctx, in.Tau), hal.ErrClosed),
	)
	return errors.Join(errs...)
}

// checkReopen: a board opened again starts in the neutral state of hal's
// contract, A = I and b = 0, whatever the previous session left. The first
// session leaves A = c·I (c ≠ 1 when the coupling range allows) and the
// per-cell levels as bias; after reopening, the means must settle at 0
// (b = 0, for any stable A), then with the levels programmed as bias at
// the levels themselves (A = I; A = c·I would put them at levels/c).
func checkReopen(ctx context.Context, b hal.Board, cfg config) error {
	if cfg.reopen == nil {
		return skipf("no way to reopen the board")
	}
	in := b.Info()
	k := in.Cells
	lv, err := levels(in)
	if err != nil {
		return err
	}
	c := snapDown(math.Min(1.5, in.Coupling.Max), in.CouplingStep)
	if err := program(ctx, b, testnum.Identity(k, c), lv); err != nil {
		return err
	}
	if err := b.Close(); err != nil {
		return failf("Close: %w", err)
	}
	b2 := cfg.reopen()
	n := statCount(statPeriod(in, 1), cfg)
	// b = 0 can be seen only where 0 V is readable: not on unipolar ranges,
	// whose readings at 0 saturate (there A = I is still checked below).
	if lo, hi, _ := window(in); lo < 0 && 0 < hi {
		if err := checkMeans(ctx, b2, make([]float64, k), 1, n); err != nil {
			return failf("reopened after a session that left A = %g·I and b = %.3g V: the means are not at b = 0 (was the bias kept?): %w", c, lv, err)
		}
	}
	if err := b2.SetBias(ctx, lv); err != nil {
		return failf("SetBias(valid vector %v): %w", lv, err)
	}
	if err := checkMeans(ctx, b2, lv, 1, n); err != nil {
		return failf("reopened after a session that left A = %g·I: with bias %.3g V the means are not at the bias (were the couplings kept instead of A = I?): %w", c, lv, err)
	}
	return nil
}

// closeTwice closes b twice (Close must be idempotent) and checks that a
// Sample afterwards is hal.ErrClosed with no samples: the part of the
// Close checks every board shares. A failing Close is returned as err.
func closeTwice(ctx context.Context, b hal.Board) (errs []error, err error) {
	if err := b.Close(); err != nil {
		return nil, failf("first Close: %w", err)
	}
	if err := b.Close(); err != nil {
		return nil, failf("second Close: %v (Close must be idempotent)", err)
	}
	n, serr := b.Sample(ctx, 0, make([]float64, b.Info().Cells))
	errs = append(errs, wantIs("Sample after Close", serr, hal.ErrClosed))
	if n != 0 {
		errs = append(errs, failf("Sample after Close returned n = %d, want 0", n))
	}
	return errs, nil
}
