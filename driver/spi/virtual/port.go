package virtual

import (
	"fmt"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/bus"
	"github.com/spukit/spukit/hal"
)

// port is a virtual SPI port with one chip (or chain) behind its chip
// select.
type port struct {
	r    *Rig
	name string
	role string     // for messages: bias, state, coupling, polarity, adc
	dev  device     // the chip
	bus  bus.Limits // what the chip accepts (its package's Bus)
	noCS bool       // the chip is selected by GPIOs, not the port's CS
	open bool
	hz   float64 // the clock of the transaction under way (or the last)
	// connHz is the Connect speed; a transaction's clock is the lower of
	// it and the port's limit (max) at that moment.
	connHz float64
	max    physic.Frequency
	mode   pspi.Mode // the mode the host connected in
	// miso, when set, is a wiring fault on what the host reads (faults.go).
	miso func(rd []byte)
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

// Connect implements pspi.Port. A mode, select or speed the chip does not
// accept (its bus limits) is an error here, where a real chip would garble
// the data. The clock is the lower of the port's limit and the device's
// maximum, as periph specifies.
func (p *port) Connect(f physic.Frequency, mode pspi.Mode, bits int) (pspi.Conn, error) {
	if bits != 8 {
		return nil, fmt.Errorf("virtual %s: %d bits per word, want 8: %w", p.name, bits, hal.ErrInvalid)
	}
	if !p.bus.Accepts(mode) {
		return nil, fmt.Errorf("virtual %s (%s): SPI mode %d, the chip needs one of %v: %w", p.name, p.role, mode&3, p.bus.Modes, hal.ErrInvalid)
	}
	if (mode&pspi.NoCS != 0) != p.noCS {
		return nil, fmt.Errorf("virtual %s (%s): NoCS = %t, want %t: %w", p.name, p.role, mode&pspi.NoCS != 0, p.noCS, hal.ErrInvalid)
	}
	if mode&(pspi.LSBFirst|pspi.HalfDuplex) != 0 {
		return nil, fmt.Errorf("virtual %s (%s): mode %#x: LSB-first and half duplex are not supported: %w", p.name, p.role, mode, hal.ErrInvalid)
	}
	if limit := p.bus.Hz(); f <= 0 || f > limit {
		return nil, fmt.Errorf("virtual %s (%s): device speed %v, the chip accepts up to %v: %w", p.name, p.role, f, limit, hal.ErrInvalid)
	}
	hz := f
	if p.max > 0 && p.max < hz {
		hz = p.max
	}
	p.hz = float64(hz) / float64(physic.Hertz)
	p.connHz = float64(f) / float64(physic.Hertz)
	p.mode = mode
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
	if !p.open {
		return fmt.Errorf("virtual %s: port closed: %w", p.name, hal.ErrClosed)
	}
	if rd != nil && len(rd) != len(w) {
		return fmt.Errorf("virtual %s: write %d bytes, read %d: full duplex needs equal lengths: %w", p.name, len(w), len(rd), hal.ErrInvalid)
	}
	if p.max > 0 {
		// The port's limit may change between transactions (a slower
		// read-back clock): periph's spidev applies it per transfer.
		p.hz = min(p.connHz, float64(p.max)/float64(physic.Hertz))
	}
	if rd != nil && p.bus.ReadHz > 0 && p.hz > float64(p.bus.ReadHz)/float64(physic.Hertz) {
		return fmt.Errorf("virtual %s (%s): read at %g Hz, the chip's output is valid up to %v: %w",
			p.name, p.role, p.hz, p.bus.ReadHz, hal.ErrInvalid)
	}
	p.r.now += spi.TransferTime(len(w), p.hz)
	if err := p.dev.tx(w, rd); err != nil {
		return fmt.Errorf("virtual %s (%s): %w", p.name, p.role, err)
	}
	if rd != nil && p.miso != nil {
		p.miso(rd)
	}
	return nil
}
