package sim

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// Rails and the ADC's anti-aliasing filter make the board a piecewise-linear
// system on an augmented state s = [x; v; u]: the K node voltages x and, when
// adc.filter_hz > 0, two states per channel of the ADC's second-order
// low-pass (v its output, u = v̇/ω its scaled derivative), so that every
// piece is an OU process advanced with the exact transition of ou.go:
//
//	dx = −(M x − g) dt + dW,   Cov(dW) = Q dt   (M = ΓA, g = Γb, Q = 2σ²Γ)
//	dv = ω u dt
//	du = (ω x − ω v − (ω/q) u) dt                ω = 2π·filter_hz, q = 1/√2
//
// i.e. v̈ + (ω/q)v̇ + ω²v = ω²x, a Butterworth low-pass with its −3 dB point
// at filter_hz (the AD7606 has a second-order filter per channel, Rev. C
// p. 1; its corner per range — 15 kHz at ±5 V, 23 kHz at ±10 V, p. 22 — is
// not confirmed from the data sheet's text, see docs/profiles.md; the
// AD7609, Rev. A, p. 22, has the same filter at 23/32 kHz). The ADC reads v; the node noise passes through
// the filter inside the exact transition (Van Loan on the augmented drift).
//
// Rails (rail_v > 0) are op-amp outputs at their supply: a node that
// reaches ±rail_v is held there — it is a constant input to the other nodes
// and to its filter, and its own noise is absorbed by the saturated op-amp —
// while its conditional drift f_i = g_i − Σ_j M_ij x_j points outward; it is
// released when f_i points back inside. While a set S of nodes is held, the
// free states follow the reduced OU process (drift M_FF, input
// g_F − M_FS r_S, diffusion Q_FF), a "mode" below, again advanced exactly.
// With noise this is the sticky boundary of the stated model: a node whose
// drift at the rail points inward is reflected, one whose drift points
// outward stays.
//
// Event detection. A step of length h is taken in one piece when safe says
// no rail event can happen in it (held nodes stay, free nodes stay inside);
// otherwise the board advances in sub-steps of δ = 1/(64‖M‖∞) (1/64 of the
// fastest time scale of the couplings), holding a node found beyond its rail
// at the end of a sub-step and releasing held nodes at the start of each.
// Error of the slow path, per event: the crossing time is known to δ, the
// node overshoots its rail by at most |ẋ_i|δ for at most δ, so its
// neighbours see an extra drive of ≤ ‖M‖∞|ẋ_i|δ² — a relative error of
// ≤ 1/64² ≈ 2.4·10⁻⁴ of the node's own swing per event, and a release
// comes at most δ late. Between events the reduced system is exact, so a
// node held for long (a saturated board) costs no error at all, whatever the
// sample period: the neighbours see exactly the rail voltage.
//
// safe bounds the whole step. The mean path of the free nodes obeys
// m(t) − x∞ = e^{−M_FF t}(x_F − x∞), and ‖e^{−M_FF t}‖∞ ≤ e^{νt} with ν the
// ∞-log-norm max_i(−M_ii + Σ_{j≠i}|M_ij|) (over the free nodes), so
// |m_j(t)| ≤ |x∞_j| + κ·‖x_F − x∞‖∞ with κ = e^{max(ν,0)h}, or, for long
// steps on a drift that is not diagonally dominant, κ = the Lyapunov bound
// of lyapunovKappa, valid for all t. The noise adds a
// zero-mean Gaussian deviation w_j(t) with Var ≤ s_j² = max(Qd_jj(h),
// Q_jj·min(h, τ_min)); a margin of railMargin = 20 s_j bounds it: split
// [0, h] into blocks of τ_min; on each, |w_j| > 20 s_j needs |w_j| > 10 s_j at
// the block start or a martingale increment beyond 10 s_j inside it
// (reflection principle), so P ≤ (1 + h/τ_min)·4·Φc(10) ≈ (1 + h/τ_min)·3·10⁻²³
// per node and step. A held node stays held if its drift at x∞, minus what
// the free nodes' deviations can take away (Σ_F |M_ij|(κ·dev + 20 s_j)),
// still points outward. The check is made before the noise is drawn (it
// depends on the state only), so choosing the fast path biases nothing, and
// it costs O(K) per step: the fast path does no extra work otherwise.
const (
	railMargin = 20
	subPerRate = 64
	// maxSubSteps caps the slow path's sub-steps in one evolve (64 per
	// fastest time scale: 64 of them); beyond it (a node chattering at its
	// rail, or a bound too loose to allow long steps) the sub-step doubles
	// each time, trading event-time resolution for termination.
	maxSubSteps = 1 << 12
	butterQ     = math.Sqrt2 / 2
)

