// Package virtual provides virtual chips for driver/spi: SPI ports and GPIO
// pins that decode the chips' frames exactly as the datasheets define them
// (the frame formats are in the chip packages' docs) and drive an analog
// board — normally a simulator from package sim — so that the SPI driver
// runs end to end without hardware.
//
// A Rig implements spi.Host on simulated time. Every SPI transaction takes
// its bus time (bytes·8/clock), a conversion its conversion time, and
// SleepUntil runs the analog board up to the requested time. A latch (the
// chip select's rising edge, SYNC, FORCE's falling edge) first runs the
// analog board up to the latch time and then applies the new setting, so
// the cells evolve on the old couplings while new ones are shifted in, as
// on hardware. One approximation: a coupling matrix latched in the middle of
// an update (new polarities, old magnitudes) that the analog board refuses
// as unstable is held back until the update completes; the board then
// evolves on the old matrix for that bus time instead.
//
// The chips are strict where real ones would silently misbehave: a frame of
// the wrong length, an unknown command, a wiper write while write-protected,
// a read-out without a finished conversion or an MDAC frame with no (or two)
// SYNC lines low is an error of the transaction, so a driver bug fails its
// test instead of producing a plausible number.
//
// A rig can model one wiring fault from power-up (Rig.Inject, OpenFault,
// the spi+sim: URI's fault= and fault_at= options): the ADC read in the
// wrong SPI mode (adc-mode), a daisy-chain link too slow for the clock
// (chain-slow), two bias outputs crossed (dac-swap), a rheostat that
// ignores writes (stuck-coupling), the polarity register not fitted
// (polarity-missing), an open ADC input (adc-dead-channel). Each is
// modelled on the wire or in the chip, never in what the driver returns;
// faults.go holds the table (Faults lists each with the part fault_at
// selects, its default and range), docs/boards.md §8 what a technician
// sees and what fixes it.
//
// This file is the rig; each virtual chip has its own file (ad5676.go,
// ad5293.go, ad5450.go, hc595.go, ad7606.go), reached through the role
// interfaces and twin tables of twins.go, and checks the bus limits its
// chip package exports (the same values the driver connects with).
package virtual

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"

	"periph.io/x/conn/v3/gpio"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/bus"
	"github.com/spukit/spukit/driver/spi/edgepin"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
)

func init() { hal.Register("spi+sim", openURI) }

// openURI opens "spi+sim:PROFILE?seed=N&wiring=FILE&serial=S&fault=F&fault_at=P":
// the SPI driver on virtual chips over sim's PROFILE (default proto8) with
// the default wiring unless FILE is given, and wiring fault F on part P
// (faults.go; P defaults per fault).
func openURI(ctx context.Context, u *url.URL) (hal.Board, error) {
	q, err := hal.CheckQuery("spi+sim", u, "seed", "wiring", "serial", "fault", "fault_at")
	if err != nil {
		return nil, err
	}
	name := u.Opaque
	if name == "" {
		name = "proto8"
	}
	var seed uint64 = 1
	if s := q.Get("seed"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("spi+sim: seed %q: want a non-negative integer: %w", s, hal.ErrInvalid)
		}
		seed = v
	}
	w := spi.DefaultWiring()
	if f := q.Get("wiring"); f != "" {
		var err error
		if w, err = spi.LoadWiring(f); err != nil {
			return nil, err
		}
	}
	f, err := ParseFault(w, q.Get("fault"), q.Get("fault_at"))
	if err != nil {
		return nil, fmt.Errorf("spi+sim: %w", err)
	}
	p, err := sim.Builtin(name)
	if err != nil {
		return nil, err
	}
	return OpenFault(ctx, w, p, seed, &spi.Opts{Serial: q.Get("serial")}, f)
}

// Open builds a simulator from p (its programming times set to zero: the
// rig accounts the bus instead; its ADC's minimum period set to 1 ns: the
// virtual ADC reads at the CONVST edge) and opens the SPI driver on virtual chips
// over it. Closing the board closes the simulator. Without a serial in
// opts the board takes the simulator's (SIM-PROTO8-3 for seed 3): its
// hidden part tolerances are the simulator's.
func Open(ctx context.Context, w spi.Wiring, p sim.Profile, seed uint64, opts *spi.Opts) (*spi.Board, error) {
	return OpenFault(ctx, w, p, seed, opts, Fault{})
}

