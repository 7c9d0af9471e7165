package virtual

import (
	"context"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/physic"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/ad5293"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
)

const faultSeed = 3

func simProto8(t *testing.T) sim.Profile {
	t.Helper()
	p, err := sim.Builtin("proto8")
	require.NoError(t, err)
	return p
}

// openFault opens the SPI driver on a rig of the default wiring (changed
// by mod, when given) with fault f.
func openFault(t *testing.T, f Fault, mod func(*spi.Wiring)) (*spi.Board, error) {
	t.Helper()
	w := spi.DefaultWiring()
	if mod != nil {
		mod(&w)
	}
	b, err := OpenFault(context.Background(), w, simProto8(t), faultSeed, nil, f)
	if err == nil {
		t.Cleanup(func() { b.Close() })
	}
	return b, err
}

func mustOpenFault(t *testing.T, f Fault, mod func(*spi.Wiring)) *spi.Board {
	t.Helper()
	b, err := openFault(t, f, mod)
	require.NoError(t, err)
	return b
}

func eye(k int) []float64 {
	a := make([]float64, k*k)
	for i := range k {
		a[i*k+i] = 1
	}
	return a
}

// steady programs a and bias, lets 20 τ pass and returns n samples one τ
// apart (row-major, as hal.Board.Sample).
func steady(t *testing.T, b hal.Board, a, bias []float64, n int) []float64 {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.SetCouplings(ctx, a))
	require.NoError(t, b.SetBias(ctx, bias))
	require.NoError(t, b.Run(ctx, 2*time.Millisecond))
	dst := make([]float64, n*len(bias))
	_, err := b.Sample(ctx, 100*time.Microsecond, dst)
	require.NoError(t, err)
	return dst
}

// means averages n samples per cell.
func means(s []float64, k int) []float64 {
	m := make([]float64, k)
	for j, v := range s {
		m[j%k] += v * float64(k) / float64(len(s))
	}
	return m
}

// Tolerance of the DC checks below: proto8's parts are within 1 %
// (couplings) and 0.06 % (DAC gain) and the node noise is 10 mV per
// sample, so a steady level of ≤ 2 V is within 0.1 V of b/A with margin
// (20 mV from tolerances, 10 mV/√10 noise on a mean of 10).
const dcTol = 0.1

func TestFaultTable(t *testing.T) {
	w := spi.DefaultWiring()
	got := map[string]FaultInfo{}
	for _, f := range Faults(w) {
		got[f.Name] = f
		assert.NotEmpty(t, f.Models, f.Name)
		assert.NotEmpty(t, f.Part, f.Name)
		assert.True(t, f.Min <= f.Default && f.Default <= f.Max, "%s: default %d outside %d..%d", f.Name, f.Default, f.Min, f.Max)
	}
	assert.Len(t, got, 6)
	// ref8: 64 chips, 8 DAC and ADC channels, A[1][1] is element 9.
	assert.Equal(t, FaultInfo{Name: FaultChainSlow, Default: 32, Min: 1, Max: 63}, pick(got[FaultChainSlow]))
	assert.Equal(t, FaultInfo{Name: FaultDACSwap, Default: 2, Min: 0, Max: 6}, pick(got[FaultDACSwap]))
	assert.Equal(t, FaultInfo{Name: FaultStuckCoupling, Default: 9, Min: 0, Max: 63}, pick(got[FaultStuckCoupling]))
	assert.Equal(t, FaultInfo{Name: FaultPolarityMissing, Default: 0, Min: 0, Max: 1}, pick(got[FaultPolarityMissing]))
	assert.Equal(t, FaultInfo{Name: FaultADCDeadChannel, Default: 5, Min: 0, Max: 7}, pick(got[FaultADCDeadChannel]))
	m := got[FaultADCMode]
	assert.NotEqual(t, int(ad7606.Bus.Mode), m.Default, "the default true mode is the one the driver does not use")
	assert.Equal(t, [2]int{2, 3}, [2]int{m.Min, m.Max})
}

func pick(f FaultInfo) FaultInfo {
	return FaultInfo{Name: f.Name, Default: f.Default, Min: f.Min, Max: f.Max}
}