// mode is the linear system of the free states while the nodes in held
// sit at their rails.
type mode struct {
	free  []int     // augmented indices that evolve (node voltages first); nil = all
	nx    int       // free node voltages: free[:nx]
	held  []int     // nodes at a rail
	railV []float64 // their voltages, ±rail_v
	n     int       // len(free), or the augmented size when free is nil
	m, q  *mat.Dense
	g     []float64 // input on the free states, valid while gOK
	gOK   bool

	// safe's data on the free node voltages.
	lu   mat.LU
	luOK bool
	xinf []float64 // their equilibrium with the held nodes at their rails
	nu   float64   // ∞-log-norm of −M_FF
	kapP float64   // Lyapunov bound on sup_t ‖e^{−M_FF t}‖∞; 0 = not computed yet
	push []float64 // per held node: drift at x∞, signed outward (V/s)

	cache map[time.Duration]*step
	lastD time.Duration
	last  *step
	xs    []float64 // gathered free states (scratch)
}

// filterOmega is ω = 2π·filter_hz, or 0 without the filter.
func (b *Board) filterOmega() float64 { return 2 * math.Pi * b.prof.ADC.FilterHz }

// augmented is the size of the state: K node voltages, plus 2K filter
// states when the ADC filter is on.
func augmented(p Profile) int {
	if p.ADC.FilterHz > 0 {
		return 3 * p.Cells
	}
	return p.Cells
}

// augM is entry (i, j) of the augmented drift (dz = −(M z − g) dt).
func (b *Board) augM(i, j int) float64 {
	k := b.k
	if i < k {
		if j < k {
			return b.m.At(i, j)
		}
		return 0
	}
	w := b.filterOmega()
	if i < 2*k { // v_c: dv = ω u dt
		if j == i+k {
			return -w
		}
		return 0
	}
	c := i - 2*k // u_c: du = (ω x − ω v − (ω/q) u) dt
	switch j {
	case c:
		return -w
	case k + c:
		return w
	case i:
		return w / butterQ
	}
	return 0
}

// railSign is +1 for a node held at +rail_v ('+'), −1 at −rail_v ('-').
func railSign(p byte) float64 {
	if p == '-' {
		return -1
	}
	return 1
}

// dropModes forgets every mode (the couplings or τ changed).
func (b *Board) dropModes() {
	b.full = nil
	clear(b.modes)
}

// biasChanged marks every mode's input stale (the bias changed).
func (b *Board) biasChanged() {
	for _, md := range b.allModes() {
		md.gOK = false
		for _, s := range md.cache {
			s.cValid = false
		}
	}
}

func (b *Board) allModes() []*mode {
	out := make([]*mode, 0, len(b.modes)+1)
	if b.full != nil {
		out = append(out, b.full)
	}
	for _, md := range b.modes {
		out = append(out, md)
	}
	return out
}

// current returns the mode of the present rail pattern.
func (b *Board) current() *mode {
	if b.nHeld == 0 {
		if b.full == nil {
			b.full = b.newMode(nil)
		}
		return b.full
	}
	md := b.modes[string(b.pattern)]
	if md == nil {
		if len(b.modes) >= 64 {
			clear(b.modes)
		}
		md = b.newMode(b.pattern)
		b.modes[string(b.pattern)] = md
	}
	return md
}

