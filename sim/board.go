package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim/internal/phys"
)

// Board is a simulated SPU implementing hal.Board and hal.Clock. Its node
// voltages follow the OU process of the hal package doc, advanced with the
// exact transition (not an Euler step) over every interval, with the
// non-idealities its Profile switches on. It is deterministic for a seed.
type Board struct {
	prof Profile
	info hal.Info
	k    int
	seed uint64
	tr   truth

	noise *rand.Rand // circuit noise
	adcR  *rand.Rand // ADC read noise
	tempR *rand.Rand // temperature walk

	closed   bool
	diverged error         // latched: the realised drift ran away
	now      time.Duration // board clock

	x        []float64 // node voltages, then the ADC filter's states (rails.go)
	aNom     []float64 // programmed (quantised) couplings, K²
	biasCode []float64 // programmed DAC codes (or volts when continuous), K
	bReal    []float64 // realised bias, volts

	tempC      float64       // board temperature
	tempAt     time.Duration // when tempC was last advanced
	nextUpdate time.Duration // next temperature/ageing update (drift only)

	m *mat.Dense // drift Γ A_real
	q *mat.Dense // diffusion 2σ²Γ
	g []float64  // Γ b_real

	// The piecewise-linear dynamics (rails.go): the mode with no node at
	// a rail, the others by rail pattern, and the present pattern.
	full    *mode
	modes   map[string]*mode
	pattern []byte // per node: '+'/'-' held at ±rail_v, 0 free
	nHeld   int

	railHits []int // rail hits per cell since its last reading
	tmp, z   []float64

	adcLSB, adcTop float64 // the ADC's LSB and top code, read per reading
}

// step is the cached exact transition over one duration.
type step struct {
	phi, psi []float64 // n², row-major (n: the mode's free states)
	l        []float64 // noise factor, nil without noise
	lower    bool      // l is lower-triangular
	c        []float64 // Ψ g, recomputed when the bias changes
	cValid   bool
	sd       []float64 // the free nodes' noise spread s_j of safe (rails.go)
	nx       int       // free node voltages; the filter states follow
}

var (
	_ hal.Board = (*Board)(nil)
	_ hal.Clock = (*Board)(nil)
)

