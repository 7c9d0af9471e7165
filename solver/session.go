package solver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/spukit/spukit/hal"
)

// Session drives one board through repeated relaxations: it programs a
// problem — a dense A or a factored λI + s·JᵀHJ — once, with its coupling
// scale α, and then, as often as wanted, sets a right-hand side with its
// bias scale, forces or keeps the state, lets the board relax and reads it.
// It owns the mechanics every user of a board shares: scaling into the
// board's ranges and back, padding to the board's K cells, clipping to the
// ADC, streaming or windowed reads with saturation counts, and accounting
// of board time and programmings. Policies — how large α and β are, how
// long to relax, when to rescale — belong to the caller: Solve and Inverse
// (pilot runs, burn-in, batch means) and TNGD (headroom, t and t_d) use the
// same Session with different ones.
//
// Units. Couplings are programmed as A' = α·A (1/τ). A right-hand side r is
// programmed as the bias b' = β·r (volts), and the state stands for the
// solution x as x' = γ·x (volts); for the board's mean A'⁻¹b' to be γ·A⁻¹r,
// γ = β/α. The caller passes β and γ both (SetRHS), so that it may round
// each its own way.
//
// Padding. A problem of n < K cells occupies the first n cells; every other
// cell gets A'_ii = 1, no couplings, a bias of 0 V (or the nearest value
// the bias DAC has) and a forced state of 0 V, so it sits at 0 V and
// disturbs nothing.
//
// A Session is not safe for concurrent use, like the board it drives; it
// never closes the board.
type Session struct {
	b    hal.Board
	info hal.Info
	k    int
	adc  adc
	t0   time.Duration // hal.BoardTime at NewSession

	inBoard  time.Duration // wall time inside board calls
	programs int

	n           int     // cells of the programmed problem (0: none yet)
	owner       *System // the System whose A is programmed (nil: none or another caller's)
	alpha       float64 // A' = alpha·A
	beta, gamma float64 // b' = beta·r, x' = gamma·x

	rd  reader    // streaming reads (Stream)
	win []float64 // window reads (Window), reused
}

// Usage is what a session has cost. Subtract two snapshots (Sub) for the
// cost of the calls between them.
type Usage struct {
	// BoardTime is the board time used, from hal.Clock when the board
	// implements it (Clocked is then true), else InBoard.
	BoardTime time.Duration
	Clocked   bool
	// InBoard is the wall time spent inside board calls.
	InBoard time.Duration
	// Programs counts coupling programmings (dense or factored).
	Programs int
}

// Sub returns u − v, the usage between snapshot v and u.
func (u Usage) Sub(v Usage) Usage {
	return Usage{BoardTime: u.BoardTime - v.BoardTime, Clocked: u.Clocked,
		InBoard: u.InBoard - v.InBoard, Programs: u.Programs - v.Programs}
}

// NewSession starts a session on board b. A nil board is hal.ErrInvalid; a
// board whose Info does not validate is an error wrapping Info.Validate's.
// Nothing is sent to the board.
func NewSession(b hal.Board) (*Session, error) {
	if err := nilBoard(b); err != nil {
		return nil, err
	}
	s := &Session{b: b, info: b.Info(), alpha: 1}
	if err := s.info.Validate(); err != nil {
		return nil, fmt.Errorf("board reports an invalid description: %w", err)
	}
	s.k, s.adc = s.info.Cells, adc{s.info.ADC.Range}
	s.t0, _ = hal.BoardTime(b)
	return s, nil
}

// nilBoard refuses a nil board, also a typed nil pointer in the interface.
func nilBoard(b hal.Board) error {
	if b == nil {
		return fmt.Errorf("nil board: %w", hal.ErrInvalid)
	}
	if v := reflect.ValueOf(b); v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("nil board %T: %w", b, hal.ErrInvalid)
	}
	return nil
}

// Board returns the board the session drives.
func (s *Session) Board() hal.Board { return s.b }

// Info returns the board's description, read once by NewSession.
func (s *Session) Info() hal.Info { return s.info }

