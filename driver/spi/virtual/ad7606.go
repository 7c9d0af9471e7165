package virtual

import (
	"errors"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/ad7606"
)

// vAD7606 is a virtual AD7606: a conversion at CONVST's rising edge, BUSY
// falling when it is done, a 16-byte read-out. Its control pins follow
// the data sheet (Rev. C, pin descriptions and Table 3) when the wiring
// gives them to the host; an unwired pin is a strap set for normal
// operation, and the power-on reset is then the board's. A CONVST edge
// the part would not act on starts nothing, so BUSY never falls:
//   - RESET high, or less than t7 (ad7606.ResetToConvst) after it fell;
//   - with RESET wired, no RESET pulse of at least t_RESET
//     (ad7606.ResetWidth) since power-up: the data sheet asks for one;
//   - STBY low, or less than the wake-up time after it rose (100 µs from
//     standby, 30 ms from shutdown: RANGE high when STBY fell);
//   - OS[2:0] = 111, which the data sheet calls invalid.
//
// OS ≠ 000 oversamples: the conversion takes the data sheet's longest
// t_CONV for that ratio (ad7606.ConversionTime), and the result is the
// mean of the samples — the simulator's one sample stands for it.
type vAD7606 struct {
	conv      [8]int16
	ready     bool // a conversion finished and was not read out yet
	busyEdge  bool
	rangeHigh bool // ±10 V instead of ±5 V
	now       func() time.Duration

	resetHigh bool
	resetRose time.Duration
	resetFell time.Duration
	isReset   bool // reset since power-up (a board's own circuit when RESET is not wired)

	standby  bool
	stbyRose time.Duration
	wake     time.Duration // the wake-up time of the power-down mode left
	os       int           // OS[2:0]
}

func newAD7606(w spi.ADCWiring, now func() time.Duration) *vAD7606 {
	a := &vAD7606{rangeHigh: w.RangeV == 10, now: now,
		// A wired RESET pin starts low: no pulse yet. A wired STBY pin
		// starts low (the host has not driven it): in standby, or in
		// shutdown with RANGE high.
		isReset: w.ResetPin == "", standby: w.StbyPin != "",
		resetFell: math.MinInt64 / 2, stbyRose: math.MinInt64 / 2}
	if a.standby {
		a.wake = ad7606.WakeStandby
		if a.rangeHigh {
			a.wake = ad7606.WakeShutdown
		}
	}
	return a
}

// convert implements adcDevice: codes c·range/32768, clipped to 16 bits.
func (a *vAD7606) convert(v []float64, channels []int) {
	full := 5.0
	if a.rangeHigh {
		full = 10
	}
	clear(a.conv[:])
	for i, ch := range channels {
		c := math.Round(v[i] * 32768 / full)
		a.conv[ch] = int16(math.Min(math.Max(c, math.MinInt16), math.MaxInt16))
	}
	a.ready, a.busyEdge = true, true
}

// conversion implements adcDevice: the wiring's conversion time without
// oversampling, else the data sheet's longest for the ratio.
func (a *vAD7606) conversion(wired time.Duration) time.Duration {
	if a.os == 0 {
		return wired
	}
	d, _ := ad7606.ConversionTime(a.os)
	return d
}

// drive implements adcDevice: CONVST's rising edge starts a conversion
// when the part is ready for one; RANGE high selects ±10 V; RESET, STBY
// and OS0..OS2 as in the type's comment.
func (a *vAD7606) drive(role string, prev, l gpio.Level) bool {
	rising, falling := prev == gpio.Low && l == gpio.High, prev == gpio.High && l == gpio.Low
	now := a.now()
	switch role {
	case "convst":
		return rising && a.canConvert(now)
	case "range":
		a.rangeHigh = l == gpio.High
	case "reset":
		if rising {
			// A reset aborts a conversion and clears the output registers.
			a.resetHigh, a.resetRose = true, now
			a.ready, a.busyEdge = false, false
			clear(a.conv[:])
		}
		if falling {
			a.resetHigh, a.resetFell = false, now
			a.isReset = now-a.resetRose >= ad7606.ResetWidth
		}
	case "stby":
		if falling {
			a.standby, a.wake = true, ad7606.WakeStandby
			if a.rangeHigh {
				a.wake = ad7606.WakeShutdown
			}
		}
		if rising {
			a.standby, a.stbyRose = false, now
		}
	case "os0", "os1", "os2":
		bit := 1 << (role[2] - '0')
		a.os &^= bit
		if l == gpio.High {
			a.os |= bit
		}
	}
	return false
}

// canConvert reports whether a CONVST edge at now starts a conversion.
func (a *vAD7606) canConvert(now time.Duration) bool {
	_, validOS := ad7606.ConversionTime(a.os)
	return !a.resetHigh && a.isReset && now-a.resetFell >= ad7606.ResetToConvst &&
		!a.standby && now-a.stbyRose >= a.wake && validOS
}

// edge implements adcDevice: BUSY falls once per conversion.
func (a *vAD7606) edge(role string) bool {
	if role != "busy" || !a.busyEdge {
		return false
	}
	a.busyEdge = false
	return true
}

// tx reads out the last conversion: 8 big-endian two's-complement words.
func (a *vAD7606) tx(w, rd []byte) error {
	if len(w) != 16 || rd == nil {
		return fmt.Errorf("AD7606 read-out of %d bytes (read %t), want 16 read", len(w), rd != nil)
	}
	if !a.ready {
		return errors.New("AD7606 read-out without a finished conversion")
	}
	for i, c := range a.conv {
		rd[2*i], rd[2*i+1] = byte(uint16(c)>>8), byte(uint16(c))
	}
	a.ready = false
	return nil
}