// New builds a board from a profile. The seed plays the part of the board's
// serial number: it fixes the drawn part tolerances and every noise stream.
func New(p Profile, seed uint64) (*Board, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	topo, _ := hal.ParseTopology(p.Topology)
	k := p.Cells
	b := &Board{
		prof:     p,
		k:        k,
		seed:     seed,
		tr:       drawTruth(p, seed),
		noise:    rand.New(rand.NewPCG(seed, streamNoise)),
		adcR:     rand.New(rand.NewPCG(seed, streamADC)),
		tempR:    rand.New(rand.NewPCG(seed, streamTemp)),
		x:        make([]float64, augmented(p)),
		aNom:     make([]float64, k*k),
		biasCode: make([]float64, k),
		bReal:    make([]float64, k),
		g:        make([]float64, k),
		modes:    map[string]*mode{},
		pattern:  make([]byte, k),
		railHits: make([]int, k),
		tmp:      make([]float64, augmented(p)),
		z:        make([]float64, augmented(p)),
	}
	var step float64
	if p.Coupling.Bits > 0 {
		step = p.Coupling.Max / (math.Exp2(float64(p.Coupling.Bits)) - 1)
	}
	caps := hal.CapSimulated
	if p.NoiseV > 0 {
		caps |= hal.CapNoise
	}
	b.info = hal.Info{
		Model:           "sim/" + p.Name,
		Serial:          serial(p, seed),
		Firmware:        "profile " + p.Name + " v" + p.Version,
		Cells:           k,
		Topology:        topo,
		Coupling:        hal.Range{Min: -p.Coupling.Max, Max: p.Coupling.Max},
		CouplingStep:    step,
		Bias:            hal.Converter{Range: hal.Range{Min: p.Bias.MinV, Max: p.Bias.MaxV}, Bits: p.Bias.Bits},
		ADC:             hal.Converter{Range: hal.Range{Min: p.ADC.MinV, Max: p.ADC.MaxV}, Bits: p.ADC.Bits},
		Tau:             phys.Seconds(p.TauS),
		Noise:           p.NoiseV,
		MinSamplePeriod: phys.Seconds(p.ADC.MinPeriodS),
		Caps:            caps,
	}
	if err := b.info.Validate(); err != nil {
		return nil, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	b.adcLSB, b.adcTop = b.info.ADC.LSB(), math.Exp2(float64(p.ADC.Bits))-1
	b.tempC = p.Thermal.AmbientC + p.Thermal.StdC*b.tempR.NormFloat64()
	if p.drifts() {
		b.nextUpdate = phys.Seconds(p.Thermal.UpdateS)
	}
	// Power-up: identity couplings, zero bias, zero state.
	for i := range k {
		b.aNom[i*k+i] = b.quantiseCoupling(1)
		b.biasCode[i] = b.dacCode(0)
	}
	b.realiseCouplings()
	b.realiseBias()
	return b, nil
}

// serial is a twin's unit serial, or SIM-NAME-SEED.
func serial(p Profile, seed uint64) string {
	if p.Twin != nil && p.Twin.Serial != "" {
		return p.Twin.Serial
	}
	return fmt.Sprintf("SIM-%s-%d", strings.ToUpper(p.Name), seed)
}

// String describes the board, e.g. "sim:proto8 (8 cells, seed 3)".
func (b *Board) String() string {
	return fmt.Sprintf("sim:%s (%d cells, seed %d)", b.prof.Name, b.k, b.seed)
}

// Info implements hal.Board.
func (b *Board) Info() hal.Info { return b.info }

// Profile returns the profile the board was built from.
func (b *Board) Profile() Profile { return b.prof }

// BoardTime implements hal.Clock: a simulator always keeps board time.
func (b *Board) BoardTime() (time.Duration, bool) { return b.now, true }

// Temperature returns the board temperature in °C, as a thermometer on the
// board would read it.
func (b *Board) Temperature() float64 { return b.tempC }

// Close implements hal.Board.
func (b *Board) Close() error {
	b.closed = true
	return nil
}

func (b *Board) check(ctx context.Context, op string) error {
	return hal.CheckUsable(ctx, op, b.closed)
}

func (b *Board) quantiseCoupling(a float64) float64 {
	if b.info.CouplingStep == 0 {
		return a
	}
	return math.Round(a/b.info.CouplingStep) * b.info.CouplingStep
}

// dacCode returns the DAC code for v (clamped to the code range: the caller
// has range-checked v, so at most the top half LSB is affected), or v itself
// for a continuous DAC.
func (b *Board) dacCode(v float64) float64 {
	c := b.prof.Bias
	if c.Bits == 0 {
		return v
	}
	lsb := b.info.Bias.LSB()
	return math.Min(math.Max(math.Round((v-c.MinV)/lsb), 0), math.Exp2(float64(c.Bits))-1)
}

// SetCouplings implements hal.Board. Entries are quantised to the coupling
// step; the board keeps evolving on the old couplings while the changed
// elements are written.
func (b *Board) SetCouplings(ctx context.Context, a []float64) error {
	if err := b.check(ctx, "set couplings"); err != nil {
		return err
	}
	if err := hal.CheckCouplings(b.info, a); err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	q := make([]float64, len(a))
	changed := 0
	for e, v := range a {
		q[e] = b.quantiseCoupling(v)
		if q[e] != b.aNom[e] {
			changed++
		}
	}
	if b.info.CouplingStep > 0 {
		if err := hal.Stable(q, b.k); err != nil {
			return fmt.Errorf("set couplings: too ill-conditioned to program with %d-bit couplings (condition number %.3g), or with entries too small for them: after quantisation to the step %.3g/τ, %w",
				b.prof.Coupling.Bits, mat.Cond(mat.NewDense(b.k, b.k, append([]float64(nil), a...)), 2), b.info.CouplingStep, err)
		}
	}
	if changed == 0 {
		return nil
	}
	if err := b.busy(ctx, time.Duration(changed)*phys.Seconds(b.prof.Timing.CouplingWriteS)+phys.Seconds(b.prof.Timing.CouplingSettleS)); err != nil {
		return fmt.Errorf("set couplings: %w", err)
	}
	copy(b.aNom, q)
	b.diverged = nil
	b.realiseCouplings()
	return nil
}

// SetBias implements hal.Board.
func (b *Board) SetBias(ctx context.Context, v []float64) error {
	if err := b.check(ctx, "set bias"); err != nil {
		return err
	}
	if err := hal.CheckVector("bias", v, b.k, b.info.Bias.Range); err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	codes := make([]float64, b.k)
	changed := 0
	for i, x := range v {
		codes[i] = b.dacCode(x)
		if codes[i] != b.biasCode[i] {
			changed++
		}
	}
	if changed == 0 {
		return nil
	}
	if err := b.busy(ctx, time.Duration(changed)*phys.Seconds(b.prof.Timing.BiasWriteS)+phys.Seconds(b.prof.Timing.BiasSettleS)); err != nil {
		return fmt.Errorf("set bias: %w", err)
	}
	copy(b.biasCode, codes)
	b.realiseBias()
	return nil
}

// SetState implements hal.Board. The state is forced exactly; forcing
// takes the profile's state_set_s of board time.
func (b *Board) SetState(ctx context.Context, x []float64) error {
	if err := b.check(ctx, "set state"); err != nil {
		return err
	}
	if err := hal.CheckVector("state", x, b.k, b.info.ADC.Range); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	b.now += phys.Seconds(b.prof.Timing.StateSetS)
	b.diverged = nil
	copy(b.x, x)
	if len(b.x) > b.k {
		// The forcing lasts state_set_s (50 µs on proto8), long enough for
		// the ADC filter to settle on the forced voltages.
		copy(b.x[b.k:], x)
		clear(b.x[2*b.k:])
	}
	clear(b.pattern)
	b.nHeld = 0
	clear(b.railHits)
	return nil
}

// Run implements hal.Board. Long runs are split at temperature updates and
// at least every 10⁴ τ so that cancellation is honoured.
func (b *Board) Run(ctx context.Context, d time.Duration) error {
	if err := b.check(ctx, "run"); err != nil {
		return err
	}
	if err := hal.CheckDuration(d); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	chunk := max(phys.Seconds(1e4*b.prof.TauS), time.Microsecond)
	for d > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		h := min(d, chunk)
		if err := b.evolve(ctx, h); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		d -= h
	}
	return nil
}

