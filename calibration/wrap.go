package calibration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/linfit"
)

// DefaultDitherRows is WrapOptions.DitherRows's default.
const DefaultDitherRows = 1024

// WrapOptions tune Wrap. The zero value rounds couplings to the nearest
// code and does not dither.
type WrapOptions struct {
	// Dither re-programs the couplings every DitherRows samples with codes
	// chosen by first-order sigma-delta modulation per element, so that the
	// time average of every element's code approaches its unquantised
	// target (the error of the average falls like 1/batches). It trades
	// the quantisation bias for extra fluctuation and programming time.
	Dither bool
	// DitherRows is the number of samples per dither batch (default
	// DefaultDitherRows). Re-programming between batches takes board time,
	// so with dithering Sample's readings are not exactly one period apart
	// across batch boundaries (hal.Board's timing holds within a batch).
	DitherRows int
	// RangeMargin is the fraction of the coupling and bias ranges held back
	// when the board is wrapped (default DefaultRangeMargin), so that a
	// later recalibration (SetCalibration) that narrows what the channels
	// can reach still covers the ranges Info reported.
	RangeMargin float64
}

// DefaultRangeMargin holds back 0.5 % of each range: drift that moves a
// channel's reach by more than that needs a new wrapper.
const DefaultRangeMargin = 0.005

// Board is a calibrated board: a hal.Board that pre-distorts what is
// programmed and corrects what is read, using a Calibration. Its hal.Clock
// forwards the wrapped board's: it keeps board time exactly when that does.
type Board interface {
	hal.Board
	hal.Clock
	// Calibration returns the calibration in use.
	Calibration() *Calibration
	// SetCalibration replaces the calibration (after a recalibration); the
	// board must be reprogrammed afterwards.
	SetCalibration(c *Calibration) error
	// Unwrap returns the wrapped board.
	Unwrap() hal.Board
}

// wrapped implements Board.
type wrapped struct {
	inner  hal.Board
	cal    *Calibration
	opts   WrapOptions
	info   hal.Info
	k      int
	closed bool

	programmed bool
	target     []float64 // unquantised pre-distorted couplings in codes (or 1/τ when continuous)
	codes      []float64 // codes programmed now
	acc        []float64 // sigma-delta accumulators
	bias       []float64 // last requested bias (calibrated volts)
}

var _ Board = (*wrapped)(nil)

// BoardTime implements hal.Clock: the wrapped board's, when it keeps it.
func (w *wrapped) BoardTime() (time.Duration, bool) { return hal.BoardTime(w.inner) }

// Wrap returns board b seen through calibration cal. It refuses (with
// ErrWrongBoard) a calibration measured on another board. A nil o selects
// the zero WrapOptions.
//
// The wrapper's Info is the board's, with the coupling and bias ranges
// narrowed to what every channel can realise after pre-distortion, less
// WrapOptions.RangeMargin, and the noise replaced by the measured effective
// σ; with dithering its CouplingStep is 0 (continuous on average). It is
// fixed at Wrap (see SetCalibration). Wrapping a Board that is already
// calibrated is refused. Couplings A are realised as
// the codes nearest to (A − offset)/gain element by element; the bias b as
// the DAC value v with β(v) = b (gain, offset, INL); readings are corrected
// with the ADC line. SetState passes through unchanged: the forcing circuit
// is the reference the ADC was calibrated against.
func Wrap(b hal.Board, cal *Calibration, o *WrapOptions) (Board, error) {
	if b == nil || cal == nil {
		return nil, fmt.Errorf("calibration: wrap: nil board or calibration: %w", hal.ErrInvalid)
	}
	w := &wrapped{inner: b}
	if o != nil {
		w.opts = *o
	}
	if w.opts.DitherRows < 0 {
		return nil, fmt.Errorf("calibration: wrap: dither rows %d: %w", w.opts.DitherRows, hal.ErrInvalid)
	}
	if w.opts.DitherRows == 0 {
		w.opts.DitherRows = DefaultDitherRows
	}
	if !(w.opts.RangeMargin >= 0 && w.opts.RangeMargin < 0.5) {
		return nil, fmt.Errorf("calibration: wrap: range margin %g, want 0 ≤ margin < 0.5: %w", w.opts.RangeMargin, hal.ErrInvalid)
	}
	if w.opts.RangeMargin == 0 {
		w.opts.RangeMargin = DefaultRangeMargin
	}
	if _, ok := b.(Board); ok {
		return nil, fmt.Errorf("calibration: wrap: %v is already calibrated (corrections would apply twice): wrap its Unwrap(): %w", b, hal.ErrInvalid)
	}
	info, err := w.reach(cal)
	if err != nil {
		return nil, err
	}
	// Info never changes afterwards (hal.Board): freeze it with a margin.
	mg := w.opts.RangeMargin
	info.Coupling.Max *= 1 - mg
	if info.Coupling.Min < 0 {
		info.Coupling.Min *= 1 - mg
	}
	span := info.Bias.Max - info.Bias.Min
	info.Bias.Min += mg * span
	info.Bias.Max -= mg * span
	if w.opts.Dither {
		// Averaged over dither batches the couplings are continuous: the
		// solver's quantisation note would describe a bias that dithering
		// removes.
		info.CouplingStep = 0
	}
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("calibration: calibrated board description: %w", err)
	}
	w.info = info
	w.use(cal)
	return w, nil
}

