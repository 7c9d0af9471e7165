package virtual

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
)

// Wiring faults. A rig can model one fault of a real board's wiring or
// parts, chosen by name (the spi+sim: URI's fault= option) and the part it
// hits (fault_at=), so that bring-up checks can be tested without
// hardware. Each fault is modelled where it happens — on a wire between
// chips or inside one chip — and never by changing what the driver
// returns: the driver sees what it would see on the bench.
// docs/boards.md §8 says, per fault, what a technician sees and what fixes
// it.

// Fault names a wiring fault of the table (Faults) and the part it hits.
// The zero Fault is a healthy board.
type Fault struct {
	// Name is the fault's name, e.g. "dac-swap".
	Name string
	// At selects the part (FaultInfo.Part says what it counts).
	At int
}

// FaultInfo describes one fault the rig models, for one wiring.
type FaultInfo struct {
	// Name is the URI's fault= value.
	Name string
	// Models says what is wrong on the board.
	Models string
	// Part says what fault_at selects.
	Part string
	// Default is fault_at when the URI leaves it out; Min and Max bound it.
	Default, Min, Max int
}

// faultRow is one row of the fault table: span gives fault_at's default
// and range on a wiring (an error when the fault cannot occur on it), and
// apply installs the fault in a rig.
type faultRow struct {
	name, models, part string
	span               func(w spi.Wiring) (def, lo, hi int, err error)
	apply              func(r *Rig, at int) error
}

// Fault names.
const (
	FaultADCMode         = "adc-mode"
	FaultChainSlow       = "chain-slow"
	FaultDACSwap         = "dac-swap"
	FaultStuckCoupling   = "stuck-coupling"
	FaultPolarityMissing = "polarity-missing"
	FaultADCDeadChannel  = "adc-dead-channel"
)

var faultTable = []faultRow{
	{name: FaultADCMode,
		models: "the ADC shifts its output out for a different SPI clock edge than the host samples on: " +
			"in the other mode the host reads each bit on the edge that clocks the next one out, so every code reads shifted left by one bit (×2)",
		part: "the ADC's true SPI mode (default: the accepted mode the driver does not use by default)",
		span: spanADCMode, apply: applyADCMode},
	{name: FaultChainSlow,
		models: "the rheostat daisy-chain link into chip N (SDO of chip N−1 to DIN of chip N) has a 10 kΩ pull-up on 10 pF: " +
			"t_rise = 220 ns, f_max = 2.22 MHz; above it the first ones after a zero arrive as zeros, so frames to chips ≥ N " +
			"and read-back of chips < N are corrupted",
		part: "the chip N whose input link is slow, 1..chain length−1 (default: half the chain)",
		span: spanChainSlow, apply: applyChainSlow},
	{name: FaultDACSwap,
		models: "bias DAC channels N and N+1 wired crosswise: the cell wired to channel N gets channel N+1's output and vice versa",
		part:   "the lower bias DAC channel N of the swapped pair (default 2)",
		span:   spanDACSwap, apply: applyDACSwap},
	{name: FaultStuckCoupling,
		models: "coupling element N's rheostat ignores wiper writes: it keeps its power-on code, midscale (512), " +
			"and reads that code back",
		part: "the coupling element N (default: the element of A[1][1])",
		span: spanStuck, apply: applyStuck},
	{name: FaultPolarityMissing,
		models: "the 74HC595 polarity chain is not fitted: the sign-switch inputs float to a pull resistor's level, " +
			"so every coupling takes one sign, and a read of its serial output reads that level",
		part: "the level the floating outputs settle at: 0 (every coupling positive; default) or 1 (every coupling negative)",
		span: func(spi.Wiring) (int, int, int, error) { return 0, 0, 1, nil }, apply: applyPolarityMissing},
	{name: FaultADCDeadChannel,
		models: "ADC input N is open (a broken trace or solder joint): the AD7606's input resistance pulls it to AGND, " +
			"so the channel reads code 0 whatever its cell does",
		part: "the ADC channel N, 0 = V1 (default 5)",
		span: spanDeadChannel, apply: applyDeadChannel},
}

// Faults lists the faults the rig models on wiring w, with fault_at's
// default and range there; a fault that cannot occur on w (chain-slow
// without a daisy chain) is left out.
func Faults(w spi.Wiring) []FaultInfo {
	var out []FaultInfo
	for _, f := range faultTable {
		def, lo, hi, err := f.span(w)
		if err != nil {
			continue
		}
		out = append(out, FaultInfo{Name: f.name, Models: f.models, Part: f.part, Default: def, Min: lo, Max: hi})
	}
	return out
}

