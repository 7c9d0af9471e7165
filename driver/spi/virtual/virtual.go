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

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
)

func init() { hal.Register("spi+sim", openURI) }

// openURI opens "spi+sim:PROFILE?seed=N&wiring=FILE&serial=S": the SPI
// driver on virtual chips over sim's PROFILE (default proto8) with the
// default wiring unless FILE is given.
func openURI(ctx context.Context, u *url.URL) (hal.Board, error) {
	q, err := hal.CheckQuery("spi+sim", u, "seed", "wiring", "serial")
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
	p, err := sim.Builtin(name)
	if err != nil {
		return nil, err
	}
	return Open(ctx, w, p, seed, &spi.Opts{Serial: q.Get("serial")})
}

// Open builds a simulator from p (its programming times set to zero: the
// rig accounts the bus instead; its ADC's minimum period set to 1 ns: the
// virtual ADC reads at the CONVST edge) and opens the SPI driver on virtual chips
// over it. Closing the board closes the simulator. Without a serial in
// opts the board takes the simulator's (SIM-PROTO8-3 for seed 3): its
// hidden part tolerances are the simulator's.
func Open(ctx context.Context, w spi.Wiring, p sim.Profile, seed uint64, opts *spi.Opts) (*spi.Board, error) {
	p.Timing = sim.TimingProfile{}
	// The AD7606 converts at the CONVST edge: the simulator must be able to
	// read "now", not one of its own sample periods later.
	p.ADC.MinPeriodS = analogPeriod.Seconds()
	a, err := sim.New(p, seed)
	if err != nil {
		return nil, err
	}
	r, err := New(w, a)
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

	bias, state dac
	rdac        []rheostat
	mdac        []int
	mdacBits    int
	polarity    []byte
	matrix      []float64 // the couplings the chips realise now
	pending     bool      // matrix not yet accepted by the analog board
	heldBack    int       // latched matrices the analog board refused as unstable
	force       bool
	conv        [8]int16
	ready       bool // a conversion finished and was not read out yet
	busyEdge    bool
	rangeHigh   bool
	buf         []float64
}

// dac is a virtual AD5676: input and DAC registers per channel.
type dac struct {
	input, out [8]uint16
	down       [8]bool // powered down: the output is grounded
	readback   int     // channel whose register the next frame shifts out, or -1
}

// rheostat is one virtual AD5293.
type rheostat struct {
	wiper    int
	unlocked bool
	shutdown bool
	hiZ      bool   // SDO in high impedance (0x8001 then a NOP)
	floatReq bool   // 0x8001 received; the next NOP floats SDO
	sr       uint16 // shift register: clocked out by the next transaction
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
		rdac: make([]rheostat, len(w.Coupling.Elements)), mdac: make([]int, len(w.Coupling.Elements)),
		mdacBits: w.Coupling.Bits, polarity: make([]byte, (len(w.Coupling.Elements)+7)/8),
		matrix: make([]float64, k*k), buf: make([]float64, k)}
	r.bias.readback, r.state.readback = -1, -1
	for e := range r.rdac {
		r.rdac[e].wiper = 512 // power-on midscale, write-protected
	}
	r.rangeHigh = w.ADC.RangeV == 10
	for _, pc := range []struct{ name, chip string }{
		{w.Bias.Port, "bias"}, {w.State.Port, "state"}, {w.Coupling.Port, "coupling"},
		{w.Polarity.Port, "polarity"}, {w.ADC.Port, "adc"},
	} {
		r.ports[pc.name] = &port{r: r, name: pc.name, role: pc.chip}
	}
	add := func(name, role string, e int) { r.pins[name] = &vpin{name: name, r: r, role: role, elem: e} }
	add(w.State.ForcePin, "force", -1)
	add(w.ADC.ConvstPin, "convst", -1)
	add(w.ADC.BusyPin, "busy", -1)
	if w.ADC.RangePin != "" {
		add(w.ADC.RangePin, "range", -1)
	}
	for e, name := range w.Coupling.SyncPins {
		add(name, "sync", e)
		r.pins[name].l = gpio.High
	}
	return r, nil
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