// docs/boards.md §8 lists every fault of the table, in its order, with
// its ref8 default as the first number of the fault_at column.
func TestFaultDocs(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/boards.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(doc), "\n### Wiring faults\n")
	require.True(t, ok, "docs/boards.md has no Wiring faults section")
	if i := strings.Index(table, "\n## "); i >= 0 {
		table = table[:i]
	}
	first := regexp.MustCompile(`\d+`)
	var names []string
	defaults := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 4 || !strings.HasPrefix(strings.TrimSpace(f[1]), "`") || strings.Contains(f[1], "fault=") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(f[1]), "`")
		names = append(names, name)
		_, at, _ := strings.Cut(f[2], "(")
		defaults[name] = first.FindString(at)
	}
	var want []string
	for _, f := range Faults(spi.DefaultWiring()) {
		want = append(want, f.Name)
		assert.Equal(t, strconv.Itoa(f.Default), defaults[f.Name], "%s's default in the docs", f.Name)
	}
	assert.Equal(t, want, names)
}

func TestFaultURIErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ uri, want string }{
		{"spi+sim:proto8?fault=loose-wire", "known: adc-mode, chain-slow, dac-swap, stuck-coupling, polarity-missing, adc-dead-channel"},
		{"spi+sim:proto8?fault=dac-swap&fault_at=7", "want 0..6"},
		{"spi+sim:proto8?fault=chain-slow&fault_at=0", "want 1..63"},
		{"spi+sim:proto8?fault=adc-dead-channel&fault_at=x", `fault_at="x", want an integer in 0..7`},
		{"spi+sim:proto8?fault=adc-mode&fault_at=1", "want 2..3"},
		{"spi+sim:proto8?fault_at=3", "fault_at=3 without fault="},
	} {
		_, err := hal.Open(ctx, c.uri)
		require.Error(t, err, c.uri)
		assert.Contains(t, err.Error(), c.want, c.uri)
	}
	_, err := hal.Open(ctx, "spi+sim:proto8?fault=loose-wire")
	assert.ErrorIs(t, err, hal.ErrInvalid)
}

// adc-mode: a host reading in the ADC's wrong mode reads every bit one
// place early, so each code is the true one times two plus the next
// channel's sign bit (0 after the last channel): a DC level reads
// doubled. Reading in the ADC's true mode (adc.spi_mode) cures it.
func TestFaultADCMode(t *testing.T) {
	// The ADC's true mode: the accepted one the driver does not default to.
	trueMode := 2
	if ad7606.Bus.Mode == 2 {
		trueMode = 3
	}
	f := Fault{Name: FaultADCMode, At: trueMode}
	healthy := mustOpenFault(t, Fault{}, nil)
	faulty := mustOpenFault(t, f, nil)
	fixed := mustOpenFault(t, f, func(w *spi.Wiring) { w.ADC.SPIMode = &trueMode })
	bias := []float64{1, -1, 0.5, -0.5, 2, -2, 0.25, 1.5}
	k := len(bias)
	want := steady(t, healthy, eye(k), bias, 10)
	got := steady(t, faulty, eye(k), bias, 10)
	assert.Equal(t, want, steady(t, fixed, eye(k), bias, 10), "read in the ADC's true mode")
	code := func(v float64) int { return int(math.Round(v * 32768 / 5)) }
	for j := range want {
		next := 0
		if j%k+1 < k && want[j+1] < 0 {
			next = 1
		}
		c := 2*code(want[j]) + next // |v| < 2.5 V: doubling stays in range
		assert.Equal(t, c, code(got[j]), "sample %d cell %d: healthy %g V", j/k, j%k, want[j])
	}
	for i, m := range means(got, k) {
		assert.InDelta(t, 2*bias[i], m, 2*dcTol, "cell %d reads twice its level", i)
	}
}