// Size returns n, the number of cells of the programmed problem (0 before
// the first programming).
func (s *Session) Size() int { return s.n }

// Alpha returns the coupling scale α of the programmed problem (1 before
// the first programming and for a factored problem, which the board takes
// as it is).
func (s *Session) Alpha() float64 { return s.alpha }

// Usage returns the session's cost since NewSession.
func (s *Session) Usage() Usage {
	u := Usage{BoardTime: s.inBoard, InBoard: s.inBoard, Programs: s.programs}
	if t, ok := hal.BoardTime(s.b); ok {
		u.BoardTime, u.Clocked = t-s.t0, true
	}
	return u
}

// call runs one board call f, adding its wall time to the session's.
func (s *Session) call(f func() error) error {
	t := time.Now()
	err := f()
	s.inBoard += time.Since(t)
	return err
}

// CouplingScale returns the largest α > 0 such that every entry of α·a
// lies within 95 % of the board's coupling range, for entries of either
// sign as the range allows; symmetric narrows the range first to
// [−c, c], c = min(−Min, Max), so that α depends only on max|a_ij| (TNGD's
// choice). It fails with hal.ErrOutOfRange when a has entries of a sign
// the range cannot represent; it is +Inf for a zero a.
func (s *Session) CouplingScale(a []float64, symmetric bool) (float64, error) {
	r := s.info.Coupling
	if symmetric {
		c := math.Min(math.Abs(r.Min), r.Max)
		r = hal.Range{Min: -c, Max: c}
	}
	return rangeScale(a, r, couplingMargin, "A")
}

// checkDense checks that an n-cell problem fits the board and that the
// board takes a dense K × K coupling matrix (see dense).
func (s *Session) checkDense(n int) error {
	if err := fits(s.info, n); err != nil {
		return err
	}
	return dense(s.b, s.info)
}

// ProgramDense programs the couplings A' = alpha·a for the n × n row-major
// matrix a (problem units), padded to the board's K cells with the
// identity; on a hal.Symmetric board A' is symmetrised, (A' + A'ᵀ)/2, which
// leaves an exactly symmetric a unchanged. It replaces any problem
// programmed before; the bias and state are left as they were, so set them
// next.
//
// The caller vouches for a: ProgramDense checks only sizes (hal.ErrDimension),
// that n fits the board and that the board takes dense couplings
// (hal.ErrUnsupported, before anything K × K is allocated), and that alpha
// is positive and finite (hal.ErrInvalid). It does not test stability,
// which costs O(n³): Solve and Inverse test it beforehand to explain a
// refusal and to derive their default times, and TNGD's λI + PSD matrices
// (λ > 0) are positive definite by construction. Programming an unstable A'
// is still safe: the board refuses it (hal.ErrUnstable, see
// hal.Board.SetCouplings) and keeps its couplings.
func (s *Session) ProgramDense(ctx context.Context, a []float64, n int, alpha float64) error {
	if n < 1 || len(a) != n*n {
		return fmt.Errorf("programming couplings: %d entries for n = %d: %w", len(a), n, hal.ErrDimension)
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return fmt.Errorf("programming couplings: scale α = %g, want finite and > 0: %w", alpha, hal.ErrInvalid)
	}
	if err := s.checkDense(n); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.owner = nil // a failed programming leaves the couplings unknown
	k := s.k
	ap := make([]float64, k*k)
	for i := range k {
		ap[i*k+i] = 1
	}
	scaleInto(ap, k, a, n, alpha)
	if s.info.Topology == hal.Symmetric {
		for i := range n {
			for j := range i {
				v := 0.5 * (ap[i*k+j] + ap[j*k+i])
				ap[i*k+j], ap[j*k+i] = v, v
			}
		}
	}
	if err := s.call(func() error { return s.b.SetCouplings(ctx, ap) }); err != nil {
		return fmt.Errorf("programming couplings: %w", err)
	}
	s.n, s.alpha = n, alpha
	s.programs++
	return nil
}

