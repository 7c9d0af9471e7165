package spi_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi"
)

// recHost records, per port, the mode each Connect asked for and the last
// speed limit, on top of the virtual rig (which checks the mode itself).
type recHost struct {
	spi.Host
	modes  map[string]pspi.Mode
	limits map[string]physic.Frequency
	// history is every limit set on each port, in order.
	history map[string][]physic.Frequency
}

type recPort struct {
	pspi.PortCloser
	name string
	h    *recHost
}

func (h *recHost) OpenSPI(name string) (pspi.PortCloser, error) {
	p, err := h.Host.OpenSPI(name)
	if err != nil {
		return nil, err
	}
	return &recPort{PortCloser: p, name: name, h: h}, nil
}

func (p *recPort) LimitSpeed(f physic.Frequency) error {
	p.h.limits[p.name] = f
	p.h.history[p.name] = append(p.h.history[p.name], f)
	return p.PortCloser.LimitSpeed(f)
}

func (p *recPort) Connect(f physic.Frequency, m pspi.Mode, bits int) (pspi.Conn, error) {
	p.h.modes[p.name] = m
	return p.PortCloser.Connect(f, m, bits)
}

func openRecorded(t *testing.T, w spi.Wiring) (*spi.Board, *recHost) {
	t.Helper()
	r, _ := rig(t, w, proto8(t), 1)
	h := &recHost{Host: r, modes: map[string]pspi.Mode{}, limits: map[string]physic.Frequency{}, history: map[string][]physic.Frequency{}}
	b, err := spi.New(context.Background(), h, w, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b, h
}

// adc.spi_mode picks the mode the ADC port is connected in; left out, the
// chip's default (ad7606: mode 2).
func TestADCSPIMode(t *testing.T) {
	w := spi.DefaultWiring()
	_, h := openRecorded(t, w)
	assert.Equal(t, pspi.Mode2, h.modes[w.ADC.Port], "default")
	assert.Equal(t, pspi.Mode1, h.modes[w.Coupling.Port], "other chips keep their own mode")

	mode := 3
	w.ADC.SPIMode = &mode
	b, h := openRecorded(t, w)
	assert.Equal(t, pspi.Mode3, h.modes[w.ADC.Port])
	got, err := b.Sample(context.Background(), 20*time.Microsecond, make([]float64, 8))
	require.NoError(t, err)
	assert.Equal(t, 1, got)

	for _, m := range []int{0, 1, 4, -1} {
		w.ADC.SPIMode = &m
		err := w.Validate()
		require.Error(t, err, "mode %d", m)
		assert.Contains(t, err.Error(), "adc.spi_mode = "+strconv.Itoa(m)+", want one of ad7606's modes [Mode2 Mode3]")
	}
	_, err = spi.DecodeWiring(strings.NewReader(wiringJSON(t, w, `"spi_mode": 0`)))
	require.ErrorContains(t, err, "adc.spi_mode = 0", "0 is mode 0, not 'unset'")
	w2, err := spi.DecodeWiring(strings.NewReader(wiringJSON(t, w, `"spi_mode": 2`)))
	require.NoError(t, err)
	require.NotNil(t, w2.ADC.SPIMode)
	assert.Equal(t, 2, *w2.ADC.SPIMode)
}

// coupling.chain_hz clocks the rheostat chain instead of spi_hz: the port
// is limited to it, and the accounted bus time of a coupling update is the
// chain's bytes at that clock (64 frames × 2 bytes × 8 bits / 1 MHz =
// 1024 µs, against 102.4 µs at the default 10 MHz).
func TestCouplingChainHz(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	w.Coupling.ChainHz = 1e6
	b, h := openRecorded(t, w)
	assert.Equal(t, physic.MegaHertz, h.limits[w.Coupling.Port])
	assert.Equal(t, 10*physic.MegaHertz, h.limits[w.Polarity.Port], "the other ports keep spi_hz")
	tm := b.Timing()
	assert.Equal(t, 1024*time.Microsecond+5*time.Microsecond, tm.Couplings, "128 bytes at 1 MHz + settling")
	assert.Equal(t, 2*(1024+5)*time.Microsecond+8*800*time.Nanosecond, tm.CouplingsSignFlip,
		"the polarity chain stays at 10 MHz")

	a := identity(8, 1)
	a[1] = 0.25 // same sign as zero: only the rheostat chain
	s0 := b.Stats()
	require.NoError(t, b.SetCouplings(ctx, a))
	assert.Equal(t, 1024*time.Microsecond, b.Stats().ProgramBus-s0.ProgramBus)

	for _, hz := range []float64{-1, 50e6 + 1} {
		w.Coupling.ChainHz = hz
		assert.ErrorContains(t, w.Validate(), "want a clock > 0 up to ad5293's write limit 5e+07 Hz")
	}
	w.Coupling.ChainHz = 50e6
	require.NoError(t, w.Validate(), "the chip's limit itself is allowed")
}

// wiringJSON is w as JSON with field added to its "adc" object.
func wiringJSON(t *testing.T, w spi.Wiring, field string) string {
	t.Helper()
	w.ADC.SPIMode = nil
	data, err := json.Marshal(w)
	require.NoError(t, err)
	s := strings.Replace(string(data), `"adc":{`, `"adc":{`+field+`,`, 1)
	require.NotEqual(t, string(data), s)
	return s
}