// Sample implements hal.Board.
func (b *Board) Sample(ctx context.Context, period time.Duration, dst []float64) (int, error) {
	return b.SampleStream(ctx, period, dst, nil)
}

// SampleStream implements hal.Streamer: Sample, telling progress every 64
// samples.
func (b *Board) SampleStream(ctx context.Context, period time.Duration, dst []float64, progress func(int)) (int, error) {
	period, rows, err := hal.SampleStart(ctx, b.info, b.closed, period, dst)
	if err != nil {
		return 0, err
	}
	k := b.k
	// Rail hits during earlier runs were transients of settling; a node
	// still at its rail hits it again in the first period.
	clear(b.railHits)
	var sat []int
	skew := time.Duration(0)
	if b.prof.ADC.Multiplexed {
		skew = phys.Seconds(b.prof.ADC.ChannelSkewS)
	}
	lead := period - time.Duration(k-1)*skew
	for n := range rows {
		if n&63 == 0 {
			if n > 0 && progress != nil {
				progress(n)
			}
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("sample %d of %d: %w", n, rows, err)
			}
		}
		if err := b.evolve(ctx, lead); err != nil {
			return n, fmt.Errorf("sample %d of %d: %w", n, rows, err)
		}
		row := dst[n*k : n*k+k]
		for i := range k {
			if i > 0 && skew > 0 {
				if err := b.evolve(ctx, skew); err != nil {
					return n, fmt.Errorf("sample %d of %d: %w", n, rows, err)
				}
			}
			v, s := b.read(i)
			row[i] = v
			if s {
				if sat == nil {
					sat = make([]int, k)
				}
				sat[i]++
			}
		}
	}
	if sat != nil {
		return rows, fmt.Errorf("sample: %w", &hal.SaturationError{Counts: sat, Samples: rows})
	}
	return rows, nil
}

