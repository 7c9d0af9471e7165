package spi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
)

// stuckMISO is a host whose MISO line on one port reads a constant byte:
// the chips still receive every frame, but nothing they shift out reaches
// the host (a chain absent or unpowered: the pull-up holds MISO high; a
// short or a missing pull-up holds it low).
type stuckMISO struct {
	spi.Host
	port  string
	level byte
}

type stuckPort struct {
	pspi.PortCloser
	level byte
}

type stuckConn struct {
	pspi.Conn
	level byte
}

func (h *stuckMISO) OpenSPI(name string) (pspi.PortCloser, error) {
	p, err := h.Host.OpenSPI(name)
	if err != nil || name != h.port {
		return p, err
	}
	return &stuckPort{PortCloser: p, level: h.level}, nil
}

func (p *stuckPort) Connect(f physic.Frequency, m pspi.Mode, bits int) (pspi.Conn, error) {
	c, err := p.PortCloser.Connect(f, m, bits)
	return &stuckConn{Conn: c, level: p.level}, err
}

func (c *stuckConn) Tx(w, r []byte) error {
	err := c.Conn.Tx(w, r)
	for i := range r {
		r[i] = c.level
	}
	return err
}

// A rheostat chain whose MISO is stuck high or low does not open, and the
// error names the chain position read first (chip 63, A[7][7], whose SDO
// drives MISO). Stuck high used to open: the control read-back 0x3ff has
// the write-enable bit set.
func TestChainMustAnswer(t *testing.T) {
	for _, c := range []struct {
		name  string
		level byte
		cause string
	}{{"high", 0xff, "floating at the SDO pull-up"}, {"low", 0x00, "stuck low"}} {
		t.Run(c.name, func(t *testing.T) {
			w := spi.DefaultWiring()
			r, _ := rig(t, w, proto8(t), 1)
			_, err := spi.New(context.Background(), &stuckMISO{Host: r, port: w.Coupling.Port, level: c.level}, w, nil)
			require.ErrorIs(t, err, hal.ErrDisconnected)
			assert.Contains(t, err.Error(), "rheostat chain on /dev/spidev1.0 does not answer: chip 63 (A[7][7])")
			assert.Contains(t, err.Error(), c.cause)
		})
	}
}