// scaleInto writes alpha·a, for the n × n row-major a, into the leading
// n × n block of dst, whose rows are stride apart.
func scaleInto(dst []float64, stride int, a []float64, n int, alpha float64) {
	for i := range n {
		for j := range n {
			dst[i*stride+j] = alpha * a[i*n+j]
		}
	}
}

// ProgramFactored programs A = f.Lambda·I + f.Scale·JᵀHJ on a hal.Factored
// board as it is (α = 1: the board realises λ, s, J and H itself), without
// ever forming an N × N matrix; n becomes f.J.Cols. A board without the
// capability is hal.ErrUnsupported; f is validated by the board.
func (s *Session) ProgramFactored(ctx context.Context, f *hal.Factorization) error {
	fb, ok := s.b.(hal.Factored)
	if !ok {
		return fmt.Errorf("programming factored couplings: board %s does not take factored couplings (hal.Factored): %w", s.info.Model, hal.ErrUnsupported)
	}
	s.owner = nil
	if err := s.call(func() error { return fb.SetFactoredCouplings(ctx, f) }); err != nil {
		return fmt.Errorf("programming factored couplings: %w", err)
	}
	s.n, s.alpha = f.J.Cols, 1
	s.programs++
	return nil
}

// SetRHS programs the bias b' = beta·r for the right-hand side r (at most K
// entries, problem units; the other cells get the padding bias) and sets
// the state scale gamma (volts per problem unit of x) that Force, Window
// and Unscale use. A nil r programs the padding bias everywhere (zero
// bias). Values are not clipped: the caller chooses beta so that they fit,
// and the board refuses (*hal.RangeError) what does not.
func (s *Session) SetRHS(ctx context.Context, r []float64, beta, gamma float64) error {
	if len(r) > s.k {
		return fmt.Errorf("programming bias: %d entries for %d cells: %w", len(r), s.k, hal.ErrDimension)
	}
	v := make([]float64, s.k)
	br := s.info.Bias.Range
	pad := math.Min(math.Max(0, br.Min), br.Max)
	for i := range v {
		v[i] = pad
	}
	for i, x := range r {
		v[i] = beta * x
	}
	if err := s.call(func() error { return s.b.SetBias(ctx, v) }); err != nil {
		return fmt.Errorf("programming bias: %w", err)
	}
	s.beta, s.gamma = beta, gamma
	return nil
}

// Force forces the state to x' = γ·x for x in problem units (at most K
// entries; the other cells start at 0 V). A product that is not a number
// (0·Inf for an extreme scale) starts at 0 V. It reports whether the state
// had to be clipped into the ADC range.
func (s *Session) Force(ctx context.Context, x []float64) (clipped bool, err error) {
	v := make([]float64, len(x))
	for i, xv := range x {
		if v[i] = s.gamma * xv; math.IsNaN(v[i]) {
			v[i] = 0
		}
	}
	return s.ForceVolts(ctx, v)
}

// ForceVolts forces the state to v volts (at most K entries; the other
// cells start at 0 V), clipped into the ADC range; it reports whether
// anything was clipped.
func (s *Session) ForceVolts(ctx context.Context, v []float64) (clipped bool, err error) {
	if len(v) > s.k {
		return false, fmt.Errorf("setting state: %d entries for %d cells: %w", len(v), s.k, hal.ErrDimension)
	}
	state := make([]float64, s.k)
	copy(state, v)
	clipped = s.adc.clip(state)
	if err := s.call(func() error { return s.b.SetState(ctx, state) }); err != nil {
		return clipped, fmt.Errorf("setting state: %w", err)
	}
	return clipped, nil
}

// Relax lets the board evolve for d of board time from its current state
// (warm: the state the last run left, or the one just forced). The board's
// error is returned as it is (d ≤ 0 is the board's hal.ErrInvalid).
func (s *Session) Relax(ctx context.Context, d time.Duration) error {
	return s.call(func() error { return s.b.Run(ctx, d) })
}

// Unscale writes dst_i = v_i/γ in problem units for board volts v (a mean
// or its standard error), multiplying by 1/γ.
func (s *Session) Unscale(dst, v []float64) {
	f := 1 / s.gamma
	for i, x := range v {
		dst[i] = x * f
	}
}