// faultNames lists the table's names for a message.
func faultNames() string {
	names := make([]string, len(faultTable))
	for i, f := range faultTable {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func faultRowNamed(name string) (faultRow, error) {
	i := slices.IndexFunc(faultTable, func(f faultRow) bool { return f.name == name })
	if i < 0 {
		return faultRow{}, fmt.Errorf("virtual rig: unknown fault %q (known: %s): %w", name, faultNames(), hal.ErrInvalid)
	}
	return faultTable[i], nil
}

// ParseFault resolves a URI's fault= and fault_at= values on wiring w: an
// empty at takes the fault's default. An empty name with an empty at is
// the healthy board.
func ParseFault(w spi.Wiring, name, at string) (Fault, error) {
	if name == "" {
		if at != "" {
			return Fault{}, fmt.Errorf("virtual rig: fault_at=%s without fault= (known: %s): %w", at, faultNames(), hal.ErrInvalid)
		}
		return Fault{}, nil
	}
	row, err := faultRowNamed(name)
	if err != nil {
		return Fault{}, err
	}
	def, lo, hi, err := row.span(w)
	if err != nil {
		return Fault{}, err
	}
	f := Fault{Name: name, At: def}
	if at != "" {
		if f.At, err = strconv.Atoi(at); err != nil {
			return Fault{}, fmt.Errorf("virtual rig: fault %s: fault_at=%q, want an integer in %d..%d (%s): %w",
				name, at, lo, hi, row.part, hal.ErrInvalid)
		}
	}
	_, err = resolve(w, f)
	return f, err
}

// resolve finds f's row and checks f.At against its range on w.
func resolve(w spi.Wiring, f Fault) (faultRow, error) {
	row, err := faultRowNamed(f.Name)
	if err != nil {
		return row, err
	}
	_, lo, hi, err := row.span(w)
	if err != nil {
		return row, err
	}
	if f.At < lo || f.At > hi {
		return row, fmt.Errorf("virtual rig: fault %s at %d, want %d..%d (%s): %w", f.Name, f.At, lo, hi, row.part, hal.ErrOutOfRange)
	}
	return row, nil
}

// Inject installs fault f in the rig. Call it before the driver opens the
// board (spi.New), as the fault is there from power-up; the zero Fault
// does nothing.
func (r *Rig) Inject(f Fault) error {
	if f.Name == "" {
		return nil
	}
	row, err := resolve(r.w, f)
	if err != nil {
		return err
	}
	return row.apply(r, f.At)
}

// adc-mode: the ADC's true mode differs from the one the host reads in.

func spanADCMode(w spi.Wiring) (int, int, int, error) {
	t, err := lookup(adcTwins, "ADC", w.ADC.Chip)
	if err != nil {
		return 0, 0, 0, err
	}
	if len(t.bus.Modes) < 2 {
		return 0, 0, 0, fmt.Errorf("virtual rig: fault %s: the %s accepts one SPI mode only: %w", FaultADCMode, w.ADC.Chip, hal.ErrUnsupported)
	}
	def := t.bus.Modes[0]
	for _, m := range t.bus.Modes {
		if m != t.bus.Mode {
			def = m
			break
		}
	}
	return int(def), int(slices.Min(t.bus.Modes)), int(slices.Max(t.bus.Modes)), nil
}

func applyADCMode(r *Rig, mode int) error {
	t, _ := lookup(adcTwins, "ADC", r.w.ADC.Chip)
	if !slices.Contains(t.bus.Modes, pspi.Mode(mode)) {
		return fmt.Errorf("virtual rig: fault %s: mode %d, the %s accepts %v: %w", FaultADCMode, mode, r.w.ADC.Chip, t.bus.Modes, hal.ErrOutOfRange)
	}
	p := r.ports[r.w.ADC.Port]
	p.miso = func(rd []byte) {
		if p.mode&3 != pspi.Mode(mode) {
			nextBit(rd)
		}
	}
	return nil
}

// nextBit is what a host sampling on the wrong clock edge reads: the
// AD7606 (Rev. C, serial interface) clocks each bit after the MSB out on
// SCLK's rising edge and the related AD7607/AD7609 give data valid on the
// falling edge, so a host sampling on the shifting edge, later than the
// SCLK-to-DOUT delay, reads bit i+1 of the stream as bit i. The bit after
// the last one reads 0.
func nextBit(rd []byte) {
	for i := range rd {
		rd[i] <<= 1
		if i+1 < len(rd) {
			rd[i] |= rd[i+1] >> 7
		}
	}
}

// chain-slow: one open-drain link of the AD5293 daisy chain is too slow.

// The slow link: a 10 kΩ pull-up (fitted instead of 1 kΩ) on 10 pF of SDO,
// trace and DIN capacitance, and the next chip's data set-up time (5 ns,
// the t5 of ADI's SPI digital potentiometers' timing tables, e.g.
// AD5122/AD5142 Rev. C Table 4; not re-read for the AD5293). With
// docs/boards.md §7: t_rise = 2.2·R·C = 220 ns, f_max = 1/(2·(t_rise +
// t_su)) = 2.22 MHz.
const (
	slowPullupOhm = 10e3
	slowLinkF     = 10e-12
	chainSetupS   = 5e-9
)

func spanChainSlow(w spi.Wiring) (int, int, int, error) {
	n := len(w.Coupling.Elements)
	if w.Coupling.Chip != spi.ChipAD5293 || n < 2 {
		return 0, 0, 0, fmt.Errorf("virtual rig: fault %s needs an ad5293 daisy chain of 2 or more chips (coupling chip %q, %d elements): %w",
			FaultChainSlow, w.Coupling.Chip, n, hal.ErrUnsupported)
	}
	return n / 2, 1, n - 1, nil
}

func applyChainSlow(r *Rig, k int) error {
	c := r.coupling.(*vAD5293Chain)
	c.slow = &slowLink{at: k, port: r.ports[r.w.Coupling.Port], need: 2.2*slowPullupOhm*slowLinkF + chainSetupS}
	return nil
}

// slowLink is an open-drain SDO→DIN link whose pull-up is too weak for
// the clock. The FET pulls the line low at once; released, the line
// rises through R·C. The receiving chip samples half a clock period after
// the sender changes its output (SDO changes on SCLK's rising edge, DIN
// is read on the falling edge), so a one is read as a one only when the
// line has been rising for need = t_rise + t_su by then. The first bit
// has the idle time before the transaction to settle.
type slowLink struct {
	at   int     // the chip whose input this link is
	port *port   // its clock
	need float64 // t_rise + t_su in seconds
}

// pass corrupts the 16-bit frames s (first frame first, MSB first) as
// the receiving chip reads them.
func (l *slowLink) pass(s []uint16) {
	half := 0.5 / l.port.hz
	period := 2 * half
	rise := -1 // index of the bit where the line began rising; -1: low
	for i := range 16 * len(s) {
		f, b := &s[i/16], uint16(1)<<(15-i%16)
		switch {
		case *f&b == 0:
			rise = -1
		case i == 0:
			rise = -1 << 30 // settled before the transaction
		case rise < 0:
			rise = i
			fallthrough
		default:
			if float64(i-rise)*period+half < l.need {
				*f &^= b
			}
		}
	}
}

// dac-swap: two bias DAC outputs wired crosswise.

func spanDACSwap(w spi.Wiring) (int, int, int, error) {
	hi := maxChannel(w.Bias.Channels)
	if hi < 1 {
		return 0, 0, 0, fmt.Errorf("virtual rig: fault %s needs two bias DAC channels: %w", FaultDACSwap, hal.ErrUnsupported)
	}
	return min(2, hi-1), 0, hi - 1, nil
}

func applyDACSwap(r *Rig, n int) error {
	wire := make([]int, maxChannel(r.w.Bias.Channels)+1)
	for ch := range wire {
		wire[ch] = ch
	}
	wire[n], wire[n+1] = n+1, n
	r.biasWire = wire
	return nil
}

func maxChannel(chs []int) int {
	if len(chs) == 0 {
		return -1
	}
	return slices.Max(chs)
}

// stuck-coupling: one rheostat ignores wiper writes.

func spanStuck(w spi.Wiring) (int, int, int, error) {
	n := len(w.Coupling.Elements)
	if w.Coupling.Chip != spi.ChipAD5293 {
		return 0, 0, 0, fmt.Errorf("virtual rig: fault %s is modelled for ad5293 rheostats, not %q: %w", FaultStuckCoupling, w.Coupling.Chip, hal.ErrUnsupported)
	}
	d := min(1, w.Cells-1)
	def := slices.Index(w.Coupling.Elements, [2]int{d, d})
	return max(def, 0), 0, n - 1, nil
}

func applyStuck(r *Rig, e int) error {
	r.coupling.(*vAD5293Chain).chips[e].stuck = true
	return nil
}

// polarity-missing: the 74HC595 chain is not fitted.

func applyPolarityMissing(r *Rig, level int) error {
	h, ok := r.polarity.(*vHC595)
	if !ok {
		return fmt.Errorf("virtual rig: fault %s is modelled for the hc595 chain, not %q: %w", FaultPolarityMissing, r.w.Polarity.Chip, hal.ErrUnsupported)
	}
	h.absent, h.float = true, 0
	if level == 1 {
		h.float = 0xff
	}
	return nil
}

// adc-dead-channel: one ADC input is open.

func spanDeadChannel(w spi.Wiring) (int, int, int, error) {
	hi := maxChannel(w.ADC.Channels)
	return min(5, hi), 0, hi, nil
}

func applyDeadChannel(r *Rig, ch int) error {
	if !slices.Contains(r.w.ADC.Channels, ch) {
		return fmt.Errorf("virtual rig: fault %s: ADC channel %d reads no cell (wired: %v): %w",
			FaultADCDeadChannel, ch, r.w.ADC.Channels, hal.ErrOutOfRange)
	}
	r.deadADC = ch
	return nil
}