// newMode builds the reduced system for a rail pattern (nil: none held).
func (b *Board) newMode(pattern []byte) *mode {
	n := augmented(b.prof)
	md := &mode{cache: map[time.Duration]*step{}}
	if pattern == nil {
		md.n, md.nx = n, b.k
		if n == b.k { // no filter: the realised system itself
			md.m, md.q = mat.DenseCopyOf(b.m), mat.DenseCopyOf(b.q)
		}
	} else {
		for i, p := range pattern {
			if p == 0 {
				md.free = append(md.free, i)
			} else {
				md.held = append(md.held, i)
				md.railV = append(md.railV, railSign(p)*b.prof.RailV)
			}
		}
		md.nx = len(md.free)
		for i := b.k; i < n; i++ {
			md.free = append(md.free, i)
		}
		md.n = len(md.free)
	}
	if md.m == nil && md.n > 0 {
		md.m, md.q = mat.NewDense(md.n, md.n, nil), mat.NewDense(md.n, md.n, nil)
		for a := range md.n {
			i := md.at(a)
			for c := range md.n {
				md.m.Set(a, c, b.augM(i, md.at(c)))
				if i < b.k && md.at(c) < b.k {
					md.q.Set(a, c, b.q.At(i, md.at(c)))
				}
			}
		}
	}
	md.xs = make([]float64, md.n)
	md.g = make([]float64, md.n)
	md.xinf = make([]float64, md.nx)
	md.push = make([]float64, len(md.held))
	md.nu = math.Inf(-1)
	for a := range md.nx {
		r := -md.m.At(a, a)
		for c := range md.nx {
			if c != a {
				r += math.Abs(md.m.At(a, c))
			}
		}
		md.nu = max(md.nu, r)
	}
	if md.nx > 0 {
		md.lu.Factorize(md.m.Slice(0, md.nx, 0, md.nx))
		md.luOK = md.lu.Cond() < 1e12
	}
	return md
}

// at maps a mode index to its augmented index.
func (md *mode) at(a int) int {
	if md.free == nil {
		return a
	}
	return md.free[a]
}

// input refreshes the mode's input and the equilibrium safe uses after a
// bias change.
func (b *Board) input(md *mode) {
	if md.gOK {
		return
	}
	for a := range md.n {
		i := md.at(a)
		v := 0.0
		if i < b.k {
			v = b.g[i]
		}
		for h, j := range md.held {
			v -= b.augM(i, j) * md.railV[h]
		}
		md.g[a] = v
	}
	if md.luOK {
		dst := mat.NewVecDense(md.nx, md.xinf)
		if err := md.lu.SolveVecTo(dst, false, mat.NewVecDense(md.nx, append([]float64(nil), md.g[:md.nx]...))); err != nil {
			md.luOK = false
		}
	}
	for h, i := range md.held {
		f := b.g[i]
		for c, j := range md.held {
			f -= b.m.At(i, j) * md.railV[c]
		}
		for a := range md.nx {
			f -= b.m.At(i, md.free[a]) * md.xinf[a]
		}
		md.push[h] = math.Copysign(1, md.railV[h]) * f
	}
	md.gOK = true
}

// safe reports whether no rail event can happen in the step s of length h
// from the present state (see the comment at the top of the file).
func (b *Board) safe(md *mode, s *step, h time.Duration) bool {
	if !md.luOK && md.nx > 0 {
		return false
	}
	dev := 0.0
	for a := range md.nx {
		dev = max(dev, math.Abs(b.x[md.at(a)]-md.xinf[a]))
	}
	kappa := 1.0
	if md.nu > 0 {
		kappa = math.Exp(md.nu * h.Seconds())
		if kappa > 2 { // a long step on a non-dominant drift
			if md.kapP == 0 {
				md.kapP = lyapunovKappa(md.m.Slice(0, md.nx, 0, md.nx), b.tr.tau)
			}
			kappa = min(kappa, md.kapP)
		}
	}
	rail := b.prof.RailV
	for a := range md.nx {
		if math.Abs(md.xinf[a])+kappa*dev+railMargin*s.sd[a] > rail || math.IsNaN(kappa*dev) {
			return false
		}
	}
	for c, i := range md.held {
		take := 0.0
		for a := range md.nx {
			take += math.Abs(b.m.At(i, md.free[a])) * (kappa*dev + railMargin*s.sd[a])
		}
		if !(md.push[c] > take) {
			return false
		}
	}
	return true
}

