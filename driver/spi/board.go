package spi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/bus"
	"github.com/spukit/spukit/hal"
)

// Host is what a board needs from the machine it runs on: SPI ports and
// GPIO pins by name, and a clock. PeriphHost serves real hardware through
// periph's registries and the wall clock; package virtual serves virtual
// chips backed by a simulator, on simulated time.
type Host interface {
	// OpenSPI opens an SPI port such as "/dev/spidev0.0".
	OpenSPI(name string) (pspi.PortCloser, error)
	// Pin returns a GPIO pin such as "GPIO17".
	Pin(name string) (gpio.PinIO, error)
	// Now is the time since the host was set up.
	Now() time.Duration
	// SleepUntil waits until Now() ≥ t, or ctx is done (its error, wrapped).
	SleepUntil(ctx context.Context, t time.Duration) error
}

// Opts configures a board. The zero value is fine.
type Opts struct {
	// Serial overrides the wiring's serial number.
	Serial string
	// Simulated marks a board on virtual chips (hal.CapSimulated).
	Simulated bool
}

// Board is an SPU whose converters sit on the host's SPI bus, described by
// a Wiring. It implements hal.Board and hal.Clock.
type Board struct {
	host  Host
	w     Wiring
	info  hal.Info
	t0    time.Duration
	ports []pspi.PortCloser

	// The chips, by role (roles.go); the wiring table (chips.go) built
	// them from the wiring's chip names.
	bias, state dac
	force       gpio.PinOut
	couplings   couplingArray
	polarity    polarityRegister
	adc         sampler

	k        int
	codes    []int  // coupling element codes
	neg      []bool // coupling element polarities
	biasCode []int  // -1: unknown (forces the first write)
	stCode   []int  // state DAC codes
	stats    Stats
	closed   bool
	// programming: the transactions under way are accounted as
	// programming (ProgramBus) rather than sampling.
	programming bool
}

var (
	_ hal.Board = (*Board)(nil)
	_ hal.Clock = (*Board)(nil)
)

// New opens the board wired as w on host: it opens every port and pin,
// unlocks the rheostats and programs a safe state (A = I, b = 0, x = 0).
func New(ctx context.Context, host Host, w Wiring, opts *Opts) (_ *Board, err error) {
	if host == nil {
		return nil, fmt.Errorf("spi board: nil host: %w", hal.ErrInvalid)
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	var o Opts
	if opts != nil {
		o = *opts
	}
	k := w.Cells
	b := &Board{host: host, w: w, k: k, t0: host.Now(),
		codes: make([]int, len(w.Coupling.Elements)), neg: make([]bool, len(w.Coupling.Elements)),
		biasCode: make([]int, k), stCode: make([]int, k),
	}
	for i := range k {
		b.biasCode[i], b.stCode[i] = -1, -1
	}
	defer func() {
		if err != nil {
			b.closePorts()
		}
	}()
	b.info = b.describe(o.Serial, o.Simulated)
	if err := b.info.Validate(); err != nil {
		return nil, err
	}
	if err := b.openDACs(); err != nil {
		return nil, contract(err)
	}
	if err := b.openCouplings(); err != nil {
		return nil, contract(err)
	}
	if err := b.openADC(); err != nil {
		return nil, contract(err)
	}
	if err := b.reset(ctx); err != nil {
		return nil, fmt.Errorf("spi board: initialise: %w", err)
	}
	return b, nil
}

// conn opens port for chip at the wiring's clock hz for that port (capped
// by the chip's limits l) in mode, and accounts its transactions. A
// transaction that reads (r not nil) runs at the lower of that clock and
// the chip's ReadHz (timedConn).
func (b *Board) conn(chip string, l bus.Limits, mode pspi.Mode, hz float64, port string) (pspi.Conn, error) {
	p, err := b.host.OpenSPI(port)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", chip, port, err)
	}
	b.ports = append(b.ports, p)
	if err := p.LimitSpeed(physic.Frequency(hz * float64(physic.Hertz))); err != nil {
		return nil, fmt.Errorf("%s on %s: limit speed to %g Hz: %w", chip, port, hz, err)
	}
	c, err := p.Connect(l.Hz(), mode, 8)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: connect: %w", chip, port, err)
	}
	tc := &timedConn{Conn: c, b: b, hz: clockHz(l, hz), readHz: clockHz(l, hz), port: p, limitHz: hz}
	if l.ReadHz > 0 {
		tc.readHz = math.Min(tc.hz, float64(l.ReadHz)/float64(physic.Hertz))
	}
	return tc, nil
}