// latchCouplings recomputes the realised matrix from wipers (or MDAC
// codes) and polarities and hands it to the analog board.
func (r *Rig) latchCouplings() error {
	if err := r.catchUp(); err != nil {
		return err
	}
	w := r.w.Coupling
	step := r.w.CouplingStep()
	clear(r.matrix)
	for e, rc := range w.Elements {
		code := r.mdac[e]
		if w.Chip == spi.ChipAD5293 {
			code = r.rdac[e].wiper
			if r.rdac[e].shutdown {
				code = 0
			}
		}
		v := float64(code) * step
		if r.polarity[e/8]&(1<<(e%8)) != 0 {
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
	return r.a.SetBias(r.ctx, r.volts(r.w.Bias, &r.bias))
}

// volts maps each cell's DAC output through the wiring's level shifter; a
// powered-down (grounded) channel is the bottom of the range.
func (r *Rig) volts(d spi.DACWiring, c *dac) []float64 {
	lsb := (d.MaxV - d.MinV) / 65536
	for i, ch := range d.Channels {
		r.buf[i] = d.MinV
		if !c.down[ch] {
			r.buf[i] += float64(c.out[ch]) * lsb
		}
	}
	return r.buf
}

// forceState copies the state DAC onto the cells (FORCE falling edge).
func (r *Rig) forceState() error {
	if err := r.advance(); err != nil {
		return err
	}
	return r.a.SetState(r.ctx, r.volts(r.w.State.DACWiring, &r.state))
}

// convert samples the analog board now (CONVST rising edge) into AD7606
// codes; BUSY falls after the conversion time.
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
	full := 5.0
	if r.rangeHigh {
		full = 10
	}
	clear(r.conv[:])
	for i, ch := range r.w.ADC.Channels {
		c := math.Round(r.buf[i] * 32768 / full)
		r.conv[ch] = int16(math.Min(math.Max(c, math.MinInt16), math.MaxInt16))
	}
	r.now += time.Duration(math.Round(r.w.ADC.ConversionS * 1e9))
	r.ready, r.busyEdge = true, true
	return nil
}

// port is a virtual SPI port with one chip (or chain) behind its chip select.
type port struct {
	r    *Rig
	name string
	role string
	open bool
	hz   float64
	max  physic.Frequency
}

// String implements pspi.Port.
func (p *port) String() string { return "virtual:" + p.name }

// Close implements io.Closer.
func (p *port) Close() error {
	if p.open {
		p.open = false
		p.r.openPorts--
		if p.r.openPorts == 0 {
			return p.r.a.Close()
		}
	}
	return nil
}

// LimitSpeed implements pspi.PortCloser.
func (p *port) LimitSpeed(f physic.Frequency) error {
	if f <= 0 {
		return fmt.Errorf("virtual %s: speed %v: %w", p.name, f, hal.ErrInvalid)
	}
	p.max = f
	return nil
}

// busSpec is what a chip accepts on its SPI port, from its datasheet:
// clock phase/polarity (mode & 3), whether its select is a GPIO instead of
// the port's CS, and its fastest clock. The driver keeps its own table;
// this one is the chips' side of the contract.
type busSpec struct {
	modes []pspi.Mode
	noCS  bool
	max   physic.Frequency
}

func (r *Rig) spec(role string) busSpec {
	switch role {
	case "bias", "state": // AD5676: SDIN sampled on falling SCLK edges
		return busSpec{modes: []pspi.Mode{pspi.Mode1, pspi.Mode2}, max: 50 * physic.MegaHertz}
	case "coupling":
		if r.w.Coupling.Chip == spi.ChipAD5450 { // SYNC from GPIOs, falling-edge clocking
			return busSpec{modes: []pspi.Mode{pspi.Mode1, pspi.Mode2}, noCS: true, max: 50 * physic.MegaHertz}
		}
		return busSpec{modes: []pspi.Mode{pspi.Mode1}, max: 50 * physic.MegaHertz} // AD5293
	case "polarity": // 74HC595: shifts on rising SRCLK edges
		return busSpec{modes: []pspi.Mode{pspi.Mode0, pspi.Mode3}, max: 20 * physic.MegaHertz}
	default: // AD7606
		return busSpec{modes: []pspi.Mode{pspi.Mode2, pspi.Mode3}, max: 23500 * physic.KiloHertz}
	}
}

// Connect implements pspi.Port. A mode, select or speed the chip does not
// accept is an error here, where a real chip would garble the data. The
// clock is the lower of the port's limit and the device's maximum, as
// periph specifies.
func (p *port) Connect(f physic.Frequency, mode pspi.Mode, bits int) (pspi.Conn, error) {
	if bits != 8 {
		return nil, fmt.Errorf("virtual %s: %d bits per word, want 8: %w", p.name, bits, hal.ErrInvalid)
	}
	sp := p.r.spec(p.role)
	if !slices.Contains(sp.modes, mode&3) {
		return nil, fmt.Errorf("virtual %s (%s): SPI mode %d, the chip needs one of %v: %w", p.name, p.role, mode&3, sp.modes, hal.ErrInvalid)
	}
	if (mode&pspi.NoCS != 0) != sp.noCS {
		return nil, fmt.Errorf("virtual %s (%s): NoCS = %t, want %t: %w", p.name, p.role, mode&pspi.NoCS != 0, sp.noCS, hal.ErrInvalid)
	}
	if mode&(pspi.LSBFirst|pspi.HalfDuplex) != 0 {
		return nil, fmt.Errorf("virtual %s (%s): mode %#x: LSB-first and half duplex are not supported: %w", p.name, p.role, mode, hal.ErrInvalid)
	}
	if f <= 0 || f > sp.max {
		return nil, fmt.Errorf("virtual %s (%s): device speed %v, the chip accepts up to %v: %w", p.name, p.role, f, sp.max, hal.ErrInvalid)
	}
	hz := f
	if p.max > 0 && p.max < hz {
		hz = p.max
	}
	p.hz = float64(hz) / float64(physic.Hertz)
	return &vconn{p: p}, nil
}

// vconn is a connection on a port.
type vconn struct{ p *port }

func (c *vconn) String() string      { return c.p.String() }
func (c *vconn) Duplex() conn.Duplex { return conn.Full }
func (c *vconn) TxPackets(p []pspi.Packet) error {
	for _, pk := range p {
		if err := c.Tx(pk.W, pk.R); err != nil {
			return err
		}
	}
	return nil
}

// Tx implements conn.Conn: the chip decodes w and answers in r; the bus
// time passes first.
func (c *vconn) Tx(w, rd []byte) error {
	p := c.p
	r := p.r
	if !p.open {
		return fmt.Errorf("virtual %s: port closed: %w", p.name, hal.ErrClosed)
	}
	if rd != nil && len(rd) != len(w) {
		return fmt.Errorf("virtual %s: write %d bytes, read %d: full duplex needs equal lengths: %w", p.name, len(w), len(rd), hal.ErrInvalid)
	}
	r.now += spi.TransferTime(len(w), p.hz)
	var err error
	switch p.role {
	case "bias":
		err = r.dacFrame(&r.bias, w, rd, r.latchBias)
	case "state":
		err = r.dacFrame(&r.state, w, rd, func() error { return nil })
	case "polarity":
		err = r.shiftFrame(w)
	case "coupling":
		if r.w.Coupling.Chip == spi.ChipAD5293 {
			err = r.rheostatFrame(w, rd)
		} else {
			err = r.mdacFrame(w)
		}
	case "adc":
		err = r.adcFrame(w, rd)
	}
	if err != nil {
		return fmt.Errorf("virtual %s (%s): %w", p.name, p.role, err)
	}
	return nil
}

// dacFrame decodes one AD5676 frame: command 23:20, address 19:16, data.
func (r *Rig) dacFrame(d *dac, w, rd []byte, latch func() error) error {
	if len(w) != 3 {
		return fmt.Errorf("AD5676 frame of %d bytes, want 3", len(w))
	}
	cmd, addr, data := w[0]>>4, int(w[0]&0x0f), uint16(w[1])<<8|uint16(w[2])
	if rd != nil {
		clear(rd)
		if d.readback >= 0 {
			rd[1], rd[2] = byte(d.out[d.readback]>>8), byte(d.out[d.readback])
		}
	}
	d.readback = -1
	if cmd != 0x0 && cmd != 0x4 && cmd != 0x6 && addr >= 8 {
		return fmt.Errorf("AD5676 address %d, want 0..7", addr)
	}
	switch cmd {
	case 0x0: // NOP
		return nil
	case 0x1:
		d.input[addr] = data
		return nil
	case 0x2:
		d.out[addr] = d.input[addr]
	case 0x3:
		d.input[addr], d.out[addr] = data, data
	case 0x4: // two power-down bits per channel, channel 0 in bits 1:0; 00 = normal
		for ch := range d.down {
			d.down[ch] = data>>(2*ch)&3 != 0
		}
	case 0x6:
		if data != 0x1234 {
			return fmt.Errorf("AD5676 software reset with key %#04x, want 0x1234", data)
		}
		*d = dac{readback: -1}
	case 0x9:
		d.readback = addr
		return nil
	default:
		return fmt.Errorf("AD5676 command %#x not supported", cmd)
	}
	return latch()
}

// shiftFrame latches the 74HC595 chain: byte n−1−i lands in register i.
func (r *Rig) shiftFrame(w []byte) error {
	n := len(r.polarity)
	if len(w) != n {
		return fmt.Errorf("74HC595 chain of %d registers got %d bytes", n, len(w))
	}
	for i := range n {
		r.polarity[i] = w[n-1-i]
	}
	return r.latchCouplings()
}

// rheostatFrame runs one transaction on the AD5293 daisy chain: chip k's
// frame is frame n−1−k; each chip shifts out its previous shift register.
func (r *Rig) rheostatFrame(w, rd []byte) error {
	n := len(r.rdac)
	if len(w) != 2*n {
		return fmt.Errorf("AD5293 chain of %d chips got %d bytes, want %d", n, len(w), 2*n)
	}
	for k := range n - 1 {
		if r.rdac[k].hiZ {
			return fmt.Errorf("AD5293 chip %d's SDO is in high impedance (0x8001): chip %d behind it in the daisy chain receives pull-up ones", k, k+1)
		}
	}
	latch := false
	for k := range n {
		j := 2 * (n - 1 - k)
		f := uint16(w[j])<<8 | uint16(w[j+1])
		ch := &r.rdac[k]
		if rd != nil {
			out := ch.sr
			if r.rdac[n-1].hiZ {
				out = 0xffff // MISO floats to the pull-up
			}
			rd[j], rd[j+1] = byte(out>>8), byte(out)
		}
		ch.sr = f
		if f == 0x8001 {
			ch.floatReq = true
			continue
		}
		if f>>14 != 0 {
			return fmt.Errorf("AD5293 chip %d: frame %#04x has its two top bits set", k, f)
		}
		cmd, data := f>>10&0xf, int(f&0x3ff)
		if ch.floatReq {
			ch.floatReq = false
			if cmd == 0x0 {
				ch.hiZ = true
				continue
			}
		}
		switch cmd {
		case 0x0:
		case 0x1:
			if !ch.unlocked {
				return fmt.Errorf("AD5293 chip %d: wiper write %d while write-protected (the chip would ignore it)", k, data)
			}
			ch.wiper, latch = data, true
		case 0x2:
			ch.sr, ch.hiZ = uint16(ch.wiper), false
		case 0x4:
			ch.wiper, ch.unlocked, latch = 512, false, true
		case 0x6:
			ch.unlocked = data&0x2 != 0
		case 0x7:
			ch.sr, ch.hiZ = 0, false
			if ch.unlocked {
				ch.sr = 0x2
			}
		case 0x8:
			ch.shutdown, latch = data&1 != 0, true
		default:
			return fmt.Errorf("AD5293 chip %d: command %#x not supported", k, cmd)
		}
	}
	if latch {
		return r.latchCouplings()
	}
	return nil
}

// mdacFrame loads the AD545x whose SYNC is low.
func (r *Rig) mdacFrame(w []byte) error {
	if len(w) != 2 {
		return fmt.Errorf("AD545x frame of %d bytes, want 2", len(w))
	}
	e := -1
	for name, p := range r.pins {
		if p.role == "sync" && p.l == gpio.Low {
			if e >= 0 {
				return fmt.Errorf("AD545x frame with two SYNC lines low (elements %d and %d, %s)", e, p.elem, name)
			}
			e = p.elem
		}
	}
	if e < 0 {
		return errors.New("AD545x frame with no SYNC line low")
	}
	f := uint16(w[0])<<8 | uint16(w[1])
	if c := f >> 14; c != 0 {
		return fmt.Errorf("AD545x element %d: control bits %02b (only 00, load and update, is usable)", e, c)
	}
	r.mdac[e] = int(f&0x3fff) >> (14 - r.mdacBits)
	return nil // the DAC register loads on SYNC's rising edge
}

// adcFrame reads out the last conversion: 8 big-endian two's-complement words.
func (r *Rig) adcFrame(w, rd []byte) error {
	if len(w) != 16 || rd == nil {
		return fmt.Errorf("AD7606 read-out of %d bytes (read %t), want 16 read", len(w), rd != nil)
	}
	if !r.ready {
		return errors.New("AD7606 read-out without a finished conversion")
	}
	for i, c := range r.conv {
		rd[2*i], rd[2*i+1] = byte(uint16(c)>>8), byte(uint16(c))
	}
	r.ready = false
	return nil
}

// vpin is a virtual GPIO.
type vpin struct {
	name string
	l    gpio.Level
	r    *Rig
	role string
	elem int
}

var _ gpio.PinIO = (*vpin)(nil)

// Out implements gpio.PinOut: edges on FORCE, CONVST and SYNC act.
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
	case p.role == "convst" && prev == gpio.Low && l == gpio.High:
		return r.convert()
	case p.role == "sync" && prev == gpio.Low && l == gpio.High:
		return r.latchCouplings()
	case p.role == "range":
		r.rangeHigh = l == gpio.High
	}
	return nil
}

// In implements gpio.PinIn; only BUSY is an input.
func (p *vpin) In(gpio.Pull, gpio.Edge) error {
	if p.role != "busy" {
		return fmt.Errorf("virtual %s: %s is an output", p.name, p.role)
	}
	return nil
}

// WaitForEdge implements gpio.PinIn: BUSY's falling edge is there as soon
// as a conversion was started (simulated time already moved past it).
func (p *vpin) WaitForEdge(time.Duration) bool {
	if p.role == "busy" && p.r.busyEdge {
		p.r.busyEdge = false
		return true
	}
	return false
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
