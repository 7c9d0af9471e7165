package spi

import (
	"context"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"
)

// TransferTime is the bus time of an n-byte transaction at hz.
func TransferTime(n int, hz float64) time.Duration {
	return time.Duration(math.Round(float64(n) * 8e9 / hz))
}

// Stats accounts the bus traffic of a board since it was opened. Bus
// times come from frame sizes and SPI clocks; host overheads (system
// calls, scheduling) are in BoardTime but not here.
type Stats struct {
	// Transactions and Bytes count SPI transactions and bytes.
	Transactions, Bytes int
	// ProgramBus is the bus time spent programming couplings, bias and
	// state; ProgramWait the settling and forcing waits.
	ProgramBus, ProgramWait time.Duration
	// SampleBus is the bus time spent reading the ADC; Conversions counts
	// conversions.
	SampleBus   time.Duration
	Conversions int
	// Late counts conversions that started more than a tenth of the sample
	// period after their slot because the host fell behind; MaxLate is the
	// worst delay. Late samples are not period apart: raise the wiring's
	// adc.min_period_s until this stays zero.
	Late    int
	MaxLate time.Duration
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// timedConn accounts every transaction's bus time, and runs a reading
// transaction at readHz when the chip's read-back is slower than its
// input (the AD5676: 25 MHz against 50 MHz). periph's spidev port takes
// the lower of its LimitSpeed and the Connect speed for every transfer
// (host/v3 sysfs/spi.go, spiConn.txPackets), so lowering the port's limit
// around one transaction slows that transaction alone.
type timedConn struct {
	pspi.Conn
	b *Board
	// hz and readHz are the clocks writing and reading transactions run at.
	hz, readHz float64
	// port's limit sets the clock per transfer; limitHz is the limit it
	// has between transactions (the wiring's clock for the port, or at's).
	port    pspi.PortCloser
	limitHz float64
}

// clock is the connection's clock in Hz.
func (c *timedConn) clock() float64 { return c.hz }

// limit sets the port's speed limit to hz.
func (c *timedConn) limit(hz float64) error {
	return c.port.LimitSpeed(physic.Frequency(hz * float64(physic.Hertz)))
}

// at runs f with every transaction on c clocked at hz (below c's clock),
// accounted at hz, and then puts c's clocks back. The port's limit takes
// effect per transfer, as for the read-back clock above.
func (c *timedConn) at(hz float64, f func() error) error {
	hz0, read0, limit0 := c.hz, c.readHz, c.limitHz
	if err := c.limit(hz); err != nil {
		return fmt.Errorf("clock %g Hz: %w", hz, err)
	}
	c.hz, c.readHz, c.limitHz = hz, math.Min(read0, hz), hz
	defer func() {
		c.hz, c.readHz, c.limitHz = hz0, read0, limit0
		_ = c.limit(limit0)
	}()
	return f()
}

func (c *timedConn) Tx(w, r []byte) error {
	n := max(len(w), len(r))
	c.b.stats.Transactions++
	c.b.stats.Bytes += n
	hz := c.hz
	if r != nil && c.readHz < c.hz {
		hz = c.readHz
		if err := c.limit(hz); err != nil {
			return fmt.Errorf("read-back clock %g Hz: %w", hz, err)
		}
		defer func() { _ = c.limit(c.limitHz) }()
	}
	if c.b.programming {
		c.b.stats.ProgramBus += TransferTime(n, hz)
	}
	return c.Conn.Tx(w, r)
}

// program runs f with its bus time accounted as programming; a chip's
// error comes back in the hal contract (contract).
func (b *Board) program(f func() error) error {
	b.programming = true
	defer func() { b.programming = false }()
	return contract(f())
}

// wait sleeps d of board time after the current time, accounted as
// programming wait.
func (b *Board) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	b.stats.ProgramWait += d
	return b.host.SleepUntil(ctx, b.host.Now()+d)
}

// Timing is what one operation costs on the bus at the wiring's clocks,
// with the wiring's settling waits; it is what Stats accumulates.
type Timing struct {
	// SPIHz is the wiring's SPI clock (each chip runs at the lower of it
	// and its own maximum).
	SPIHz float64 `json:"spi_hz"`
	// Couplings is a coupling update without sign changes: every element,
	// then settling.
	Couplings time.Duration `json:"couplings_ns"`
	// CouplingsSignFlip is an update that flips signs on live elements:
	// those elements to zero, settle, polarity registers, every element,
	// settle.
	CouplingsSignFlip time.Duration `json:"couplings_sign_flip_ns"`
	// BiasChannel is one bias channel's frame and settling.
	BiasChannel time.Duration `json:"bias_channel_ns"`
	// State is SetState on every cell: state DAC frames, settling, FORCE.
	State time.Duration `json:"state_ns"`
	// Sample is one conversion and its read-out: the shortest sample period
	// before rounding up to whole µs.
	Sample time.Duration `json:"sample_ns"`
}

// Timing returns the per-operation bus times of the board's wiring.
func (b *Board) Timing() Timing {
	w := b.w
	n := len(w.Coupling.Elements)
	pol := polarityChips[w.Polarity.Chip]
	reg := TransferTime((n+pol.outputs-1)/pol.outputs*pol.bus.FrameBytes, clockHz(pol.bus, w.SPIHz))
	cc := couplingChips[w.Coupling.Chip]
	mag := cc.updateBus(n, clockHz(cc.bus, w.couplingHz()))
	bias, state := dacChips[w.Bias.Chip].bus, dacChips[w.State.Chip].bus
	biasT := TransferTime(bias.FrameBytes, clockHz(bias, w.SPIHz))
	stateT := TransferTime(state.FrameBytes, clockHz(state, w.SPIHz))
	settle := seconds(w.Coupling.SettleS)
	return Timing{
		SPIHz:             w.SPIHz,
		Couplings:         mag + settle,
		CouplingsSignFlip: 2*(mag+settle) + reg,
		BiasChannel:       biasT + seconds(w.Bias.SettleS),
		State:             time.Duration(w.Cells)*stateT + seconds(w.State.SettleS) + seconds(w.State.ForceS),
		Sample:            w.sampleTime(),
	}
}

// readout is the bus time of one ADC read-out: one frame at the ADC's
// clock.
func (w Wiring) readout() time.Duration {
	l := adcChips[w.ADC.Chip].bus
	return TransferTime(l.FrameBytes, clockHz(l, w.SPIHz))
}

// sampleTime is one conversion and its read-out.
func (w Wiring) sampleTime() time.Duration { return seconds(w.ADC.ConversionS) + w.readout() }