func (w *wrapped) Calibration() *Calibration { return w.cal }

func (w *wrapped) Unwrap() hal.Board { return w.inner }

// String names the wrapped board.
func (w *wrapped) String() string {
	return fmt.Sprintf("%v calibrated (%s)", w.inner, w.cal.MeasuredAt.Format(time.RFC3339))
}

// SetCalibration switches to a new calibration of the same board, such as
// a recalibration after drift. Info stays as it was (it never changes): a
// calibration under which some channel can no longer reach the ranges Info
// reports is refused with ErrUnsupported, and the board must be wrapped
// anew.
func (w *wrapped) SetCalibration(c *Calibration) error {
	in, err := w.reach(c)
	if err != nil {
		return err
	}
	if in.Coupling.Max < w.info.Coupling.Max || in.Coupling.Min > w.info.Coupling.Min ||
		in.Bias.Min > w.info.Bias.Min || in.Bias.Max < w.info.Bias.Max {
		return fmt.Errorf("calibration: the new calibration reaches couplings [%g, %g] and bias [%g, %g] V, "+
			"short of the wrapped board's [%g, %g] and [%g, %g] V: wrap the board anew: %w",
			in.Coupling.Min, in.Coupling.Max, in.Bias.Min, in.Bias.Max,
			w.info.Coupling.Min, w.info.Coupling.Max, w.info.Bias.Min, w.info.Bias.Max, hal.ErrUnsupported)
	}
	w.use(c)
	return nil
}

// use makes c the calibration in use; the couplings must be reprogrammed.
func (w *wrapped) use(c *Calibration) {
	k := c.Board.Cells
	w.cal, w.k = c, k
	w.programmed = false
	w.target, w.codes, w.acc = make([]float64, k*k), make([]float64, k*k), make([]float64, k*k)
}

// reach returns the description of the inner board under calibration c:
// its Info with the coupling and bias ranges narrowed to what every channel
// can realise after pre-distortion and the noise replaced by the measured
// effective σ.
func (w *wrapped) reach(c *Calibration) (hal.Info, error) {
	if err := c.Validate(); err != nil {
		return hal.Info{}, err
	}
	in := w.inner.Info()
	if err := c.Matches(in); err != nil {
		return hal.Info{}, err
	}
	k := in.Cells
	info := in
	// Coupling range: |A| ≤ m realisable on every element.
	m := math.Inf(1)
	for e, g := range c.Couplings.Gain {
		m = math.Min(m, in.Coupling.Max*g-math.Abs(c.Couplings.Offset[e]))
		if in.Coupling.Min < 0 {
			m = math.Min(m, -in.Coupling.Min*g-math.Abs(c.Couplings.Offset[e]))
		}
	}
	m *= 1 - 1e-9
	if !(m >= 1) {
		return hal.Info{}, fmt.Errorf("calibration: after pre-distortion the board cannot realise a coupling of 1 (largest %g): %w", m, hal.ErrUnsupported)
	}
	info.Coupling = hal.Range{Min: math.Max(in.Coupling.Min, -m), Max: m}
	if in.Coupling.Min >= 0 {
		info.Coupling.Min = in.Coupling.Min
	}
	// Bias range: β_i(v) over the DAC's codes (one LSB below the top),
	// narrowed by the largest INL correction.
	lo, hi := math.Inf(-1), math.Inf(1)
	top := in.Bias.Max - in.Bias.LSB()
	for i := range k {
		g, off := c.Bias.Gain[i], c.Bias.Offset[i]
		inl := 0.0
		if c.Bias.INL != nil {
			for _, v := range c.Bias.INL[i] {
				inl = math.Max(inl, math.Abs(v))
			}
		}
		lo = math.Max(lo, g*in.Bias.Min+off+inl)
		hi = math.Min(hi, g*top+off-inl)
	}
	if !(lo < hi) {
		return hal.Info{}, fmt.Errorf("calibration: no bias range is realisable on every channel: %w", hal.ErrUnsupported)
	}
	info.Bias.Range = hal.Range{Min: lo, Max: hi}
	var s2 float64
	for _, s := range c.Cells.EffectiveNoiseV {
		s2 += s * s
	}
	if len(c.Cells.EffectiveNoiseV) == k && s2 > 0 && in.Noise > 0 {
		info.Noise = math.Sqrt(s2 / float64(k))
	}
	return info, nil
}

