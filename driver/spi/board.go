package spi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/driver/spi/ad5450"
	"github.com/spukit/spukit/driver/spi/ad5676"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/driver/spi/hc595"
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

// SPI settings per chip, from the datasheets' timing diagrams: the
// fastest clock each chip accepts and the clock phase/polarity.
var chipSPI = map[string]struct {
	max  physic.Frequency
	mode pspi.Mode
}{
	ChipAD5676: {50 * physic.MegaHertz, pspi.Mode1},    // SDIN latched on SCLK falling edges
	ChipAD5293: {50 * physic.MegaHertz, pspi.Mode1},    // data clocked on falling edges
	ChipAD5450: {50 * physic.MegaHertz, pspi.Mode1},    // default: falling-edge clocking
	ChipHC595:  {20 * physic.MegaHertz, pspi.Mode0},    // SRCLK shifts on rising edges
	ChipAD7606: {23500 * physic.KiloHertz, pspi.Mode3}, // Linux binding: spi-cpha (+ cpol), ≤ 23.5 MHz
}

// ClockHz is the SPI clock a chip runs at under a wiring's spi_hz: the
// lower of the two, as spi.Port.Connect selects it.
func ClockHz(chip string, spiHz float64) float64 {
	return math.Min(spiHz, float64(chipSPI[chip].max)/float64(physic.Hertz))
}

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

	bias     *ad5676.Dev
	state    *ad5676.Dev
	force    gpio.PinOut
	chain    *ad5293.Chain
	mdacs    []*ad5450.Dev
	polarity *hc595.Dev
	adc      *ad7606.Dev

	k        int
	codes    []int   // coupling element codes
	neg      []bool  // coupling element polarities
	biasCode []int   // -1: unknown (forces the first write)
	stCode   []int   // state DAC codes
	conv     []int16 // one conversion
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
		biasCode: make([]int, k), stCode: make([]int, k), conv: make([]int16, ad7606.Channels),
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
	conn := func(chip, port string) (pspi.Conn, error) {
		p, err := host.OpenSPI(port)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", chip, port, err)
		}
		b.ports = append(b.ports, p)
		if err := p.LimitSpeed(physic.Frequency(w.SPIHz * float64(physic.Hertz))); err != nil {
			return nil, fmt.Errorf("%s on %s: limit speed to %g Hz: %w", chip, port, w.SPIHz, err)
		}
		mode := chipSPI[chip].mode
		if chip == ChipAD5450 {
			mode |= pspi.NoCS // SYNC comes from a GPIO per element
		}
		c, err := p.Connect(chipSPI[chip].max, mode, 8)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: connect: %w", chip, port, err)
		}
		return &timedConn{Conn: c, b: b, hz: ClockHz(chip, w.SPIHz)}, nil
	}
	pin := func(what, name string) (gpio.PinIO, error) {
		p, err := host.Pin(name)
		if err != nil {
			return nil, fmt.Errorf("%s pin %s: %w", what, name, err)
		}
		return p, nil
	}
	c, err := conn(ChipAD5676, w.Bias.Port)
	if err != nil {
		return nil, fmt.Errorf("bias DAC: %w", err)
	}
	if b.bias, err = ad5676.New(c, nil); err != nil {
		return nil, err
	}
	if c, err = conn(ChipAD5676, w.State.Port); err != nil {
		return nil, fmt.Errorf("state DAC: %w", err)
	}
	if b.state, err = ad5676.New(c, nil); err != nil {
		return nil, err
	}
	if b.force, err = pin("state FORCE", w.State.ForcePin); err != nil {
		return nil, err
	}
	if err := b.force.Out(gpio.Low); err != nil {
		return nil, fmt.Errorf("state FORCE %s: %w", w.State.ForcePin, err)
	}
	if c, err = conn(w.Coupling.Chip, w.Coupling.Port); err != nil {
		return nil, fmt.Errorf("couplings: %w", err)
	}
	switch w.Coupling.Chip {
	case ChipAD5293:
		if b.chain, err = ad5293.NewChain(c, len(w.Coupling.Elements)); err != nil {
			return nil, err
		}
	case ChipAD5450:
		for e, name := range w.Coupling.SyncPins {
			p, err := pin(fmt.Sprintf("coupling element %d SYNC", e), name)
			if err != nil {
				return nil, err
			}
			d, err := ad5450.New(c, &ad5450.Opts{Bits: w.Coupling.Bits, Sync: p})
			if err != nil {
				return nil, err
			}
			b.mdacs = append(b.mdacs, d)
		}
	}
	if c, err = conn(ChipHC595, w.Polarity.Port); err != nil {
		return nil, fmt.Errorf("polarity: %w", err)
	}
	if b.polarity, err = hc595.New(c, &hc595.Opts{Registers: (len(w.Coupling.Elements) + 7) / 8}); err != nil {
		return nil, err
	}
	if c, err = conn(ChipAD7606, w.ADC.Port); err != nil {
		return nil, fmt.Errorf("ADC: %w", err)
	}
	convst, err := pin("ADC CONVST", w.ADC.ConvstPin)
	if err != nil {
		return nil, err
	}
	busy, err := pin("ADC BUSY", w.ADC.BusyPin)
	if err != nil {
		return nil, err
	}
	ao := &ad7606.Opts{Range10V: w.ADC.RangeV == 10, BusyTimeout: 10*time.Millisecond + seconds(w.ADC.ConversionS)}
	if w.ADC.RangePin != "" {
		if ao.Range, err = pin("ADC RANGE", w.ADC.RangePin); err != nil {
			return nil, err
		}
	}
	if b.adc, err = ad7606.New(c, convst, busy, ao); err != nil {
		return nil, err
	}
	if err := b.reset(ctx); err != nil {
		return nil, fmt.Errorf("spi board: initialise: %w", err)
	}
	return b, nil
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

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
		Bias:         hal.Converter{Range: hal.Range{Min: w.Bias.MinV, Max: w.Bias.MaxV}, Bits: 16},
		ADC:          hal.Converter{Range: hal.Range{Min: -w.ADC.RangeV, Max: w.ADC.RangeV}, Bits: 16},
		Tau:          seconds(w.TauS), Noise: w.NoiseV,
		// A conversion and its read-out, rounded up to whole µs, or the
		// wiring's floor for a slow host.
		MinSamplePeriod: max((conv + time.Microsecond - 1).Truncate(time.Microsecond), seconds(w.ADC.MinPeriodS)),
		Caps:            caps,
	}
}

