package virtual

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/driver/spi/ad5450"
	"github.com/spukit/spukit/driver/spi/ad5676"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/driver/spi/bus"
	"github.com/spukit/spukit/driver/spi/hc595"
	"github.com/spukit/spukit/hal"
)

// The rig drives its virtual chips through one small interface per role
// on the board, as driver/spi drives the real ones, and never asks which
// chip fills a role: the twin tables below say how to build the virtual
// twin of each chip a wiring may name. Each virtual chip lives in its own
// file (ad5676.go, ad5293.go, ad5450.go, hc595.go, ad7606.go).

// device is a virtual chip (or chain) behind one SPI port's select.
type device interface {
	// tx decodes one transaction as the chip would; rd (nil when the
	// host does not read) receives what the chip shifts out.
	tx(w, rd []byte) error
}

// dacDevice is the role of the bias and state DACs.
type dacDevice interface {
	device
	// volts is channel ch's output through a level shifter spanning
	// [lo, hi): the bottom of the range when the channel is powered down
	// (grounded).
	volts(ch int, lo, hi float64) float64
}

// couplingDevice is the role of the coupling elements.
type couplingDevice interface {
	device
	// code is the magnitude code element e realises now.
	code(e int) int
}

// polarityDevice is the role of the coupling signs.
type polarityDevice interface {
	device
	// negative reports element e's latched polarity.
	negative(e int) bool
}

// adcDevice is the role of the node-voltage ADC. The rig routes the
// ADC's pins to it by their wiring role ("convst", "range", "busy") and
// samples the analog board when the chip says a conversion starts; what
// each pin means is the chip's.
type adcDevice interface {
	device
	// drive follows an input pin of the ADC going from prev to l, and
	// reports whether that edge starts a conversion.
	drive(role string, prev, l gpio.Level) (start bool)
	// convert quantises one simultaneous sample: v[i] is the voltage on
	// channel channels[i].
	convert(v []float64, channels []int)
	// edge reports an edge on an output pin of the ADC, once per edge.
	edge(role string) bool
	// conversion is how long the conversion just started takes, given
	// the wiring's conversion time (the chip's settings may lengthen it).
	conversion(wired time.Duration) time.Duration
}

// twin is a row of a twin table: the chip's bus limits (its package's
// Bus, the same values driver/spi connects with), whether the chip's
// select is a GPIO per device instead of the port's chip select, and how
// to build its virtual twin for a rig. latch is what the chip's latch edge
// does to the analog board (nil where nothing).
type twin[D device] struct {
	bus   bus.Limits
	noCS  bool
	build func(r *Rig, latch func() error) D
}

var dacTwins = map[string]twin[dacDevice]{
	spi.ChipAD5676: {bus: ad5676.Bus, build: func(_ *Rig, latch func() error) dacDevice { return newAD5676(latch) }},
}

var couplingTwins = map[string]twin[couplingDevice]{
	spi.ChipAD5293: {bus: ad5293.Bus, build: func(r *Rig, latch func() error) couplingDevice {
		return newAD5293Chain(len(r.w.Coupling.Elements), latch)
	}},
	spi.ChipAD5450: {bus: ad5450.Bus, noCS: true, build: func(r *Rig, _ func() error) couplingDevice {
		return newAD5450s(r, r.w.Coupling.SyncPins, r.w.Coupling.Bits)
	}},
}

var polarityTwins = map[string]twin[polarityDevice]{
	spi.ChipHC595: {bus: hc595.Bus, build: func(r *Rig, latch func() error) polarityDevice {
		return newHC595((len(r.w.Coupling.Elements)+7)/8, latch)
	}},
}

var adcTwins = map[string]twin[adcDevice]{
	spi.ChipAD7606: {bus: ad7606.Bus, build: func(r *Rig, _ func() error) adcDevice { return newAD7606(r.w.ADC, r.Now) }},
}

// lookup finds chip's row in a twin table.
func lookup[D device](table map[string]twin[D], role, chip string) (twin[D], error) {
	t, ok := table[chip]
	if !ok {
		return t, fmt.Errorf("virtual rig: no virtual %s chip %q: %w", role, chip, hal.ErrUnsupported)
	}
	return t, nil
}