// lyapunovKappa bounds sup_{t≥0} ‖e^{−Mt}‖∞ for a stable M (n × n), or
// returns +Inf. With P = ∫₀ʰ e^{−Mᵀs}e^{−Ms} ds (Van Loan, discretize on Mᵀ
// with Q = I), MᵀP + PM = I − ΦᵀΦ with Φ = e^{−Mh}, positive semidefinite
// once ‖Φ‖₂ ≤ 1 (checked through the Frobenius norm, which is larger).
// Then V = xᵀPx never grows along ẋ = −Mx, so ‖e^{−Mt}‖₂ ≤ √(λmax/λmin(P))
// for every t, and ‖·‖∞ ≤ √n‖·‖₂.
func lyapunovKappa(m mat.Matrix, tau []float64) float64 {
	n, _ := m.Dims()
	mt := mat.DenseCopyOf(m.T())
	eye := mat.NewDense(n, n, nil)
	h := 0.0
	for i := range n {
		eye.Set(i, i, 1)
	}
	for _, t := range tau {
		h = max(h, 4*t)
	}
	for range 8 {
		t, err := discretize(context.Background(), mt, eye, h)
		if err != nil {
			return math.Inf(1)
		}
		if mat.Norm(t.phi, 2) < 1 {
			var eig mat.EigenSym
			if !eig.Factorize(t.qd, false) {
				return math.Inf(1)
			}
			v := eig.Values(nil)
			if !(v[0] > 0) {
				return math.Inf(1)
			}
			return math.Sqrt(float64(n) * v[n-1] / v[0])
		}
		h *= 4
	}
	return math.Inf(1)
}

// subStep is the slow path's sub-step δ = 1/(64‖M‖∞), at least 1 ns.
func (b *Board) subStep() time.Duration {
	norm := mat.Norm(b.m, math.Inf(1))
	return max(time.Duration(1e9/(subPerRate*norm)), time.Nanosecond)
}

// evolveRails advances the state over d with rail events (the slow path).
// It first tries the whole step, then sub-steps of δ; after a safe step
// of h it tries 2h. Steps are d itself or δ·2^j, and a last piece
// d mod δ, so a mode's transitions repeat and stay cached.
func (b *Board) evolveRails(ctx context.Context, d time.Duration) error {
	sub := b.subStep()
	try := d
	for n := 0; d > 0; n++ {
		if n >= maxSubSteps {
			sub *= 2
		}
		b.railEvents()
		md := b.current()
		h := min(d, sub)
		for n > 0 && try > d {
			try /= 2
		}
		if try > sub {
			h = try
		}
		s, err := b.modeTransition(ctx, md, h)
		if err != nil {
			return err
		}
		if h > sub && !b.safe(md, s, h) {
			h = sub
			if s, err = b.modeTransition(ctx, md, h); err != nil {
				return err
			}
		}
		try = 2 * h
		if err := b.apply(md, s); err != nil {
			return err
		}
		d -= h
	}
	b.railEvents()
	for i, p := range b.pattern {
		if p != 0 {
			b.railHits[i]++
		}
	}
	return nil
}

// railEvents holds free nodes found beyond their rails and releases held
// nodes whose drift points back inside.
func (b *Board) railEvents() {
	rail := b.prof.RailV
	k := b.k
	for i := range k {
		switch p := b.pattern[i]; {
		case p == 0 && math.Abs(b.x[i]) > rail:
			b.x[i] = math.Copysign(rail, b.x[i])
			b.pattern[i] = '+'
			if b.x[i] < 0 {
				b.pattern[i] = '-'
			}
			b.nHeld++
			b.railHits[i]++
		case p != 0:
			f := b.g[i] - dot(b.m.RawRowView(i), b.x[:k])
			if railSign(p)*f <= 0 {
				b.pattern[i] = 0
				b.nHeld--
			}
		}
	}
}

// apply advances the mode's free states by the transition s; held nodes
// stay at their rails.
func (b *Board) apply(md *mode, s *step) error {
	if md.n == 0 {
		return nil
	}
	if md.free == nil {
		return b.applyFull(s)
	}
	n := md.n
	x, y := md.xs, b.tmp[:n]
	for a, i := range md.free {
		x[a] = b.x[i]
	}
	b.propagate(s, n, x, y)
	for a, i := range md.free {
		b.x[i] = y[a]
	}
	if !finite(y) {
		return b.divergedErr()
	}
	return nil
}

// applyFull advances the whole state by s (nothing held).
func (b *Board) applyFull(s *step) error {
	n := len(b.x)
	x, y := b.x, b.tmp
	b.propagate(s, n, x, y)
	var sum float64
	for _, v := range y {
		sum += v
	}
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return b.divergedErr()
	}
	b.x, b.tmp = y, x
	return nil
}

// divergedErr latches the divergence fault: only an unstable realised
// drift without rails overflows. It holds until the state or the
// couplings are set again.
func (b *Board) divergedErr() error {
	b.diverged = fmt.Errorf("node voltages diverged (realised couplings are unstable and the profile has no rails); set the state or new couplings: %w", hal.ErrUnstable)
	return b.diverged
}
