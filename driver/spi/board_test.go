package spi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/virtual"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/sim"
)

func proto8(t *testing.T) sim.Profile {
	p, err := sim.Builtin("proto8")
	require.NoError(t, err)
	return p
}

func identity(k int, c float64) []float64 {
	a := make([]float64, k*k)
	for i := range k {
		a[i*k+i] = c
	}
	return a
}

// Bus time follows from frame sizes at the wiring's clock (10 MHz: 0.8 µs
// per byte), and board time on virtual chips is exactly bus + waits.
func TestTimeAccount(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	b, err := virtual.Open(ctx, w, proto8(t), 1, nil)
	require.NoError(t, err)
	defer b.Close()
	in := b.Info()
	assert.Equal(t, 17*time.Microsecond, in.MinSamplePeriod, "4 µs conversion + 16 bytes at 10 MHz, rounded up to 1 µs")
	assert.Equal(t, 2.0/1023, in.CouplingStep)
	byteT := 800 * time.Nanosecond
	tm := b.Timing()
	assert.Equal(t, 136*byteT+2*time.Microsecond, tm.Couplings, "8 polarity bytes + 64 two-byte frames + settling")
	assert.Equal(t, 4*time.Microsecond+16*byteT, tm.Sample)
	assert.Equal(t, 8*3*byteT+5*time.Microsecond+50*time.Microsecond, tm.State)

	s0, t0 := b.Stats(), b.BoardTime()
	a := identity(8, 1)
	a[1] = -0.5 // a sign change: polarity chain (8 bytes) + rheostat chain (128 bytes)
	require.NoError(t, b.SetCouplings(ctx, a))
	s1, t1 := b.Stats(), b.BoardTime()
	assert.Equal(t, 136*byteT, s1.ProgramBus-s0.ProgramBus)
	assert.Equal(t, 2, s1.Transactions-s0.Transactions)
	assert.Equal(t, 136*byteT+2*time.Microsecond, t1-t0, "bus + 2 µs rheostat settling")

	a[1] = -0.25 // same sign: only the rheostat chain
	require.NoError(t, b.SetCouplings(ctx, a))
	s2 := b.Stats()
	assert.Equal(t, 128*byteT, s2.ProgramBus-s1.ProgramBus)
	require.NoError(t, b.SetCouplings(ctx, a))
	assert.Equal(t, s2, b.Stats(), "an unchanged matrix sends nothing")

	bias := make([]float64, 8)
	bias[2] = 1
	t2 := b.BoardTime()
	require.NoError(t, b.SetBias(ctx, bias))
	s3 := b.Stats()
	assert.Equal(t, 3*byteT, s3.ProgramBus-s2.ProgramBus, "one changed channel: one 24-bit frame")
	assert.Equal(t, 3*byteT+5*time.Microsecond, b.BoardTime()-t2)

	const n = 100
	t3 := b.BoardTime()
	got, err := b.Sample(ctx, 20*time.Microsecond, make([]float64, n*8))
	require.NoError(t, err)
	require.Equal(t, n, got)
	s4 := b.Stats()
	assert.Equal(t, n, s4.Conversions-s3.Conversions)
	assert.Equal(t, n*16*byteT, s4.SampleBus-s3.SampleBus)
	assert.Equal(t, n*20*time.Microsecond, b.BoardTime()-t3, "n samples take n periods")
}

// The MDAC option on a symmetric 2-cell board (3 elements, one SYNC GPIO
// each) is a conforming board too.
func TestMDACBoardConformance(t *testing.T) {
	w := spi.DefaultWiring()
	w.Model, w.Cells = "mdac2", 2
	w.Bias.Channels, w.State.Channels, w.ADC.Channels = []int{0, 1}, []int{0, 1}, []int{0, 1}
	w.Coupling = spi.CouplingWiring{Chip: spi.ChipAD5450, Port: "/dev/spidev1.0", Bits: 12, Max: 2, Symmetric: true,
		Elements: [][2]int{{0, 0}, {0, 1}, {1, 1}}, SyncPins: []string{"GPIO5", "GPIO6", "GPIO13"}, SettleS: 1e-6}
	p := proto8(t)
	p.Name, p.Cells, p.Topology = "sym2", 2, "symmetric"
	p.Coupling.Bits = 12
	open := func(t *testing.T) hal.Board {
		b, err := virtual.Open(context.Background(), w, p, 7, &spi.Opts{Serial: "mdac2-test"})
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		return b
	}
	b := open(t)
	assert.Equal(t, hal.Symmetric, b.Info().Topology)
	assert.Equal(t, 2.0/4095, b.Info().CouplingStep)
	haltest.Run(t, open)
}

// A rig refuses what a real chip would silently get wrong.
func TestVirtualChipsAreStrict(t *testing.T) {
	w := spi.DefaultWiring()
	a, err := sim.New(proto8(t), 1)
	require.NoError(t, err)
	r, err := virtual.New(w, a)
	require.NoError(t, err)
	p, err := r.OpenSPI(w.Coupling.Port)
	require.NoError(t, err)
	c, err := p.Connect(50e6, 1, 8)
	require.NoError(t, err)
	frame := make([]byte, 128)
	frame[126], frame[127] = 0x04, 0x01 // chip 0: write wiper 1, still write-protected
	err = c.Tx(frame, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "write-protected")
	require.ErrorContains(t, c.Tx(frame[:4], nil), "got 4 bytes, want 128")

	q, err := r.OpenSPI(w.ADC.Port)
	require.NoError(t, err)
	ac, err := q.Connect(20e6, 3, 8)
	require.NoError(t, err)
	require.ErrorContains(t, ac.Tx(make([]byte, 16), make([]byte, 16)), "without a finished conversion")
	_, err = r.OpenSPI("/dev/spidev9.9")
	require.ErrorIs(t, err, hal.ErrInvalid)
	_, err = r.Pin("GPIO99")
	require.ErrorIs(t, err, hal.ErrInvalid)
}

// On a machine without SPI the URI fails with the device named and how to
// enable it (this is how `spu info --board spi:///dev/spidev0.0` fails).
func TestOpenWithoutSPI(t *testing.T) {
	_, err := hal.Open(context.Background(), "spi:///dev/spidev7.3?wiring="+writeWiring(t, "/dev/spidev7.3"))
	require.ErrorIs(t, err, hal.ErrUnsupported)
	assert.Contains(t, err.Error(), "/dev/spidev7.3 does not exist")
	assert.Contains(t, err.Error(), "enable SPI")
	_, err = hal.Open(context.Background(), "spi:///dev/spidev0.5")
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), "port /dev/spidev0.5 is not in wiring ref8")
	_, err = hal.Open(context.Background(), "spi:///dev/spidev0.0?speed=1")
	require.ErrorIs(t, err, hal.ErrInvalid)
}

func writeWiring(t *testing.T, biasPort string) string {
	w := spi.DefaultWiring()
	w.Bias.Port = biasPort
	path := fmt.Sprintf("%s/w.json", t.TempDir())
	require.NoError(t, writeJSON(path, w))
	return path
}