// OpenFault is Open on a rig with wiring fault f (faults.go), there from
// power-up; the zero Fault is Open.
func OpenFault(ctx context.Context, w spi.Wiring, p sim.Profile, seed uint64, opts *spi.Opts, f Fault) (*spi.Board, error) {
	p.Timing = sim.TimingProfile{}
	// The AD7606 converts at the CONVST edge: the simulator must be able to
	// read "now", not one of its own sample periods later.
	p.ADC.MinPeriodS = analogPeriod.Seconds()
	a, err := sim.New(p, seed)
	if err != nil {
		return nil, err
	}
	r, err := New(w, a)
	if err == nil {
		err = r.Inject(f)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	var o spi.Opts
	if opts != nil {
		o = *opts
	}
	if o.Serial == "" {
		o.Serial = a.Info().Serial
	}
	o.Simulated = true
	b, err := spi.New(ctx, r, w, &o)
	if err != nil {
		a.Close()
		return nil, err
	}
	return b, nil
}

// Analog is the board the virtual chips drive; it must keep board time.
type Analog interface {
	hal.Board
	hal.Clock
}

// Rig is a set of virtual chips wired as a spi.Wiring to an analog board.
// It implements spi.Host. It is not safe for concurrent use.
type Rig struct {
	w         spi.Wiring
	a         Analog
	in        hal.Info
	k         int
	now       time.Duration
	ctx       context.Context
	ports     map[string]*port
	pins      map[string]*vpin
	openPorts int // the analog board closes with the last port

	// The virtual chips, by role (twins.go).
	bias, state dacDevice
	coupling    couplingDevice
	polarity    polarityDevice
	adc         adcDevice

	// Wiring faults (faults.go): biasWire[ch] is the bias DAC channel whose
	// output reaches the input wired to channel ch (nil: as wired);
	// deadADC is an ADC channel whose input is open, or -1.
	biasWire []int
	deadADC  int

	matrix   []float64 // the couplings the chips realise now
	pending  bool      // matrix not yet accepted by the analog board
	heldBack int       // latched matrices the analog board refused as unstable
	buf      []float64
}

// analogPeriod is the sample period the analog board must accept: the
// virtual ADC reads it this long after the CONVST edge.
const analogPeriod = time.Nanosecond

// New wires virtual chips to a. The wiring must fit the analog board: the
// same number of cells, and ranges no wider than a's (the rig passes
// volts and couplings on unchanged; a quantises them with its own
// converters).
func New(w spi.Wiring, a Analog) (*Rig, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	in := a.Info()
	if in.Cells != w.Cells {
		return nil, fmt.Errorf("virtual rig: wiring has %d cells, analog board %d: %w", w.Cells, in.Cells, hal.ErrDimension)
	}
	if w.Coupling.Max > in.Coupling.Max || -w.Coupling.Max < in.Coupling.Min {
		return nil, fmt.Errorf("virtual rig: wiring couplings ±%g exceed the analog board's [%g, %g]: %w",
			w.Coupling.Max, in.Coupling.Min, in.Coupling.Max, hal.ErrOutOfRange)
	}
	if in.MinSamplePeriod > 100*analogPeriod {
		return nil, fmt.Errorf("virtual rig: the analog board's minimum sample period %v would delay every conversion "+
			"(the AD7606 samples at the CONVST edge); give it one ≤ %v, as Open does: %w",
			in.MinSamplePeriod, 100*analogPeriod, hal.ErrUnsupported)
	}
	now, ok := a.BoardTime()
	if !ok {
		return nil, fmt.Errorf("virtual rig: the analog board %T keeps no board time: %w", a, hal.ErrUnsupported)
	}
	k := w.Cells
	r := &Rig{w: w, a: a, in: in, k: k, now: now, ctx: context.Background(),
		ports: map[string]*port{}, pins: map[string]*vpin{},
		matrix: make([]float64, k*k), buf: make([]float64, k), deadADC: -1}
	r.addPins()
	if err := r.addChips(); err != nil {
		return nil, err
	}
	return r, nil
}

// addPins wires the GPIOs: FORCE, the ADC's handshake and control pins
// (the optional ones when the wiring gives them; each starts low, not yet
// driven) and every SYNC (idle high).
func (r *Rig) addPins() {
	w := r.w
	add := func(name, role string, e int) { r.pins[name] = &vpin{name: name, r: r, role: role, elem: e} }
	add(w.State.ForcePin, "force", -1)
	add(w.ADC.ConvstPin, "convst", -1)
	add(w.ADC.BusyPin, "busy", -1)
	r.pins[w.ADC.BusyPin].edges = &edgepin.Pin{N: w.ADC.BusyPin}
	optional := map[string]string{"range": w.ADC.RangePin, "reset": w.ADC.ResetPin, "stby": w.ADC.StbyPin}
	for i, name := range w.ADC.OSPins {
		optional[fmt.Sprintf("os%d", i)] = name
	}
	for role, name := range optional {
		if name != "" {
			add(name, role, -1)
			r.pins[name].adcIn = true
		}
	}
	r.pins[w.ADC.ConvstPin].adcIn = true
	for e, name := range w.Coupling.SyncPins {
		add(name, "sync", e)
		r.pins[name].l = gpio.High
	}
}

// addChips builds each role's virtual chip from the twin tables and puts
// it behind its port.
func (r *Rig) addChips() error {
	w := r.w
	bias, err := lookup(dacTwins, "bias DAC", w.Bias.Chip)
	if err != nil {
		return err
	}
	state, err := lookup(dacTwins, "state DAC", w.State.Chip)
	if err != nil {
		return err
	}
	coupling, err := lookup(couplingTwins, "coupling", w.Coupling.Chip)
	if err != nil {
		return err
	}
	polarity, err := lookup(polarityTwins, "polarity", w.Polarity.Chip)
	if err != nil {
		return err
	}
	adc, err := lookup(adcTwins, "ADC", w.ADC.Chip)
	if err != nil {
		return err
	}
	r.bias, r.state = bias.build(r, r.latchBias), state.build(r, nil)
	r.coupling, r.polarity = coupling.build(r, r.latchCouplings), polarity.build(r, r.latchCouplings)
	r.adc = adc.build(r, nil)
	add := func(name, role string, dev device, l bus.Limits, noCS bool) {
		r.ports[name] = &port{r: r, name: name, role: role, dev: dev, bus: l, noCS: noCS}
	}
	add(w.Bias.Port, "bias", r.bias, bias.bus, bias.noCS)
	add(w.State.Port, "state", r.state, state.bus, state.noCS)
	add(w.Coupling.Port, "coupling", r.coupling, coupling.bus, coupling.noCS)
	add(w.Polarity.Port, "polarity", r.polarity, polarity.bus, polarity.noCS)
	add(w.ADC.Port, "adc", r.adc, adc.bus, adc.noCS)
	return nil
}

// OpenSPI implements spi.Host.
func (r *Rig) OpenSPI(name string) (pspi.PortCloser, error) {
	p := r.ports[name]
	if p == nil {
		return nil, fmt.Errorf("virtual rig: no chip on SPI port %q: %w", name, hal.ErrInvalid)
	}
	if p.open {
		return nil, fmt.Errorf("virtual rig: SPI port %q is already open: %w", name, hal.ErrInvalid)
	}
	p.open = true
	r.openPorts++
	return p, nil
}

// Pin implements spi.Host.
func (r *Rig) Pin(name string) (gpio.PinIO, error) {
	p := r.pins[name]
	if p == nil {
		return nil, fmt.Errorf("virtual rig: nothing wired to GPIO %q: %w", name, hal.ErrInvalid)
	}
	return p, nil
}

// Now implements spi.Host: simulated time.
func (r *Rig) Now() time.Duration { return r.now }

// SleepUntil implements spi.Host: the analog board runs up to t.
func (r *Rig) SleepUntil(ctx context.Context, t time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	before := r.now
	if t > r.now {
		r.now = t
	}
	r.ctx = ctx
	defer func() { r.ctx = context.Background() }()
	if err := r.advance(); err != nil {
		if ctx.Err() != nil {
			// A cancelled wait ends where the analog board stopped.
			r.now = max(before, r.analogNow())
		}
		return err
	}
	return nil
}

// HeldBack counts coupling matrices latched mid-update that the analog
// board refused as unstable and that were held back (see the package
// doc); a driver that orders its writes well keeps it at zero.
func (r *Rig) HeldBack() int { return r.heldBack }

// advance runs the analog board up to now with the settings latched so
// far; a matrix it still refuses is an error here.
func (r *Rig) advance() error {
	if r.pending {
		if err := r.a.SetCouplings(r.ctx, r.matrix); err != nil {
			return fmt.Errorf("virtual rig: the latched couplings: %w", err)
		}
		r.pending = false
	}
	return r.catchUp()
}

// analogNow is the analog board's time (New checked that it keeps it).
func (r *Rig) analogNow() time.Duration {
	t, _ := r.a.BoardTime()
	return t
}

// catchUp runs the analog board to now (before a latch).
func (r *Rig) catchUp() error {
	if d := r.now - r.analogNow(); d > 0 {
		return r.a.Run(r.ctx, d)
	}
	return nil
}

// latchCouplings recomputes the realised matrix from the coupling
// elements' codes and polarities and hands it to the analog board.
func (r *Rig) latchCouplings() error {
	if err := r.catchUp(); err != nil {
		return err
	}
	w := r.w.Coupling
	step := r.w.CouplingStep()
	clear(r.matrix)
	for e, rc := range w.Elements {
		v := float64(r.coupling.code(e)) * step
		if r.polarity.negative(e) {
			v = -v
		}
		r.matrix[rc[0]*r.k+rc[1]] = v
		if w.Symmetric {
			r.matrix[rc[1]*r.k+rc[0]] = v
		}
	}
	err := r.a.SetCouplings(r.ctx, r.matrix)
	switch {
	case err == nil:
		r.pending = false
	case errors.Is(err, hal.ErrUnstable):
		r.pending = true // mid-update; see the package doc
		r.heldBack++
	default:
		return err
	}
	return nil
}

func (r *Rig) latchBias() error {
	if err := r.catchUp(); err != nil {
		return err
	}
	return r.a.SetBias(r.ctx, r.volts(r.w.Bias, r.bias, r.biasWire))
}

// volts maps each cell's DAC output through the wiring's level shifter;
// wire (nil: as wired) says which channel's output reaches each input.
func (r *Rig) volts(d spi.DACWiring, c dacDevice, wire []int) []float64 {
	for i, ch := range d.Channels {
		if wire != nil {
			ch = wire[ch]
		}
		r.buf[i] = c.volts(ch, d.MinV, d.MaxV)
	}
	return r.buf
}

// forceState copies the state DAC onto the cells (FORCE falling edge).
func (r *Rig) forceState() error {
	if err := r.advance(); err != nil {
		return err
	}
	return r.a.SetState(r.ctx, r.volts(r.w.State.DACWiring, r.state, nil))
}

// convert samples the analog board now (CONVST rising edge) into the
// ADC's codes; BUSY falls after the conversion time.
func (r *Rig) convert() error {
	if err := r.advance(); err != nil {
		return err
	}
	d := r.now - r.analogNow()
	if d < r.in.MinSamplePeriod {
		// The analog board samples at least its own period after its last
		// reading; it runs ahead of the rig by the difference.
		d = r.in.MinSamplePeriod
	}
	_, err := r.a.Sample(r.ctx, d, r.buf)
	if err != nil && !errors.Is(err, hal.ErrSaturated) {
		return err
	}
	if i := slices.Index(r.w.ADC.Channels, r.deadADC); i >= 0 {
		r.buf[i] = 0 // an open input sits at AGND (fault adc-dead-channel)
	}
	r.adc.convert(r.buf, r.w.ADC.Channels)
	r.now += r.adc.conversion(time.Duration(math.Round(r.w.ADC.ConversionS * 1e9)))
	return nil
}
