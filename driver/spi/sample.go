package spi

import (
	"context"
	"fmt"
	"time"

	"github.com/spukit/spukit/hal"
)

// Run implements hal.Board: the host waits d while the board evolves.
func (b *Board) Run(ctx context.Context, d time.Duration) error {
	if err := b.check(ctx, "run"); err != nil {
		return err
	}
	if err := hal.CheckDuration(d); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := b.host.SleepUntil(ctx, b.host.Now()+d); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// Sample implements hal.Board. Conversion k starts (k+1)·period after the
// call, as hal.Board specifies, and its read-out follows, so the call takes
// n·period plus one conversion and read-out. A reading at either end of
// the ADC's codes is saturated.
func (b *Board) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	period, rows, err := hal.SampleStart(ctx, b.info, b.closed, period, dst)
	if err != nil {
		return 0, err
	}
	k := b.k
	lead := b.w.sampleTime()
	start := b.host.Now()
	var sat []int
	for n := range rows {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("sample %d of %d: %w", n, rows, err)
		}
		slot := start + time.Duration(n+1)*period
		if err := b.host.SleepUntil(ctx, slot); err != nil {
			return n, fmt.Errorf("sample %d of %d: %w", n, rows, err)
		}
		if late := b.host.Now() - slot; late > period/10 {
			b.stats.Late++
			b.stats.MaxLate = max(b.stats.MaxLate, late)
		}
		if err := b.adc.Convert(); err != nil {
			return n, fmt.Errorf("sample %d of %d: %w", n, rows, contract(err))
		}
		b.stats.Conversions++
		b.stats.SampleBus += b.w.readout()
		row := dst[n*k : n*k+k]
		for i, ch := range b.w.ADC.Channels {
			v, saturated := b.adc.Volts(ch)
			row[i] = v
			if saturated {
				if sat == nil {
					sat = make([]int, k)
				}
				sat[i]++
			}
		}
	}
	// The last read-out ends lead after its conversion started.
	if err := b.host.SleepUntil(ctx, start+time.Duration(rows)*period+lead); err != nil {
		return rows, fmt.Errorf("sample: %w", err)
	}
	if sat != nil {
		return rows, fmt.Errorf("sample: %w", &hal.SaturationError{Counts: sat, Samples: rows})
	}
	return rows, nil
}
