package virtual

import (
	"errors"
	"fmt"
	"math"

	"periph.io/x/conn/v3/gpio"
)

// vAD7606 is a virtual AD7606: a conversion at CONVST's rising edge, BUSY
// falling when it is done, a 16-byte read-out.
type vAD7606 struct {
	conv      [8]int16
	ready     bool // a conversion finished and was not read out yet
	busyEdge  bool
	rangeHigh bool // ±10 V instead of ±5 V
}

func newAD7606(rangeHigh bool) *vAD7606 { return &vAD7606{rangeHigh: rangeHigh} }

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

// drive implements adcDevice: CONVST's rising edge starts a conversion;
// RANGE high selects ±10 V.
func (a *vAD7606) drive(role string, prev, l gpio.Level) bool {
	switch role {
	case "convst":
		return prev == gpio.Low && l == gpio.High
	case "range":
		a.rangeHigh = l == gpio.High
	}
	return false
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