// timedConn accounts every transaction's bus time.
type timedConn struct {
	pspi.Conn
	b  *Board
	hz float64
}

func (c *timedConn) Tx(w, r []byte) error {
	n := max(len(w), len(r))
	c.b.stats.Transactions++
	c.b.stats.Bytes += n
	if c.b.programming {
		c.b.stats.ProgramBus += TransferTime(n, c.hz)
	}
	return c.Conn.Tx(w, r)
}

// program runs f with its bus time accounted as programming.
func (b *Board) program(f func() error) error {
	b.programming = true
	defer func() { b.programming = false }()
	return f()
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

// reset brings the chips to a known state whatever a previous session
// left: DACs powered up, rheostats awake and unlocked (and the chain's
// length checked by reading the control registers back), then A = I,
// b = 0, x = 0. The chain's SDO stays driven: in a daisy chain each SDO
// feeds the next chip (docs/boards.md: a tri-state buffer keeps the last
// one off a shared MISO).
func (b *Board) reset(ctx context.Context) error {
	if err := b.program(func() error {
		if err := b.bias.PowerUp(); err != nil {
			return fmt.Errorf("bias DAC: %w", err)
		}
		if err := b.state.PowerUp(); err != nil {
			return fmt.Errorf("state DAC: %w", err)
		}
		if b.chain == nil {
			return nil
		}
		if err := b.chain.Wake(); err != nil {
			return err
		}
		if err := b.chain.Unlock(); err != nil {
			return err
		}
		ctl := make([]int, b.chain.Len())
		if err := b.chain.ReadControl(ctl); err != nil {
			return err
		}
		for k, c := range ctl {
			if c != 0x002 {
				return fmt.Errorf("rheostat chain on %s: chip %d reads control %#03x after unlock, want 0x002: "+
					"check the chain length (wiring says %d chips) and the SDO daisy chain back to MISO: %w",
					b.w.Coupling.Port, k, c, b.chain.Len(), hal.ErrDisconnected)
			}
		}
		return nil
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
	if b.closed {
		return fmt.Errorf("%s: %w", op, hal.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// SetCouplings implements hal.Board. Entries are rounded to the nearest
// code. Magnitudes are written in one transaction (one frame per changed
// MDAC). When a sign flips on an element that is not zero, the update goes
// in two passes — those elements to zero, settle, latch the polarities,
// then the final magnitudes — so the network never runs on new signs with
// old magnitudes (an intermediate matrix that may be unstable).
func (b *Board) SetCouplings(ctx context.Context, a []float64) error {
	if err := b.check(ctx, "set couplings"); err != nil {
		return err
	}
	if err := hal.CheckCouplings(b.info, a); err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	step := b.info.CouplingStep
	q := make([]float64, len(a))
	for e, v := range a {
		q[e] = math.Round(v/step) * step
	}
	if err := hal.Stable(q, b.k); err != nil {
		return fmt.Errorf("set couplings: after rounding to step %g: %w", step, err)
	}
	n := len(b.w.Coupling.Elements)
	codes, neg := make([]int, n), make([]bool, n)
	signChange, changed, flipLive := false, false, false
	for e, rc := range b.w.Coupling.Elements {
		v := a[rc[0]*b.k+rc[1]]
		codes[e] = int(math.Round(math.Abs(v) / step))
		neg[e] = v < 0 && codes[e] > 0
		flip := neg[e] != b.neg[e] || b.codes[e] < 0
		signChange = signChange || flip
		flipLive = flipLive || flip && b.codes[e] > 0
		changed = changed || codes[e] != b.codes[e]
	}
	if !signChange && !changed {
		return nil
	}
	settle := seconds(b.w.Coupling.SettleS)
	if flipLive {
		zero := slices.Clone(b.codes)
		for e := range zero {
			if neg[e] != b.neg[e] && zero[e] > 0 {
				zero[e] = 0
			}
		}
		if err := b.program(func() error { return b.writeMagnitudes(zero) }); err != nil {
			return fmt.Errorf("set couplings: zero the elements whose sign flips: %w", err)
		}
		if err := b.wait(ctx, settle); err != nil {
			return fmt.Errorf("set couplings: settle: %w", err)
		}
	}
	err := b.program(func() error {
		if signChange {
			for e, v := range neg {
				if err := b.polarity.Set(e, v); err != nil {
					return err
				}
			}
			if err := b.polarity.Flush(); err != nil {
				return fmt.Errorf("polarity: %w", err)
			}
			copy(b.neg, neg)
		}
		return b.writeMagnitudes(codes)
	})
	if err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	if err := b.wait(ctx, settle); err != nil {
		return fmt.Errorf("set couplings: settle: %w", err)
	}
	return nil
}

// writeMagnitudes writes every element's code: one chain transaction, or
// one frame per MDAC whose code differs. A failed MDAC write leaves its
// code unknown (a partial frame may have latched).
func (b *Board) writeMagnitudes(codes []int) error {
	if b.chain != nil {
		if err := b.chain.Write(codes); err != nil {
			for e := range b.codes {
				b.codes[e] = -1
			}
			return err
		}
		copy(b.codes, codes)
		return nil
	}
	for e, d := range b.mdacs {
		if codes[e] == b.codes[e] {
			continue
		}
		if err := d.Write(codes[e]); err != nil {
			b.codes[e] = -1
			return fmt.Errorf("element %d (A[%d][%d]): %w", e, b.w.Coupling.Elements[e][0], b.w.Coupling.Elements[e][1], err)
		}
		b.codes[e] = codes[e]
	}
	return nil
}

// dacCodes converts volts to 16-bit codes over [lo, hi] (v already checked).
func dacCodes(v []float64, lo, hi float64, dst []int) {
	lsb := (hi - lo) / 65536
	for i, x := range v {
		dst[i] = int(math.Min(math.Max(math.Round((x-lo)/lsb), 0), 65535))
	}
}

// writeDAC writes the changed channels of d (write-and-update each).
func (b *Board) writeDAC(d *ad5676.Dev, channels []int, codes, have []int) (bool, error) {
	changed := false
	err := b.program(func() error {
		for i, c := range codes {
			if c == have[i] {
				continue
			}
			if err := d.Write(channels[i], uint16(c)); err != nil {
				return fmt.Errorf("cell %d (channel %d): %w", i, channels[i], err)
			}
			have[i] = c
			changed = true
		}
		return nil
	})
	return changed, err
}

// SetBias implements hal.Board.
func (b *Board) SetBias(ctx context.Context, v []float64) error {
	if err := b.check(ctx, "set bias"); err != nil {
		return err
	}
	if err := hal.CheckVector("bias", v, b.k, b.info.Bias.Range); err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	codes := make([]int, b.k)
	dacCodes(v, b.w.Bias.MinV, b.w.Bias.MaxV, codes)
	changed, err := b.writeDAC(b.bias, b.w.Bias.Channels, codes, b.biasCode)
	if err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	if changed {
		if err := b.wait(ctx, seconds(b.w.Bias.SettleS)); err != nil {
			return fmt.Errorf("set bias: settle: %w", err)
		}
	}
	return nil
}

// SetState implements hal.Board: the state DAC is set to x, then FORCE
// connects it to the cells for force_s.
func (b *Board) SetState(ctx context.Context, x []float64) error {
	if err := b.check(ctx, "set state"); err != nil {
		return err
	}
	r := b.info.ADC.Range
	if err := hal.CheckVector("state", x, b.k, r); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	// The state DAC may span less than the ADC.
	sr := hal.Range{Min: b.w.State.MinV, Max: b.w.State.MaxV}
	if err := hal.CheckVector("state", x, b.k, sr); err != nil {
		return fmt.Errorf("set state: beyond the state DAC: %w", err)
	}
	codes := make([]int, b.k)
	dacCodes(x, sr.Min, sr.Max, codes)
	if _, err := b.writeDAC(b.state, b.w.State.Channels, codes, b.stCode); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	if err := b.wait(ctx, seconds(b.w.State.SettleS)); err != nil {
		return fmt.Errorf("set state: settle: %w", err)
	}
	if err := b.force.Out(gpio.High); err != nil {
		return fmt.Errorf("set state: FORCE %s: %w", b.w.State.ForcePin, err)
	}
	werr := b.wait(ctx, seconds(b.w.State.ForceS))
	// FORCE is released even when the wait was cancelled.
	if err := b.force.Out(gpio.Low); err != nil {
		return fmt.Errorf("set state: FORCE %s: %w", b.w.State.ForcePin, err)
	}
	if werr != nil {
		return fmt.Errorf("set state: %w", werr)
	}
	return nil
}

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
	if err := b.check(ctx, "sample"); err != nil {
		return 0, err
	}
	period, err := hal.SamplePeriod(b.info, period)
	if err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
	k := b.k
	rows, err := hal.SampleRows(dst, k)
	if err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
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
		if err := b.adc.Convert(b.conv); err != nil {
			return n, fmt.Errorf("sample %d of %d: %w", n, rows, err)
		}
		b.stats.Conversions++
		b.stats.SampleBus += b.w.readout()
		row := dst[n*k : n*k+k]
		for i, ch := range b.w.ADC.Channels {
			c := b.conv[ch]
			row[i] = b.adc.Volts(c)
			if c == math.MaxInt16 || c == math.MinInt16 {
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
		b.force.Out(gpio.Low), b.adc.Halt())
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
	reg := TransferTime((n+7)/8, ClockHz(ChipHC595, w.SPIHz))
	var mag time.Duration
	if w.Coupling.Chip == ChipAD5293 {
		mag = TransferTime(2*n, ClockHz(ChipAD5293, w.SPIHz))
	} else {
		mag = time.Duration(n) * TransferTime(2, ClockHz(ChipAD5450, w.SPIHz))
	}
	dacT := TransferTime(3, ClockHz(ChipAD5676, w.SPIHz))
	settle := seconds(w.Coupling.SettleS)
	return Timing{
		SPIHz:             w.SPIHz,
		Couplings:         mag + settle,
		CouplingsSignFlip: 2*(mag+settle) + reg,
		BiasChannel:       dacT + seconds(w.Bias.SettleS),
		State:             time.Duration(w.Cells)*dacT + seconds(w.State.SettleS) + seconds(w.State.ForceS),
		Sample:            w.sampleTime(),
	}
}

// readout is the bus time of one ADC read-out: 16 bytes at the AD7606's
// clock.
func (w Wiring) readout() time.Duration {
	return TransferTime(2*ad7606.Channels, ClockHz(ChipAD7606, w.SPIHz))
}

// sampleTime is one conversion and its read-out.
func (w Wiring) sampleTime() time.Duration { return seconds(w.ADC.ConversionS) + w.readout() }