// chain-slow, at the chips: the link into chip 32 (a 10 kΩ pull-up on
// 10 pF, t_su 5 ns) passes f_max = 1/(2·(2.2·10 kΩ·10 pF + 5 ns)) =
// 2.22 MHz. Above it a released line is read half a period after it
// starts rising and needs 225 ns: at 10 MHz (half period 50 ns) the first
// two ones of every run arrive as zeros, at 3 MHz (167 ns) the first one.
// Either way the unlock frame 0x1802 (ones at bits 12, 11, 1) no longer
// unlocks, and a wiper write (bit 10 a lone first one) becomes a NOP:
// chips ≥ 32 keep their power-on code 512. Chips < 32 are written, but
// their read-back passes the link on its way to MISO: a code of lone ones
// (0x155) reads 0, 0x3ff loses the first two (10 MHz: 0x0ff) or one (3 MHz:
// 0x1ff). The read command to chips ≥ 32 (0x0800, a lone one) arrives as
// a NOP: they shift out zeros. At 2 MHz all is well.
func TestFaultChainSlowChips(t *testing.T) {
	fMax := 1 / (2 * (2.2*10e3*10e-12 + 5e-9))
	require.InDelta(t, 2.222e6, fMax, 1e3)
	for _, c := range []struct {
		hz       float64
		read3ff  int
		corrupts bool
	}{{10e6, 0x0ff, true}, {3e6, 0x1ff, true}, {2e6, 0x3ff, false}} {
		r := faultRig(t, Fault{Name: FaultChainSlow, At: 32})
		ch := chainOn(t, r, c.hz)
		codes := make([]int, 64)
		for e := range codes {
			codes[e] = []int{0x155, 0x3ff}[e%2]
		}
		require.NoError(t, ch.Wake())
		require.NoError(t, ch.Unlock())
		require.NoError(t, ch.Write(codes))
		read := make([]int, 64)
		require.NoError(t, ch.Read(read))
		for e := range codes {
			wantCode, wantRead := codes[e], codes[e]
			switch {
			case !c.corrupts:
			case e >= 32:
				wantCode, wantRead = 512, 0
			case codes[e] == 0x155:
				wantRead = 0
			default:
				wantRead = c.read3ff
			}
			assert.Equal(t, wantCode, r.coupling.code(e), "%g Hz: chip %d's wiper", c.hz, e)
			assert.Equal(t, wantRead, read[e], "%g Hz: chip %d read back", c.hz, e)
		}
	}
}

// chain-slow, at the board: the driver's check of the chain at open fails
// at 10 MHz; with coupling.chain_hz below f_max (2 MHz) the board works
// exactly as a healthy one clocked the same.
func TestFaultChainSlowBoard(t *testing.T) {
	_, err := openFault(t, Fault{Name: FaultChainSlow, At: 32}, nil)
	require.ErrorIs(t, err, hal.ErrDisconnected)
	slow := func(w *spi.Wiring) { w.Coupling.ChainHz = 2e6 }
	healthy := mustOpenFault(t, Fault{}, slow)
	fixed := mustOpenFault(t, Fault{Name: FaultChainSlow, At: 32}, slow)
	a := eye(8)
	a[1*8+0], a[6*8+7] = 0.5, -0.25 // elements on both sides of chip 32
	bias := []float64{1, 0.5, 0, -0.5, -1, 0.25, 0.75, -0.25}
	assert.Equal(t, steady(t, healthy, a, bias, 5), steady(t, fixed, a, bias, 5))
}

// dac-swap: bias on channel 2 moves cell 3 and leaves cell 2 at 0 V.
func TestFaultDACSwap(t *testing.T) {
	for _, c := range []struct{ f Fault }{{Fault{}}, {Fault{Name: FaultDACSwap, At: 2}}, {Fault{Name: FaultDACSwap, At: 5}}} {
		b := mustOpenFault(t, c.f, nil)
		for _, ch := range []int{2, 5} {
			bias := make([]float64, 8)
			bias[ch] = 2
			want := make([]float64, 8)
			cell := ch
			if c.f.Name != "" && (ch == c.f.At || ch == c.f.At+1) {
				cell = 2*c.f.At + 1 - ch
			}
			want[cell] = 2
			m := means(steady(t, b, eye(8), bias, 10), 8)
			for i := range m {
				assert.InDelta(t, want[i], m[i], dcTol, "%+v: bias 2 V on channel %d, cell %d", c.f, ch, i)
			}
		}
	}
}

// stuck-coupling: element 9 (A[1][1]) keeps midscale, 512·2/1023 ≈ 1: a
// cell programmed with A11 = 0.5 settles at b1/1, not b1/0.5, and the
// wiper reads back 512.
func TestFaultStuckCoupling(t *testing.T) {
	a := eye(8)
	a[1*8+1] = 0.5
	bias := make([]float64, 8)
	bias[1] = 0.5
	for _, c := range []struct {
		f    Fault
		want float64
	}{{Fault{}, 1}, {Fault{Name: FaultStuckCoupling, At: 9}, 0.5 / (512 * 2.0 / 1023)}} {
		m := means(steady(t, mustOpenFault(t, c.f, nil), a, bias, 10), 8)
		assert.InDelta(t, c.want, m[1], dcTol, "%+v", c.f)
	}
	r := faultRig(t, Fault{Name: FaultStuckCoupling, At: 9})
	ch := chainOn(t, r, 10e6)
	require.NoError(t, ch.Unlock())
	codes := make([]int, 64)
	for e := range codes {
		codes[e] = 100 + e
	}
	require.NoError(t, ch.Write(codes))
	read := make([]int, 64)
	require.NoError(t, ch.Read(read))
	for e := range codes {
		want := codes[e]
		if e == 9 {
			want = 512 // AD5293 Rev. D: midscale at power-up
		}
		assert.Equal(t, want, read[e], "element %d", e)
		assert.Equal(t, want, r.coupling.code(e), "element %d", e)
	}
}

