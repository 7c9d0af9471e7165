package spi_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/physic"
	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/virtual"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/adcfilter"
	"github.com/spukit/spukit/sim"
)

func proto8(t *testing.T) sim.Profile {
	p, err := sim.Builtin("proto8")
	require.NoError(t, err)
	p.ADC.MinPeriodS = 1e-9 // the virtual ADC reads at the CONVST edge
	p.Timing = sim.TimingProfile{}
	return p
}

// keepOpen is a simulator whose Close does nothing, so one rig can serve
// several driver sessions (a board that stays powered between programs).
type keepOpen struct{ *sim.Board }

func (keepOpen) Close() error { return nil }

// rig builds virtual chips over a fresh simulator of p.
func rig(t *testing.T, w spi.Wiring, p sim.Profile, seed uint64) (*virtual.Rig, *sim.Board) {
	t.Helper()
	a, err := sim.New(p, seed)
	require.NoError(t, err)
	r, err := virtual.New(w, keepOpen{a})
	require.NoError(t, err)
	return r, a
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
	assert.Equal(t, 128*byteT+5*time.Microsecond, tm.Couplings, "64 two-byte frames + settling")
	assert.Equal(t, 2*(128*byteT+5*time.Microsecond)+8*byteT, tm.CouplingsSignFlip, "through zero: twice the chain, 8 polarity bytes")
	assert.Equal(t, 4*time.Microsecond+16*byteT, tm.Sample)
	assert.Equal(t, 8*3*byteT+5*time.Microsecond+50*time.Microsecond, tm.State)

	now := func() time.Duration { d, _ := b.BoardTime(); return d }
	s0, t0 := b.Stats(), now()
	a := identity(8, 1)
	a[1] = -0.5 // a sign change: polarity chain (8 bytes) + rheostat chain (128 bytes)
	require.NoError(t, b.SetCouplings(ctx, a))
	s1, t1 := b.Stats(), now()
	assert.Equal(t, 136*byteT, s1.ProgramBus-s0.ProgramBus)
	assert.Equal(t, 2, s1.Transactions-s0.Transactions)
	assert.Equal(t, 136*byteT+5*time.Microsecond, t1-t0, "bus + 5 µs rheostat settling (the flipped element was zero: one pass)")

	a[1] = -0.25 // same sign: only the rheostat chain
	require.NoError(t, b.SetCouplings(ctx, a))
	s2 := b.Stats()
	assert.Equal(t, 128*byteT, s2.ProgramBus-s1.ProgramBus)
	require.NoError(t, b.SetCouplings(ctx, a))
	assert.Equal(t, s2, b.Stats(), "an unchanged matrix sends nothing")

	bias := make([]float64, 8)
	bias[2] = 1
	t2 := now()
	require.NoError(t, b.SetBias(ctx, bias))
	s3 := b.Stats()
	assert.Equal(t, 3*byteT, s3.ProgramBus-s2.ProgramBus, "one changed channel: one 24-bit frame")
	assert.Equal(t, 3*byteT+5*time.Microsecond, now()-t2)

	const n = 100
	t3 := now()
	got, err := b.Sample(ctx, 20*time.Microsecond, make([]float64, n*8))
	require.NoError(t, err)
	require.Equal(t, n, got)
	s4 := b.Stats()
	assert.Equal(t, n, s4.Conversions-s3.Conversions)
	assert.Equal(t, n*16*byteT, s4.SampleBus-s3.SampleBus)
	assert.Equal(t, n*20*time.Microsecond+16800*time.Nanosecond, now()-t3, "n periods, then the last conversion and read-out")
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
	r, _ := rig(t, w, proto8(t), 1)
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

// A second session on a board that stays powered finds what the first left
// — here the worst case: rheostats shut down and DACs powered down — and
// still starts from A = I, b = 0.
func TestReopenAfterShutdown(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	r, _ := rig(t, w, proto8(t), 2)
	raw := func(port string, mode pspi.Mode, frame []byte) {
		p, err := r.OpenSPI(port)
		require.NoError(t, err)
		c, err := p.Connect(physic.MegaHertz, mode, 8)
		require.NoError(t, err)
		require.NoError(t, c.Tx(frame, nil))
		require.NoError(t, p.Close())
	}
	shutdown := make([]byte, 128)
	for i := 0; i < 128; i += 2 {
		shutdown[i], shutdown[i+1] = 0x20, 0x01
	}
	raw(w.Coupling.Port, pspi.Mode1, shutdown)
	raw(w.Bias.Port, pspi.Mode1, []byte{0x40, 0x55, 0x55})

	b, err := spi.New(ctx, r, w, nil)
	require.NoError(t, err, "the driver wakes the rheostats and powers the DACs up")
	bias := []float64{1, 1, 1, 1, 1, 1, 1, 1}
	require.NoError(t, b.SetBias(ctx, bias))
	require.NoError(t, b.Run(ctx, 2*time.Millisecond)) // 20 τ
	x := make([]float64, 2000*8)
	_, err = b.Sample(ctx, 0, x)
	require.NoError(t, err)
	// A = I, b = 1 V: every cell averages x = b/A_ii = 1 V up to the
	// uncalibrated parts — the diagonal element's ±1 % gain moves x by
	// ≤ 10.2 mV, the rounding of 1 to code 512 (step 2/1023) by 1 mV, DAC
	// and ADC offsets by ≤ 3 mV and their gains by ≤ 1.1 mV — and noise
	// (σ = 10 mV, 2000 samples 17 µs apart, correlation time τ: SE ≤ 10 mV ·
	// sqrt(2τ/(2000·17 µs)) ≈ 0.8 mV, 5 SE = 4 mV). Their sum, 19.3 mV, is
	// the tolerance: a shut-down chain would give A = 0 (refused as
	// unstable), a grounded DAC −5 V.
	for i := range 8 {
		m := 0.0
		for k := range 2000 {
			m += x[k*8+i]
		}
		assert.InDelta(t, 1.0, m/2000, 0.0193, "cell %d", i)
	}
	require.NoError(t, b.Close())
	b2, err := spi.New(ctx, r, w, nil)
	require.NoError(t, err, "and again after a normal Close")
	require.NoError(t, b2.Close())
}

// The virtual ADC reads the cells at the CONVST edge: after forcing x₀ on
// a noiseless, ideal-part board with A = a·I and b = 0, a sample with
// period P converts at t = P after FORCE was released (hal.Board: sample k
// is taken (k+1)·period after the call) and must read, to within one ADC
// step, the node's decay x₀·e^{−a·t/τ} as the ADC's anti-aliasing filter
// passes it: the AD7606's second-order filter, which the forcing left
// settled on x₀, lags the node (adcfilter.SettledDecay; the plain decay
// without a filter). x₀ = 4 V and a = 1 as the 16-bit state DAC and the
// 10-bit rheostat realise them (a read one simulator period late would be
// 5 % of τ off: 0.09 V here). Both without the filter and at the ±5 V
// range's 15 kHz corner (there the reading is 0.24 V above the node's, 1.71 V against 1.47 V).
func TestConversionAtTheEdge(t *testing.T) {
	for _, hz := range []float64{0, 15e3} {
		t.Run(fmt.Sprintf("filter %g Hz", hz), func(t *testing.T) { conversionAtTheEdge(t, hz) })
	}
}

func conversionAtTheEdge(t *testing.T, filterHz float64) {
	ctx := context.Background()
	p := proto8(t)
	p.NoiseV, p.ADC.NoiseV, p.ADC.OffsetV, p.ADC.GainError, p.CapacitorTolerance = 0, 0, 0, 0, 0
	p.Coupling.Tolerance, p.Thermal.StdC, p.Coupling.AgeingPerHour = 0, 0, 0
	p.Bias.OffsetV, p.Bias.GainError, p.Bias.INLLSB = 0, 0, 0
	p.ADC.FilterHz = filterHz
	r, _ := rig(t, spi.DefaultWiring(), p, 3)
	b, err := spi.New(ctx, r, spi.DefaultWiring(), nil)
	require.NoError(t, err)
	defer b.Close()
	x0 := []float64{4, 4, 4, 4, 4, 4, 4, 4}
	require.NoError(t, b.SetState(ctx, x0))
	period := 100 * time.Microsecond
	got := make([]float64, 8)
	_, err = b.Sample(ctx, period, got)
	require.NoError(t, err)
	tconv := period.Seconds()
	lsb := 10.0 / 65536
	x0q := -5 + math.Round(9/lsb)*lsb // code of 4 V on the ±5 V state DAC
	a := 512 * 2.0 / 1023             // 1/τ on the 2/1023 grid
	omega := math.Inf(1)              // no filter
	if filterHz > 0 {
		omega = 2 * math.Pi * filterHz
	}
	want := x0q * adcfilter.SettledDecay(a/100e-6, omega, tconv)
	for i := range got {
		assert.InDelta(t, want, got[i], 5.0/32768+1e-12, "cell %d", i)
	}
}

// A sign flip on a live element goes through zero: the analog board never
// sees new signs with old magnitudes, and the bus carries 128 + 8 + 128
// bytes.
func TestSignFlipThroughZero(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	r, _ := rig(t, w, proto8(t), 4)
	b, err := spi.New(ctx, r, w, nil)
	require.NoError(t, err)
	defer b.Close()
	a := identity(8, 2)
	for i := range 8 {
		for j := range 8 {
			if i != j {
				a[i*8+j] = 0.3 // eigenvalues 2 + 7·0.3 and 2 − 0.3: stable
			}
		}
	}
	require.NoError(t, b.SetCouplings(ctx, a))
	for i := range 8 {
		for j := range 8 {
			if i != j {
				a[i*8+j] = -0.01
			}
		}
	}
	// New signs on old magnitudes would be off-diagonals −0.3: eigenvalue
	// 2 − 7·0.3 = −0.1, unstable.
	s0, h0 := b.Stats(), r.HeldBack() // power-on midscale wipers counted already (docs/boards.md)
	require.NoError(t, b.SetCouplings(ctx, a))
	assert.Equal(t, h0, r.HeldBack(), "no unstable matrix was latched on the way")
	assert.Equal(t, 264*800*time.Nanosecond, b.Stats().ProgramBus-s0.ProgramBus)
}

// The virtual chips refuse SPI settings the real ones would not work with.
func TestVirtualBusSettings(t *testing.T) {
	w := spi.DefaultWiring()
	r, _ := rig(t, w, proto8(t), 1)
	p, err := r.OpenSPI(w.Polarity.Port)
	require.NoError(t, err)
	_, err = p.Connect(physic.MegaHertz, pspi.Mode1, 8)
	require.ErrorContains(t, err, "SPI mode 1")
	_, err = p.Connect(physic.MegaHertz, pspi.Mode0|pspi.NoCS, 8)
	require.ErrorContains(t, err, "NoCS = true, want false")
	_, err = p.Connect(30*physic.MegaHertz, pspi.Mode0, 8)
	require.ErrorContains(t, err, "the chip accepts up to 20MHz")
	q, err := r.OpenSPI(w.Coupling.Port)
	require.NoError(t, err)
	c, err := q.Connect(physic.MegaHertz, pspi.Mode1, 8)
	require.NoError(t, err)
	float := make([]byte, 128)
	for i := 0; i < 128; i += 2 {
		float[i], float[i+1] = 0x80, 0x01
	}
	require.NoError(t, c.Tx(float, nil))
	require.NoError(t, c.Tx(make([]byte, 128), nil)) // the NOP that floats SDO
	require.ErrorContains(t, c.Tx(make([]byte, 128), nil), "receives pull-up ones", "a floated SDO breaks the daisy chain")
}

// slowHost wakes 30 µs after every deadline, like a busy Linux host.
type slowHost struct{ *virtual.Rig }

func (h slowHost) SleepUntil(ctx context.Context, t time.Duration) error {
	return h.Rig.SleepUntil(ctx, t+30*time.Microsecond)
}

// Conversions that start late are counted, and a wiring can raise the
// minimum sample period for a slow host.
func TestLateSamplesCounted(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	w.ADC.MinPeriodS = 50e-6
	r, _ := rig(t, w, proto8(t), 5)
	b, err := spi.New(ctx, slowHost{r}, w, nil)
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, 50*time.Microsecond, b.Info().MinSamplePeriod)
	_, err = b.Sample(ctx, 100*time.Microsecond, make([]float64, 10*8))
	require.NoError(t, err)
	st := b.Stats()
	// 30 µs late is beyond a tenth of the 100 µs period, every time.
	assert.Equal(t, 10, st.Late)
	assert.Equal(t, 30*time.Microsecond, st.MaxLate)
}

// fakeDriver is a periph driver registered only to ask driverreg whether
// its Init has run.
type fakeDriver struct{}

func (fakeDriver) String() string          { return "spukit-test-fake" }
func (fakeDriver) Prerequisites() []string { return nil }
func (fakeDriver) After() []string         { return nil }
func (fakeDriver) Init() (bool, error)     { return false, nil }

// Opening an spi: board initialises periph's host drivers: no program
// (this test binary does not call host.Init) has to know to do it.
// driverreg refuses a new driver once Init has run.
func TestOpenInitialisesPeriphHost(t *testing.T) {
	_, err := hal.Open(context.Background(), "spi:///dev/spidev7.3?wiring="+writeWiring(t, "/dev/spidev7.3"))
	require.ErrorIs(t, err, hal.ErrUnsupported)
	assert.ErrorContains(t, driverreg.Register(fakeDriver{}), "after Init")
}
