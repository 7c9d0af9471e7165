package virtual

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"

	"github.com/spukit/spukit/driver/spi/edgepin"
)

// vpin is a virtual GPIO.
type vpin struct {
	name string
	l    gpio.Level
	r    *Rig
	role string // force, sync, busy or an ADC input (convst, range, reset, stby, os0..os2)
	// adcIn routes the pin's levels to the ADC, which says what they mean.
	adcIn bool
	elem  int // the element a SYNC pin selects
	// edges is BUSY's edge detection with periph's semantics on a Pi, so
	// a driver's unbounded wait hangs here as it would on the bench.
	edges *edgepin.Pin
}

var _ gpio.PinIO = (*vpin)(nil)

// Out implements gpio.PinOut: edges on FORCE and SYNC act, and the ADC's
// pins go to the ADC, which says when a conversion starts.
func (p *vpin) Out(l gpio.Level) error {
	if p.role == "busy" {
		return fmt.Errorf("virtual %s: BUSY is an input", p.name)
	}
	prev := p.l
	p.l = l
	r := p.r
	switch {
	case p.role == "force" && prev == gpio.High && l == gpio.Low:
		return r.forceState()
	case p.role == "sync" && prev == gpio.Low && l == gpio.High:
		return r.latchCouplings()
	case p.adcIn:
		if r.adc.drive(p.role, prev, l) {
			return r.convert()
		}
	}
	return nil
}

// In implements gpio.PinIn; only BUSY is an input.
func (p *vpin) In(pull gpio.Pull, edge gpio.Edge) error {
	if p.role != "busy" {
		return fmt.Errorf("virtual %s: %s is an output", p.name, p.role)
	}
	return p.edges.In(pull, edge)
}

// WaitForEdge implements gpio.PinIn: BUSY's falling edge is there as soon
// as a conversion was started (simulated time already moved past it); the
// wait then follows periph's Pi semantics (package edgepin): a timeout of
// zero or less with no edge queued blocks for good.
func (p *vpin) WaitForEdge(timeout time.Duration) bool {
	if p.role != "busy" {
		return false
	}
	if p.r.adc.edge(p.role) {
		p.edges.Pulse(gpio.FallingEdge)
	}
	return p.edges.WaitForEdge(timeout)
}

// Read implements gpio.PinIn.
func (p *vpin) Read() gpio.Level { return p.l }

// String, Name, Number, Function, Halt, Pull, DefaultPull and PWM complete
// gpio.PinIO.
func (p *vpin) String() string                        { return "virtual:" + p.name }
func (p *vpin) Name() string                          { return p.name }
func (p *vpin) Number() int                           { return -1 }
func (p *vpin) Function() string                      { return p.role }
func (p *vpin) Halt() error                           { return nil }
func (p *vpin) Pull() gpio.Pull                       { return gpio.PullNoChange }
func (p *vpin) DefaultPull() gpio.Pull                { return gpio.PullNoChange }
func (p *vpin) PWM(gpio.Duty, physic.Frequency) error { return errors.New("virtual pin: no PWM") }

var _ pin.Pin = (*vpin)(nil)