// busy advances the board for d while the host is programming it: the
// analog state keeps evolving on the old settings.
func (b *Board) busy(ctx context.Context, d time.Duration) error {
	if d > 0 {
		return b.evolve(ctx, d)
	}
	return nil
}

// evolve advances the state exactly over d, applying drift updates that
// fall due at its start. ctx stops a long computation of a new transition.
// With rails, a step in which safe (rails.go) cannot exclude a rail event
// goes through the event-detecting slow path.
func (b *Board) evolve(ctx context.Context, d time.Duration) error {
	if b.diverged != nil {
		return b.diverged
	}
	if b.nextUpdate > 0 && b.now >= b.nextUpdate {
		b.updateDrift()
	}
	rail := b.prof.RailV
	if b.nHeld > 0 {
		return b.advance(ctx, d, b.evolveRails)
	}
	md := b.current()
	s, err := b.modeTransition(ctx, md, d)
	if err != nil {
		return err
	}
	if rail > 0 && !b.safe(md, s, d) {
		return b.advance(ctx, d, b.evolveRails)
	}
	if err := b.applyFull(s); err != nil {
		return err
	}
	if rail > 0 {
		// safe excluded this up to ~10⁻²³ per node: hold such a node.
		b.railEvents()
	}
	b.now += d
	return nil
}

// advance runs f over d and moves the clock.
func (b *Board) advance(ctx context.Context, d time.Duration, f func(context.Context, time.Duration) error) error {
	if err := f(ctx, d); err != nil {
		return err
	}
	b.now += d
	return nil
}

// modeTransition returns the mode's cached exact transition over d,
// computing it (and its constant term) on demand; a cancelled ctx stops
// the computation.
func (b *Board) modeTransition(ctx context.Context, md *mode, d time.Duration) (*step, error) {
	if md.last != nil && md.lastD == d && md.last.cValid {
		return md.last, nil
	}
	b.input(md)
	s := md.cache[d]
	if s == nil {
		if len(md.cache) >= 48 { // d, δ·2^j and d mod δ per mode (rails.go)
			clear(md.cache)
			md.last = nil
		}
		var err error
		if s, err = b.newStep(ctx, md, d); err != nil {
			return nil, err
		}
		md.cache[d] = s
	}
	if !s.cValid {
		n := md.n
		for i := range n {
			acc := 0.0
			for j, p := range s.psi[i*n : i*n+n] {
				acc += p * md.g[j]
			}
			s.c[i] = acc
		}
		s.cValid = true
	}
	md.last, md.lastD = s, d
	return s, nil
}

