package calibration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spukit/spukit/hal"
)

// session is one measurement on a board.
type session struct {
	b      hal.Board
	info   hal.Info
	k      int
	period time.Duration
	t0     time.Duration // board time at the start (hal.BoardTime)
	spent  time.Duration // requested board time when there is no clock
	w0     time.Time
	hits   []int
	events int
	rows   int
	buf    []float64
}

func newSession(b hal.Board) (*session, error) {
	info := b.Info()
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("board reports an invalid description: %w", err)
	}
	s := &session{b: b, info: info, k: info.Cells, period: info.MinSamplePeriod, hits: make([]int, info.Cells), w0: time.Now()}
	s.t0, _ = hal.BoardTime(b)
	return s, nil
}

// zeroBias programs the bias nearest 0 V on every cell (on the DAC's code
// grid): the transients then relax toward the origin.
func (s *session) zeroBias(ctx context.Context) error {
	v := snap(math.Min(math.Max(0, s.info.Bias.Min), s.info.Bias.Max), s.info.Bias)
	zero := make([]float64, s.k)
	for i := range zero {
		zero[i] = v
	}
	if err := s.b.SetBias(ctx, zero); err != nil {
		return fmt.Errorf("programming zero bias: %w", err)
	}
	return nil
}

func (s *session) cost() Cost {
	c := Cost{WallS: time.Since(s.w0).Seconds(), Events: s.events, Samples: s.rows}
	if t, ok := hal.BoardTime(s.b); ok {
		c.BoardTimeS, c.Clocked = (t - s.t0).Seconds(), true
	} else {
		c.BoardTimeS = s.spent.Seconds()
	}
	return c
}

// snap puts v on a converter's code grid (inside its range), so that every
// transport (direct, serial codes) programs exactly the same value.
func snap(v float64, c hal.Converter) float64 {
	lsb := c.LSB()
	if lsb == 0 {
		return math.Min(math.Max(v, c.Min), c.Max)
	}
	top := math.Exp2(float64(c.Bits)) - 1
	code := math.Min(math.Max(math.Round((v-c.Min)/lsb), 0), top)
	return c.Min + code*lsb
}

// snapCoupling puts a on the coupling grid, inside the range.
func snapCoupling(a float64, info hal.Info) float64 {
	if info.CouplingStep > 0 {
		a = math.Round(a/info.CouplingStep) * info.CouplingStep
	}
	return math.Min(math.Max(a, info.Coupling.Min), info.Coupling.Max)
}

// transients holds the data of one probe's forced-state transients:
// the regression of successive readings, and the forced states with the
// first reading after each.
type transients struct {
	reg    *regression
	forced [][]float64
	first  [][]float64
}

// record runs n forced-state transients on the currently programmed
// couplings: force a random state on the ADC grid, read Window samples.
// correct, when set, maps readings to volts in place (a calibrated ADC).
func (s *session) record(ctx context.Context, r *rand.Rand, n, window int, correct func([]float64), progress func(int)) (*transients, error) {
	k := s.k
	t := &transients{reg: newRegression(k)}
	if len(s.buf) < window*k {
		s.buf = make([]float64, window*k)
	}
	buf := s.buf[:window*k]
	adc := s.info.ADC
	mid, half := (adc.Min+adc.Max)/2, (adc.Max-adc.Min)/2
	v := make([]float64, k)
	for e := range n {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("calibration: %w", err)
		}
		for i := range v {
			v[i] = snap(mid+0.8*half*(2*r.Float64()-1), adc)
		}
		if err := s.b.SetState(ctx, v); err != nil {
			return nil, fmt.Errorf("calibration: forcing a state: %w", err)
		}
		got, err := s.b.Sample(ctx, s.period, buf)
		s.spent += time.Duration(window) * s.period
		s.rows += got
		var se *hal.SaturationError
		if errors.As(err, &se) {
			for i, c := range se.Counts {
				if i < k {
					s.hits[i] += c
				}
			}
			continue // a clipped transient would bias the regression
		}
		if err != nil {
			return nil, fmt.Errorf("calibration: sampling a transient: %w", err)
		}
		if got != window {
			return nil, fmt.Errorf("calibration: board returned %d of %d samples: %w", got, window, hal.ErrDisconnected)
		}
		if correct != nil {
			for w := range window {
				correct(buf[w*k : (w+1)*k])
			}
		}
		t.reg.addTransient(buf, window)
		t.reg.addForced(v)
		t.forced = append(t.forced, append([]float64(nil), v...))
		t.first = append(t.first, append([]float64(nil), buf[:k]...))
		s.events++
		if progress != nil && e%256 == 255 {
			progress(e + 1)
		}
	}
	return t, nil
}

// finish records what the session saw across the stages: the channels'
// success flags, their saturated readings (with a note for each channel
// that had any) and the cost.
func (s *session) finish(cal *Calibration, success []bool) {
	cal.Success = success
	cal.BoundaryHits = append([]int(nil), s.hits...)
	for i, h := range s.hits {
		if h > 0 {
			cal.Notes = append(cal.Notes, fmt.Sprintf("channel %d: %d saturated readings (their transients were dropped)", i, h))
		}
	}
	cal.Cost = s.cost()
}