// Window reads rows successive samples, one every period, in one board
// call and writes the average of each of the K cells in problem units,
// dst_i = Σ_r x'_ri / (rows·γ); peak is the largest |x'| read, in volts.
// Any board error, a *hal.SaturationError included, is returned as it is
// with dst unspecified. The samples are held in a reused rows × K buffer:
// for long readings use Stream.
func (s *Session) Window(ctx context.Context, period time.Duration, rows int, dst []float64) (peak float64, err error) {
	k := s.k
	if rows < 1 || len(dst) != k {
		return 0, fmt.Errorf("window: %d rows into %d values for %d cells: %w", rows, len(dst), k, hal.ErrDimension)
	}
	if cap(s.win) < rows*k {
		s.win = make([]float64, rows*k)
	}
	buf := s.win[:rows*k]
	var got int
	if err := s.call(func() error {
		var err error
		got, err = s.b.Sample(ctx, period, buf)
		return err
	}); err != nil {
		return 0, err
	}
	if got < rows {
		return 0, fmt.Errorf("board returned %d of %d samples without an error: %w", got, rows, hal.ErrDisconnected)
	}
	clear(dst)
	for r := range got {
		for i := range k {
			dst[i] += buf[r*k+i]
			peak = math.Max(peak, math.Abs(buf[r*k+i]))
		}
	}
	for i := range dst {
		dst[i] /= float64(got) * s.gamma
	}
	return peak, nil
}

// Sampling reads at most maxChunkRows samples, and at most maxChunkValues
// values, per Board.Sample call into one reused buffer, so memory does not
// grow with the sampled time.
const (
	maxChunkRows   = 4096
	maxChunkValues = 1 << 20
)

// reader holds the streaming buffer and the saturation counts.
type reader struct {
	buf []float64
	sat []int // saturated readings per board cell since the last reset
}

// Stream takes rows samples, one every period, in chunks of at most 4096
// samples per board call, and passes the first n values of each (the
// problem's cells, in volts) to fn. Saturation is counted (Saturated), not
// returned; any other error (cancellation, a closed or disconnected board)
// stops the reading.
func (s *Session) Stream(ctx context.Context, period time.Duration, rows int, fn func(x []float64)) error {
	k, r := s.k, &s.rd
	if r.sat == nil {
		r.sat = make([]int, k) // here, not in NewSession: TNGD never streams
	}
	chunk := max(1, min(maxChunkRows, maxChunkValues/k))
	if need := min(rows, chunk) * k; len(r.buf) < need {
		r.buf = make([]float64, need)
	}
	for rows > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := min(rows, chunk)
		var got int
		err := s.call(func() error {
			var err error
			got, err = s.b.Sample(ctx, period, r.buf[:want*k])
			return err
		})
		var se *hal.SaturationError
		if errors.As(err, &se) {
			for i, c := range se.Counts {
				if i < len(r.sat) {
					r.sat[i] += c
				}
			}
			err = nil
		}
		got = max(0, min(got, want))
		for j := range got {
			fn(r.buf[j*k : j*k+s.n])
		}
		if err != nil {
			return err
		}
		if got < want {
			return fmt.Errorf("board returned %d of %d samples without an error: %w", got, want, hal.ErrDisconnected)
		}
		rows -= got
	}
	return nil
}

// Saturated returns the number of saturated readings Stream counted since
// the last ResetSaturation.
func (s *Session) Saturated() int {
	t := 0
	for _, c := range s.rd.sat {
		t += c
	}
	return t
}

// ResetSaturation zeroes the saturation counts.
func (s *Session) ResetSaturation() { clear(s.rd.sat) }

// SaturationError returns the per-cell saturation counts since the last
// ResetSaturation as the error for a reading of the given samples.
func (s *Session) SaturationError(samples int) *hal.SaturationError {
	return &hal.SaturationError{Counts: append([]int(nil), s.rd.sat...), Samples: samples}
}