// pin returns a GPIO, its error naming what the pin is for.
func (b *Board) pin(what, name string) (gpio.PinIO, error) {
	p, err := b.host.Pin(name)
	if err != nil {
		return nil, fmt.Errorf("%s pin %s: %w", what, name, err)
	}
	return p, nil
}

// openDACs opens the bias DAC, the state DAC and its FORCE pin (low).
func (b *Board) openDACs() error {
	w := b.w
	var err error
	if b.bias, err = b.openDAC(w.Bias); err != nil {
		return fmt.Errorf("bias DAC: %w", err)
	}
	if b.state, err = b.openDAC(w.State.DACWiring); err != nil {
		return fmt.Errorf("state DAC: %w", err)
	}
	if b.force, err = b.pin("state FORCE", w.State.ForcePin); err != nil {
		return err
	}
	if err := b.force.Out(gpio.Low); err != nil {
		return fmt.Errorf("state FORCE %s: %w", w.State.ForcePin, err)
	}
	return nil
}

func (b *Board) openDAC(d DACWiring) (dac, error) {
	row := dacChips[d.Chip]
	c, err := b.conn(d.Chip, row.bus, row.bus.Mode, b.w.SPIHz, d.Port)
	if err != nil {
		return nil, err
	}
	return row.open(c)
}

// openCouplings opens the coupling elements and the polarity registers.
func (b *Board) openCouplings() error {
	cw, pw := b.w.Coupling, b.w.Polarity
	row := couplingChips[cw.Chip]
	mode := row.bus.Mode
	if row.noCS {
		// Each element's select is a GPIO, not the port's chip select.
		mode |= pspi.NoCS
	}
	c, err := b.conn(cw.Chip, row.bus, mode, b.w.couplingHz(), cw.Port)
	if err != nil {
		return fmt.Errorf("couplings: %w", err)
	}
	if b.couplings, err = row.open(c, cw, b.pin); err != nil {
		return err
	}
	prow := polarityChips[pw.Chip]
	if c, err = b.conn(pw.Chip, prow.bus, prow.bus.Mode, b.w.SPIHz, pw.Port); err != nil {
		return fmt.Errorf("polarity: %w", err)
	}
	b.polarity, err = prow.open(c, (len(cw.Elements)+prow.outputs-1)/prow.outputs)
	return err
}

// openADC opens the node-voltage ADC and its pins.
func (b *Board) openADC() error {
	aw := b.w.ADC
	row := adcChips[aw.Chip]
	c, err := b.conn(aw.Chip, row.bus, b.w.adcMode(), b.w.SPIHz, aw.Port)
	if err != nil {
		return fmt.Errorf("ADC: %w", err)
	}
	b.adc, err = row.open(c, aw, b.pin, func(d time.Duration) error {
		return b.host.SleepUntil(context.Background(), b.host.Now()+d)
	})
	return err
}

// describe derives the board's Info from its wiring.
func (b *Board) describe(serial string, simulated bool) hal.Info {
	w := b.w
	if serial == "" {
		serial = w.Serial
	}
	conv := w.sampleTime()
	topo := hal.General
	if w.Coupling.Symmetric {
		topo = hal.Symmetric
	}
	var caps hal.Capability
	if w.NoiseV > 0 {
		caps |= hal.CapNoise
	}
	if simulated {
		caps |= hal.CapSimulated
	}
	return hal.Info{
		Model: "spi/" + w.Model, Serial: serial, Firmware: "spukit-spi/1 wiring " + w.Model,
		Cells: w.Cells, Topology: topo,
		Coupling:     hal.Range{Min: -w.Coupling.Max, Max: w.Coupling.Max},
		CouplingStep: w.CouplingStep(),
		Bias:         hal.Converter{Range: hal.Range{Min: w.Bias.MinV, Max: w.Bias.MaxV}, Bits: dacChips[w.Bias.Chip].bits},
		ADC:          hal.Converter{Range: hal.Range{Min: -w.ADC.RangeV, Max: w.ADC.RangeV}, Bits: adcChips[w.ADC.Chip].bits},
		Tau:          seconds(w.TauS), Noise: w.NoiseV,
		// A conversion and its read-out, rounded up to whole µs, or the
		// wiring's floor for a slow host.
		MinSamplePeriod: max((conv + time.Microsecond - 1).Truncate(time.Microsecond), seconds(w.ADC.MinPeriodS)),
		Caps:            caps,
	}
}