func (w *wrapped) Info() hal.Info { return w.info }

func (w *wrapped) check(ctx context.Context, op string) error {
	return hal.CheckUsable(ctx, op, w.closed)
}

// step returns the coupling step (0: continuous).
func (w *wrapped) step() float64 { return w.inner.Info().CouplingStep }

// program sends codes to the board.
func (w *wrapped) program(ctx context.Context, codes []float64) error {
	step := w.step()
	a := make([]float64, len(codes))
	in := w.inner.Info().Coupling
	for e, c := range codes {
		v := c
		if step > 0 {
			v = c * step
		}
		a[e] = math.Min(math.Max(v, in.Min), in.Max)
	}
	return w.inner.SetCouplings(ctx, a)
}

// SetCouplings implements hal.Board: a is checked against the calibrated
// range, pre-distorted element by element and rounded to the nearest code.
func (w *wrapped) SetCouplings(ctx context.Context, a []float64) error {
	if err := w.check(ctx, "set couplings"); err != nil {
		return err
	}
	if err := hal.CheckCouplings(w.info, a); err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	k, step := w.k, w.step()
	g, off := w.cal.Couplings.Gain, w.cal.Couplings.Offset
	t := make([]float64, k*k)
	for e, v := range a {
		x := v
		if v != 0 || off[e] != 0 {
			x = (v - off[e]) / g[e]
		}
		if step > 0 {
			x /= step
		}
		t[e] = x
	}
	if w.info.Topology == hal.Symmetric {
		for i := range k {
			for j := range i {
				m := (t[i*k+j] + t[j*k+i]) / 2
				t[i*k+j], t[j*k+i] = m, m
			}
		}
	}
	codes := make([]float64, k*k)
	for e, x := range t {
		codes[e] = x
		if step > 0 {
			codes[e] = math.Round(x)
		}
	}
	if err := w.program(ctx, codes); err != nil {
		return fmt.Errorf("set couplings (pre-distorted by the calibration): %w", err)
	}
	w.target, w.codes, w.programmed = t, codes, true
	for e := range w.acc {
		w.acc[e] = t[e] - codes[e]
	}
	return nil
}

// SetBias implements hal.Board: each b_i is mapped through the inverse of
// the measured bias transfer.
func (w *wrapped) SetBias(ctx context.Context, b []float64) error {
	if err := w.check(ctx, "set bias"); err != nil {
		return err
	}
	if err := hal.CheckVector("bias", b, w.k, w.info.Bias.Range); err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	in := w.inner.Info().Bias
	v := make([]float64, w.k)
	for i, x := range b {
		v[i] = math.Min(math.Max(w.cal.dacValue(i, x), in.Min), in.Max)
	}
	if err := w.inner.SetBias(ctx, v); err != nil {
		return fmt.Errorf("set bias (pre-distorted by the calibration): %w", err)
	}
	w.bias = append(w.bias[:0], b...)
	return nil
}

// dacValue inverts β_i(v) = G v + O + INL(v) by two fixed-point steps.
func (c *Calibration) dacValue(i int, b float64) float64 {
	g, off := c.Bias.Gain[i], c.Bias.Offset[i]
	v := (b - off) / g
	if c.Bias.INL == nil || c.Bias.INL[i] == nil {
		return v
	}
	for range 2 {
		v = (b - off - linfit.Interp(c.Bias.Levels, c.Bias.INL[i], v)) / g
	}
	return v
}

