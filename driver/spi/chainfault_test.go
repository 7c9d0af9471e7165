package spi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/hal"
)

// limitPort records the port limits set on it (its other methods are not
// called here).
type limitPort struct {
	pspi.PortCloser
	limits []physic.Frequency
}

func (p *limitPort) LimitSpeed(f physic.Frequency) error {
	p.limits = append(p.limits, f)
	return nil
}

// silentConn accepts every transaction.
type silentConn struct{ pspi.Conn }

func (silentConn) Tx(w, r []byte) error { return nil }
func (silentConn) String() string       { return "silent" }

// at lowers the port's limit for the transactions it runs, accounts them
// at the lower clock (128 bytes at 1 MHz: 128·8/1e6 s = 1.024 ms of
// programming bus time), and puts the wiring's clock back.
func TestTimedConnAt(t *testing.T) {
	b := &Board{programming: true}
	p := &limitPort{}
	c := &timedConn{Conn: silentConn{}, b: b, hz: 10e6, readHz: 10e6, port: p, limitHz: 10e6}
	require.NoError(t, c.at(1e6, func() error {
		assert.Equal(t, 1e6, c.clock())
		return c.Tx(make([]byte, 128), nil)
	}))
	assert.Equal(t, 1024*time.Microsecond, b.stats.ProgramBus)
	assert.Equal(t, []physic.Frequency{physic.MegaHertz, 10 * physic.MegaHertz}, p.limits)
	assert.Equal(t, 10e6, c.clock())
}

// The ends of the chain: frames wrong from chip 0 on point at the host's
// MOSI line; frames that reach every chip intact but come back wrong point
// at the last chip's SDO to MISO.
func TestSlowLinkEnds(t *testing.T) {
	ch, err := ad5293.NewChain(silentConn{}, 3)
	require.NoError(t, err)
	r := &rheostatChain{ch: ch, port: "/dev/spidev1.0", elements: [][2]int{{0, 0}, {0, 1}, {1, 1}}}
	err = r.slowLinkError(0, 10e6, 10e6, 5e6)
	require.ErrorIs(t, err, hal.ErrDisconnected)
	assert.Contains(t, err.Error(), "corrupts frames at 10 MHz from AD5293 #0 (A[0][0]) on — the host's MOSI line into chip 0")
	assert.Contains(t, err.Error(), "the chain answers at 5 MHz: set coupling.chain_hz ≤ 5000000")
	err = r.slowLinkError(3, 10e6, 2.5e6, 1.25e6)
	assert.Contains(t, err.Error(), "at 10 MHz (and still at 2.5 MHz) after AD5293 #2, the last")
	assert.Contains(t, err.Error(), "chip 2's SDO to MISO")
	assert.Equal(t, "312.5 kHz", hzString(312.5e3))
}
