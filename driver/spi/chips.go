package spi

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/driver/spi/ad5450"
	"github.com/spukit/spukit/driver/spi/ad5676"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/driver/spi/bus"
	"github.com/spukit/spukit/driver/spi/hc595"
)

// Chip names accepted in a wiring.
const (
	ChipAD5676 = "ad5676"
	ChipAD5293 = "ad5293"
	ChipAD5450 = "ad5450"
	ChipHC595  = "hc595"
	ChipAD7606 = "ad7606"
)

// pinFunc returns a named GPIO, its error naming what the pin is for.
type pinFunc func(what, name string) (gpio.PinIO, error)

// The wiring table: every chip a wiring may name, one row per chip in the
// table of its role. A row is the only place that maps a chip name to its
// bus limits (from its package) and its constructor; Validate, New and
// Timing read the rows and never switch on a name.

// dacChip is a row for the bias and state DACs.
type dacChip struct {
	part     string // the part as printed on it, for diagnostics
	bus      bus.Limits
	channels int // outputs per chip
	bits     int
	open     func(c pspi.Conn) (dac, error)
}

// couplingChip is a row for the coupling elements.
type couplingChip struct {
	part string // the part as printed on it, for diagnostics
	bus  bus.Limits
	// noCS: each element has its own SYNC GPIO, and the port's chip
	// select is not used.
	noCS bool
	// check adds the chip's own rules for a coupling wiring.
	check func(c CouplingWiring, bad func(string, ...any))
	open  func(c pspi.Conn, w CouplingWiring, pin pinFunc) (couplingArray, error)
	// updateBus is the bus time of writing n elements at hz.
	updateBus func(n int, hz float64) time.Duration
}

// polarityChip is a row for the polarity registers.
type polarityChip struct {
	part string // the part as printed on it, for diagnostics
	bus  bus.Limits
	// outputs is the number of outputs per register (per frame).
	outputs int
	open    func(c pspi.Conn, registers int) (polarityRegister, error)
}

// adcChip is a row for the node-voltage ADC.
type adcChip struct {
	part     string // the part as printed on it, for diagnostics
	bus      bus.Limits
	channels int
	bits     int
	// check adds the chip's own rules for an ADC wiring.
	check func(a ADCWiring, bad func(string, ...any))
	// open builds the ADC; sleep waits on the host's clock (pulse widths).
	open func(c pspi.Conn, w ADCWiring, pin pinFunc, sleep func(time.Duration) error) (sampler, error)
}

var dacChips = map[string]dacChip{
	ChipAD5676: {part: "AD5676", bus: ad5676.Bus, channels: ad5676.Channels, bits: ad5676.Bits,
		open: func(c pspi.Conn) (dac, error) { return ad5676.New(c, nil) }},
}

var couplingChips = map[string]couplingChip{
	ChipAD5293: {part: "AD5293", bus: ad5293.Bus, check: checkAD5293, open: openAD5293,
		updateBus: func(n int, hz float64) time.Duration { return TransferTime(n*ad5293.Bus.FrameBytes, hz) }},
	ChipAD5450: {part: "AD545x", bus: ad5450.Bus, noCS: true, check: checkAD5450, open: openAD5450,
		updateBus: func(n int, hz float64) time.Duration {
			return time.Duration(n) * TransferTime(ad5450.Bus.FrameBytes, hz)
		}},
}

var polarityChips = map[string]polarityChip{
	ChipHC595: {part: "74HC595", bus: hc595.Bus, outputs: 8, open: func(c pspi.Conn, n int) (polarityRegister, error) {
		return hc595.New(c, &hc595.Opts{Registers: n})
	}},
}

var adcChips = map[string]adcChip{
	ChipAD7606: {part: "AD7606", bus: ad7606.Bus, channels: ad7606.Channels, bits: ad7606.Bits, check: checkAD7606, open: openAD7606},
}

func checkAD5293(c CouplingWiring, bad func(string, ...any)) {
	if c.Bits != 10 {
		bad("coupling.bits = %d, want 10 for ad5293", c.Bits)
	}
	if len(c.SyncPins) != 0 {
		bad("coupling.sync_pins given for a daisy-chained ad5293 (it uses the port's chip select)")
	}
}

func openAD5293(c pspi.Conn, w CouplingWiring, _ pinFunc) (couplingArray, error) {
	ch, err := ad5293.NewChain(c, len(w.Elements))
	if err != nil {
		return nil, err
	}
	clk, _ := c.(chainClock) // the board's timedConn
	return &rheostatChain{ch: ch, port: w.Port, elements: w.Elements, clk: clk}, nil
}