// newStep discretises the mode over d.
func (b *Board) newStep(ctx context.Context, md *mode, d time.Duration) (*step, error) {
	n := md.n
	if n == 0 {
		return &step{cValid: true}, nil
	}
	t, err := discretize(ctx, md.m, md.q, d.Seconds())
	if err != nil {
		return nil, err
	}
	l, err := noiseFactor(t.qd)
	if err != nil || !finite(t.phi.RawMatrix().Data) || !finite(t.psi.RawMatrix().Data) {
		// Qd is a sum of PSD terms and Φ, Ψ are bounded for a stable
		// drift: only realised couplings that diverge (part tolerances
		// or drift pushing an eigenvalue across zero) get here.
		return nil, fmt.Errorf("realised couplings diverge over %v (tolerances or drift made the drift matrix unstable): %w", d, hal.ErrUnstable)
	}
	s := &step{
		phi:   append([]float64(nil), t.phi.RawMatrix().Data...),
		psi:   append([]float64(nil), t.psi.RawMatrix().Data...),
		l:     l,
		lower: isLower(l, n),
		c:     make([]float64, n),
		sd:    make([]float64, md.nx),
		nx:    md.nx,
	}
	tauMin := math.Inf(1)
	for _, v := range b.tr.tau {
		tauMin = min(tauMin, v)
	}
	for a := range md.nx {
		s.sd[a] = math.Sqrt(max(t.qd.At(a, a), md.q.At(a, a)*min(d.Seconds(), tauMin)))
	}
	return s, nil
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// realiseCouplings recomputes the drift matrix from the programmed codes,
// the drawn tolerances, temperature and age, and drops cached transitions.
func (b *Board) realiseCouplings() {
	k := b.k
	if b.m == nil {
		b.m = mat.NewDense(k, k, nil)
		b.q = mat.NewDense(k, k, nil)
	}
	dT := b.tempC - b.prof.Thermal.AmbientC
	age := b.ageHours()
	for i := range k {
		gi := 1 / b.tr.tau[i]
		for j := range k {
			e := i*k + j
			a := b.element(e) * b.tr.coupGain[e] * (1 + b.tr.coupTempco[e]*dT + b.tr.coupAge[e]*age)
			if b.tr.coupOffset != nil {
				a += b.tr.coupOffset[e]
			}
			b.m.Set(i, j, gi*a)
		}
		b.q.Set(i, i, b.tr.diffusion[i])
	}
	b.dropModes()
}

// element is element e's programmed value as its circuit realises it,
// before tolerance and drift: the rheostat's wiper resistance adds to its
// code's resistance, so the magnitude gains coupWiper[e] with the
// polarity switch's sign (positive for code 0, as driver/spi sets it).
func (b *Board) element(e int) float64 {
	a, w := b.aNom[e], b.tr.coupWiper[e]
	if w == 0 {
		return a
	}
	if a < 0 {
		return a - w
	}
	return a + w
}

// ageHours is the ageing clock t0·ln(1 + t/t0) in hours at board time t: an
// element with initial drift rate r has drifted by r·ageHours. It grows as
// t at first and decelerates after the knee t0 (resistor ageing is
// logarithmic in time; linear ageing would run away). 0 without ageing.
func (b *Board) ageHours() float64 {
	t0 := b.prof.Coupling.AgeingKneeH
	if t0 == 0 {
		return 0
	}
	return t0 * math.Log1p(b.now.Hours()/t0)
}

// realiseBias recomputes the realised bias from the DAC codes and the
// channels' gain, offset, INL and their drift with temperature. The gain
// pivots about zero-scale: the DAC scales its own output, which is 0 V at
// code 0, and the level shift maps that to MinV.
func (b *Board) realiseBias() {
	p := b.prof.Bias
	lsb := b.info.Bias.LSB()
	n := math.Exp2(float64(p.Bits))
	dT := b.tempC - b.prof.Thermal.AmbientC
	for i, c := range b.biasCode {
		v := c
		if p.Bits > 0 {
			v = p.MinV + c*lsb + b.tr.inlLSB(i, c, n)*lsb
		}
		if b.tr.inlTable != nil {
			v += b.tr.inlTable.at(i, v)
		}
		gainErr := b.tr.biasGain[i] - 1 + b.tr.biasGainTC[i]*dT
		b.bReal[i] = v + (v-p.MinV)*gainErr + b.tr.biasOffset[i] + b.tr.biasOffTC[i]*dT
		b.g[i] = b.bReal[i] / b.tr.tau[i]
	}
	b.biasChanged()
}

// updateDrift advances the temperature walk to now and re-realises the
// couplings with the new temperature and age.
func (b *Board) updateDrift() {
	th := b.prof.Thermal
	if th.StdC > 0 {
		dt := (b.now - b.tempAt).Seconds()
		rho := math.Exp(-dt / th.CorrTimeS)
		b.tempC = th.AmbientC + (b.tempC-th.AmbientC)*rho + th.StdC*math.Sqrt(1-rho*rho)*b.tempR.NormFloat64()
	}
	b.tempAt = b.now
	up := phys.Seconds(th.UpdateS)
	for b.nextUpdate <= b.now {
		b.nextUpdate += up
	}
	b.realiseCouplings()
	b.realiseBias()
}