// polarity-missing: with the sign register absent and its outputs pulled
// low, A[0][1] = −0.5 acts as +0.5: with b = e1, x0 = −0.5 instead of
// +0.5. Pulled high, every coupling is negative: A = −I is unstable, which
// the simulator refuses (on hardware every node runs to a rail); the
// register's serial output reads the pulled level.
func TestFaultPolarityMissing(t *testing.T) {
	a := eye(8)
	a[0*8+1] = -0.5
	bias := make([]float64, 8)
	bias[1] = 1
	for _, c := range []struct {
		f  Fault
		x0 float64
	}{{Fault{}, 0.5}, {Fault{Name: FaultPolarityMissing, At: 0}, -0.5}} {
		m := means(steady(t, mustOpenFault(t, c.f, nil), a, bias, 10), 8)
		assert.InDelta(t, c.x0, m[0], dcTol, "%+v", c.f)
		assert.InDelta(t, 1, m[1], dcTol, "%+v", c.f)
	}
	_, err := openFault(t, Fault{Name: FaultPolarityMissing, At: 1}, nil)
	require.ErrorIs(t, err, hal.ErrUnstable)
	for level, want := range []byte{0x00, 0xff} {
		r := faultRig(t, Fault{Name: FaultPolarityMissing, At: level})
		p, err := r.OpenSPI(r.w.Polarity.Port)
		require.NoError(t, err)
		c, err := p.Connect(physic.MegaHertz, 0, 8)
		require.NoError(t, err)
		rd := make([]byte, 8)
		require.NoError(t, c.Tx([]byte{1, 2, 3, 4, 5, 6, 7, 8}, rd))
		assert.Equal(t, []byte{want, want, want, want, want, want, want, want}, rd)
		for e := range 64 {
			assert.Equal(t, level == 1, r.polarity.negative(e))
		}
	}
}

// adc-dead-channel: channel 5 reads code 0 whatever its cell does; the
// others are unaffected.
func TestFaultADCDeadChannel(t *testing.T) {
	b := mustOpenFault(t, Fault{Name: FaultADCDeadChannel, At: 5}, nil)
	for _, level := range []float64{1, -1.5} {
		bias := []float64{level, level, level, level, level, level, level, level}
		s := steady(t, b, eye(8), bias, 10)
		for j, v := range s {
			if j%8 == 5 {
				assert.Zero(t, v, "sample %d", j/8)
			}
		}
		for i, m := range means(s, 8) {
			if i != 5 {
				assert.InDelta(t, level, m, dcTol, "cell %d", i)
			}
		}
	}
}

// faultRig is a rig of the default wiring over proto8 with fault f.
func faultRig(t *testing.T, f Fault) *Rig {
	t.Helper()
	p := simProto8(t)
	p.Timing = sim.TimingProfile{}
	p.ADC.MinPeriodS = analogPeriod.Seconds()
	a, err := sim.New(p, faultSeed)
	require.NoError(t, err)
	r, err := New(spi.DefaultWiring(), a)
	require.NoError(t, err)
	require.NoError(t, r.Inject(f))
	t.Cleanup(func() { a.Close() })
	return r
}

// chainOn opens the rig's rheostat chain at hz.
func chainOn(t *testing.T, r *Rig, hz float64) *ad5293.Chain {
	t.Helper()
	p, err := r.OpenSPI(r.w.Coupling.Port)
	require.NoError(t, err)
	require.NoError(t, p.LimitSpeed(physic.Frequency(hz*float64(physic.Hertz))))
	c, err := p.Connect(ad5293.Bus.Hz(), ad5293.Bus.Mode, 8)
	require.NoError(t, err)
	ch, err := ad5293.NewChain(c, len(r.w.Coupling.Elements))
	require.NoError(t, err)
	return ch
}
