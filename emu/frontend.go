// Package emu runs the board firmware on the host: it binds package
// firmware to a simulated board's analog side (any hal.Board, normally from
// package sim), so the serial path can be tested end to end without
// hardware. Codes on the wire are converted exactly as the simulator's own
// converters do, so samples read through the firmware are bit-identical to
// the simulator's.
package emu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/firmware"
	"github.com/spukit/spukit/firmware/proto"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/fitname"
)

// wireBits is the code width used on the wire for a continuous converter.
const wireBits = 16

// FrontEnd adapts a hal.Board to firmware.FrontEnd.
type FrontEnd struct {
	ctx   context.Context
	b     hal.Board
	info  hal.Info
	k     int
	a     []float64 // coupling matrix being written
	state []float64
	bias  []float64
	buf   []float64
}

var _ firmware.FrontEnd = (*FrontEnd)(nil)

// NewFrontEnd wraps b; ctx bounds every board call.
func NewFrontEnd(ctx context.Context, b hal.Board) *FrontEnd {
	in := b.Info()
	k := in.Cells
	fe := &FrontEnd{ctx: ctx, b: b, info: in, k: k, a: make([]float64, k*k),
		state: make([]float64, k), bias: make([]float64, k), buf: make([]float64, k)}
	for i := range k {
		fe.a[i*k+i] = 1
	}
	return fe
}

// Info returns what the firmware reports in INFO for board b: its
// hal.Info, and a board clock when b keeps board time (hal.BoardTime).
func Info(b hal.Board) proto.Info {
	in := b.Info()
	var caps proto.Capability
	if in.Caps.Has(hal.CapNoise) {
		caps |= proto.CapNoise
	}
	if _, ok := hal.BoardTime(b); ok {
		caps |= proto.CapClock
	}
	if in.Caps.Has(hal.CapSimulated) {
		caps |= proto.CapSimulated
	}
	return proto.Info{
		Firmware: fitString("emu " + in.Firmware), Serial: fitString(in.Serial), Cells: in.Cells,
		Symmetric: in.Topology == hal.Symmetric, Caps: caps,
		CouplingMax: float32(in.Coupling.Max), CouplingBits: uint8(couplingBits(in)),
		BiasMin: float32(in.Bias.Min), BiasMax: float32(in.Bias.Max), BiasBits: uint8(bits(in.Bias)),
		ADCMin: float32(in.ADC.Min), ADCMax: float32(in.ADC.Max), ADCBits: uint8(bits(in.ADC)),
		TauNs: uint32(in.Tau.Nanoseconds()), Noise: float32(in.Noise), MinPeriodNs: uint32(in.MinSamplePeriod.Nanoseconds()),
	}
}

// fitString fits s into INFO's proto.MaxString bytes: the firmware would
// cut it there, and two boards whose serials differ only after them (a
// long profile name, seeds 1 and 2) would then report the same serial —
// and take each other's calibrations. A longer s keeps its start and ends
// in "~" and a hash of the whole (fitname.String).
func fitString(s string) string { return fitname.String(s, proto.MaxString) }

func bits(c hal.Converter) int {
	if c.Bits == 0 {
		return wireBits
	}
	return c.Bits
}

func lsb(c hal.Converter) float64 { return (c.Max - c.Min) / math.Exp2(float64(bits(c))) }

// couplingBits is the magnitude width b with step = max/(2ᵇ − 1).
func couplingBits(in hal.Info) int {
	if in.CouplingStep == 0 {
		return wireBits - 1
	}
	return int(math.Round(math.Log2(in.Coupling.Max/in.CouplingStep + 1)))
}

func couplingStep(in hal.Info) float64 {
	if in.CouplingStep != 0 {
		return in.CouplingStep
	}
	return in.Coupling.Max / (math.Exp2(wireBits-1) - 1)
}

// SetCoupling implements firmware.FrontEnd.
func (f *FrontEnd) SetCoupling(row, col int, code int16) error {
	if row < 0 || col < 0 || row >= f.k || col >= f.k {
		return fmt.Errorf("coupling (%d,%d) outside %d cells: %w", row, col, f.k, hal.ErrDimension)
	}
	f.a[row*f.k+col] = float64(code) * couplingStep(f.info)
	return nil
}

// LatchCouplings implements firmware.FrontEnd.
func (f *FrontEnd) LatchCouplings() error { return f.b.SetCouplings(f.ctx, f.a) }

// SetBias implements firmware.FrontEnd.
func (f *FrontEnd) SetBias(codes []uint16) error {
	for i, c := range codes {
		f.bias[i] = f.info.Bias.Min + float64(c)*lsb(f.info.Bias)
	}
	return f.b.SetBias(f.ctx, f.bias)
}

// ForceState implements firmware.FrontEnd.
func (f *FrontEnd) ForceState(codes []uint16) error {
	for i, c := range codes {
		f.state[i] = f.info.ADC.Min + float64(c)*lsb(f.info.ADC)
	}
	return f.b.SetState(f.ctx, f.state)
}

// Run implements firmware.FrontEnd.
func (f *FrontEnd) Run(ns uint64) error {
	if ns == 0 || ns > math.MaxInt64 {
		return fmt.Errorf("run %d ns: %w", ns, hal.ErrInvalid)
	}
	return f.b.Run(f.ctx, time.Duration(ns))
}

// Acquire implements firmware.FrontEnd: one sample after periodNs, as ADC
// codes (the simulator's own quantisation, inverted exactly).
func (f *FrontEnd) Acquire(periodNs uint64, dst []uint16, sat []byte) error {
	_, err := f.b.Sample(f.ctx, time.Duration(periodNs), f.buf)
	var se *hal.SaturationError
	if errors.As(err, &se) {
		for i, c := range se.Counts {
			if c > 0 {
				sat[i/8] |= 1 << (i % 8)
			}
		}
		err = nil
	}
	if err != nil {
		return err
	}
	l := lsb(f.info.ADC)
	top := math.Exp2(float64(bits(f.info.ADC))) - 1
	for i, v := range f.buf {
		dst[i] = uint16(math.Min(math.Max(math.Round((v-f.info.ADC.Min)/l), 0), top))
	}
	return nil
}

// Reset implements firmware.FrontEnd: identity couplings, zero bias and state.
func (f *FrontEnd) Reset() error {
	clear(f.a)
	for i := range f.k {
		f.a[i*f.k+i] = 1
	}
	clear(f.bias)
	clear(f.state)
	if err := f.b.SetCouplings(f.ctx, f.a); err != nil {
		return err
	}
	if err := f.b.SetBias(f.ctx, f.bias); err != nil {
		return err
	}
	return f.b.SetState(f.ctx, f.state)
}

// Temperature implements firmware.FrontEnd (25 °C unless the board has a
// thermometer, as sim.Board does).
func (f *FrontEnd) Temperature() int16 {
	if t, ok := f.b.(interface{ Temperature() float64 }); ok {
		return int16(math.Round(100 * t.Temperature()))
	}
	return 2500
}

// Now implements firmware.FrontEnd: the board clock if it has one, else 0.
func (f *FrontEnd) Now() uint64 {
	t, _ := hal.BoardTime(f.b)
	return uint64(t.Nanoseconds())
}