// SetState implements hal.Board; it passes through (the reference).
func (w *wrapped) SetState(ctx context.Context, x []float64) error {
	if err := w.check(ctx, "set state"); err != nil {
		return err
	}
	return w.inner.SetState(ctx, x)
}

// Run implements hal.Board.
func (w *wrapped) Run(ctx context.Context, d time.Duration) error {
	if err := w.check(ctx, "run"); err != nil {
		return err
	}
	return w.inner.Run(ctx, d)
}

// dither programs the next sigma-delta codes. A code set the board refuses
// as unstable is skipped (the accumulators keep their values).
func (w *wrapped) dither(ctx context.Context) error {
	next := make([]float64, len(w.target))
	changed := false
	for e, t := range w.target {
		next[e] = math.Round(t + w.acc[e])
		if next[e] != w.codes[e] {
			changed = true
		}
	}
	if changed {
		if err := w.program(ctx, next); err != nil {
			if errors.Is(err, hal.ErrUnstable) {
				next = w.codes
			} else {
				return fmt.Errorf("dithering couplings: %w", err)
			}
		}
	}
	for e, t := range w.target {
		w.acc[e] += t - next[e]
	}
	w.codes = next
	return nil
}

// Sample implements hal.Board: readings are corrected with the ADC line and
// kept inside the ADC range; with dithering, the couplings are
// re-programmed between batches of DitherRows samples.
func (w *wrapped) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	return w.SampleStream(ctx, period, dst, nil)
}

// SampleStream implements hal.Streamer: Sample, telling progress as the
// wrapped board tells its own (when it is a hal.Streamer; else nothing
// until the call returns), each reading corrected before it is reported —
// so that spu serve streams a calibrated board's samples while it samples.
func (w *wrapped) SampleStream(ctx context.Context, period time.Duration, dst []float64, progress func(int)) (int, error) {
	if err := w.check(ctx, "sample"); err != nil {
		return 0, err
	}
	k := w.k
	rows, err := hal.SampleRows(dst, k)
	if err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
	dithering := w.opts.Dither && w.programmed && w.step() > 0
	batch := rows
	if dithering {
		batch = w.opts.DitherRows
	}
	var sat []int
	done := 0
	for done < rows {
		if done > 0 && dithering {
			if err = w.dither(ctx); err != nil {
				break
			}
		}
		n := min(batch, rows-done)
		part := dst[done*k : (done+n)*k]
		fixed := 0 // rows of part corrected so far
		var got int
		var e error
		if sb, ok := w.inner.(hal.Streamer); ok && progress != nil {
			got, e = sb.SampleStream(ctx, period, part, func(m int) {
				if m = min(m, n); m > fixed {
					w.correct(part[fixed*k : m*k])
					fixed = m
				}
				progress(done + fixed)
			})
		} else {
			got, e = w.inner.Sample(ctx, period, part)
		}
		got = max(0, min(got, n))
		if got > fixed {
			w.correct(part[fixed*k : got*k])
		}
		done += got
		var se *hal.SaturationError
		if errors.As(e, &se) {
			if sat == nil {
				sat = make([]int, k)
			}
			for i, c := range se.Counts {
				if i < k {
					sat[i] += c
				}
			}
			e = nil
		}
		if e != nil {
			err = e
			break
		}
		if got < n {
			break
		}
	}
	if err != nil {
		return done, fmt.Errorf("sample: %w", err)
	}
	if sat != nil {
		return done, fmt.Errorf("sample: %w", &hal.SaturationError{Counts: sat, Samples: done})
	}
	return done, nil
}

// correct maps raw readings to calibrated volts, inside the ADC range.
func (w *wrapped) correct(r []float64) {
	k := w.k
	adc := w.info.ADC.Range
	for s := 0; s+k <= len(r); s += k {
		row := r[s : s+k]
		w.cal.correctADC(row)
		for i, v := range row {
			row[i] = math.Min(math.Max(v, adc.Min), adc.Max)
		}
	}
}

// Close implements hal.Board; it closes the wrapped board.
func (w *wrapped) Close() error {
	w.closed = true
	return w.inner.Close()
}