// reset brings the chips to a known state whatever a previous session
// left: DACs powered up, coupling elements prepared (rheostats awake and
// unlocked, the chain's length checked by reading the control registers
// back), then A = I,
// b = 0, x = 0. The chain's SDO stays driven: in a daisy chain each SDO
// feeds the next chip (docs/boards.md: a tri-state buffer keeps the last
// one off a shared MISO).
func (b *Board) reset(ctx context.Context) error {
	if err := b.program(func() error {
		if err := powerUp(b.bias, b.w.Bias); err != nil {
			return fmt.Errorf("bias DAC: %w", err)
		}
		if err := powerUp(b.state, b.w.State.DACWiring); err != nil {
			return fmt.Errorf("state DAC: %w", err)
		}
		return b.couplings.Prepare()
	}); err != nil {
		return err
	}
	// Unknown codes force every element to be written once.
	for e := range b.codes {
		b.codes[e] = -1
	}
	id := make([]float64, b.k*b.k)
	for i := range b.k {
		id[i*b.k+i] = 1
	}
	if err := b.SetCouplings(ctx, id); err != nil {
		return err
	}
	if err := b.SetBias(ctx, make([]float64, b.k)); err != nil {
		return err
	}
	return b.SetState(ctx, make([]float64, b.k))
}

// powerUp returns a DAC's channels to normal operation and sets its
// internal reference when the wiring says how.
func powerUp(d dac, w DACWiring) error {
	if err := d.PowerUp(); err != nil {
		return err
	}
	if w.Reference == "" {
		return nil
	}
	return d.InternalReference(w.Reference == ReferenceInternal)
}

// String names the board and its bus account.
func (b *Board) String() string {
	return fmt.Sprintf("spi board %s (serial %s, %d cells, %s couplings on %s)", b.w.Model, b.info.Serial, b.k,
		b.w.Coupling.Chip, b.w.Coupling.Port)
}

// Info implements hal.Board.
func (b *Board) Info() hal.Info { return b.info }

// Wiring returns the board's wiring.
func (b *Board) Wiring() Wiring { return b.w }

// Stats returns the bus account since the board was opened.
func (b *Board) Stats() Stats { return b.stats }

// BoardTime implements hal.Clock: the host's time since the board was
// opened (on hardware, wall time including host overheads); always kept.
func (b *Board) BoardTime() (time.Duration, bool) { return b.host.Now() - b.t0, true }

func (b *Board) check(ctx context.Context, op string) error {
	return hal.CheckUsable(ctx, op, b.closed)
}

// halt leaves the board in a safe, stable state: A = I, b = 0, FORCE and
// CONVST low. Shutting the rheostats down or powering the DACs down would
// not be safe: with every element open (A = 0) the cells integrate, and a
// grounded DAC is the bottom of the level-shifted range, not 0 V.
func (b *Board) halt() error {
	ctx := context.Background()
	id := make([]float64, b.k*b.k)
	for i := range b.k {
		id[i*b.k+i] = 1
	}
	return errors.Join(b.SetCouplings(ctx, id), b.SetBias(ctx, make([]float64, b.k)),
		b.force.Out(gpio.Low), contract(b.adc.Halt()))
}

// Close leaves the board safe (A = I, b = 0, no conversion running) and
// releases the ports. It is idempotent.
func (b *Board) Close() error {
	if b.closed {
		return nil
	}
	err := b.halt()
	b.closed = true
	return errors.Join(err, b.closePorts())
}

func (b *Board) closePorts() error {
	var errs []error
	for _, p := range b.ports {
		errs = append(errs, p.Close())
	}
	b.ports = nil
	return errors.Join(errs...)
}