func checkAD5450(c CouplingWiring, bad func(string, ...any)) {
	if c.Bits != 8 && c.Bits != 10 && c.Bits != 12 && c.Bits != 14 {
		bad("coupling.bits = %d, want 8, 10, 12 or 14 for ad5450", c.Bits)
	}
	if len(c.SyncPins) != len(c.Elements) {
		bad("coupling.sync_pins has %d entries, want one per element (%d)", len(c.SyncPins), len(c.Elements))
	}
}

func openAD5450(c pspi.Conn, w CouplingWiring, pin pinFunc) (couplingArray, error) {
	m := &mdacArray{elements: w.Elements}
	for e, name := range w.SyncPins {
		p, err := pin(fmt.Sprintf("coupling element %d SYNC", e), name)
		if err != nil {
			return nil, err
		}
		d, err := ad5450.New(c, &ad5450.Opts{Bits: w.Bits, Sync: p})
		if err != nil {
			return nil, err
		}
		m.devs = append(m.devs, d)
	}
	return m, nil
}

func checkAD7606(a ADCWiring, bad func(string, ...any)) {
	if a.RangeV != 5 && a.RangeV != 10 {
		bad("adc.range_v = %g, want 5 or 10", a.RangeV)
	}
	if a.Oversampling <= 1 {
		if a.Oversampling < 0 {
			bad("adc.oversampling = %d, want 0 or 1 (none), 2, 4, 8, 16, 32 or 64", a.Oversampling)
		}
		return
	}
	code, ok := ad7606.OSCode(a.Oversampling)
	switch {
	case !ok:
		bad("adc.oversampling = %d, want 0 or 1 (none), 2, 4, 8, 16, 32 or 64", a.Oversampling)
	case len(a.OSPins) != 3:
		bad("adc.oversampling = %d needs adc.os_pins (OS0, OS1, OS2) to set it", a.Oversampling)
	default:
		if t, _ := ad7606.ConversionTime(code); seconds(a.ConversionS) < t {
			bad("adc.conversion_s = %g, want ≥ %g: the longest conversion with oversampling by %d (AD7606 t_CONV max)",
				a.ConversionS, t.Seconds(), a.Oversampling)
		}
	}
}

func openAD7606(c pspi.Conn, w ADCWiring, pin pinFunc, sleep func(time.Duration) error) (sampler, error) {
	convst, err := pin("ADC CONVST", w.ConvstPin)
	if err != nil {
		return nil, err
	}
	busy, err := pin("ADC BUSY", w.BusyPin)
	if err != nil {
		return nil, err
	}
	o := &ad7606.Opts{Range10V: w.RangeV == 10, BusyTimeout: busyTimeout(w), Sleep: sleep,
		Oversampling: w.Oversampling}
	// Optional pins: an empty name is a strap on the board.
	type optional struct {
		what, name string
		dst        *gpio.PinOut
	}
	opt := []optional{{"ADC RANGE", w.RangePin, &o.Range}, {"ADC RESET", w.ResetPin, &o.Reset}, {"ADC STBY", w.StbyPin, &o.Stby}}
	for i, name := range w.OSPins {
		opt = append(opt, optional{fmt.Sprintf("ADC OS%d", i), name, &o.OS[i]})
	}
	for _, p := range opt {
		if p.name == "" {
			continue
		}
		if *p.dst, err = pin(p.what, p.name); err != nil {
			return nil, err
		}
	}
	d, err := ad7606.New(c, convst, busy, o)
	if err != nil {
		return nil, err
	}
	return &ad7606Sampler{d: d}, nil
}

// chipNames lists a role table's chips for a message: "a", "a" or "b",
// "a", "b" or "c".
func chipNames[R any](table map[string]R) string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, strconv.Quote(n))
	}
	slices.Sort(names)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// chipBus returns the bus limits of any chip in the wiring table (zero for
// a name it does not hold).
func chipBus(chip string) bus.Limits {
	if c, ok := dacChips[chip]; ok {
		return c.bus
	}
	if c, ok := couplingChips[chip]; ok {
		return c.bus
	}
	if c, ok := polarityChips[chip]; ok {
		return c.bus
	}
	return adcChips[chip].bus
}

// ClockHz is the SPI clock a chip runs at under a wiring's spi_hz: the
// lower of the two, as spi.Port.Connect selects it.
func ClockHz(chip string, spiHz float64) float64 { return clockHz(chipBus(chip), spiHz) }

func clockHz(l bus.Limits, spiHz float64) float64 {
	return math.Min(spiHz, float64(l.Hz())/float64(physic.Hertz))
}
