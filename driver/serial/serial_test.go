package serial

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/emu"
	"github.com/spukit/spukit/firmware"
	"github.com/spukit/spukit/firmware/proto"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/optim"
	"github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/solver"
)

// pipe is one direction of an in-memory serial line.
type pipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func newPipe() *pipe { p := &pipe{}; p.cond = sync.NewCond(&p.mu); return p }

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errors.New("port closed")
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

// read waits up to timeout; 0, nil on timeout like go.bug.st/serial.
func (p *pipe) read(b []byte, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.closed {
		if time.Now().After(deadline) {
			return 0, nil
		}
		t := time.AfterFunc(time.Until(deadline), func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
		p.cond.Wait()
		t.Stop()
	}
	if p.closed && len(p.buf) == 0 {
		return 0, errors.New("port closed")
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func (p *pipe) close() { p.mu.Lock(); p.closed = true; p.cond.Broadcast(); p.mu.Unlock() }

// hostPort is the driver's end.
type hostPort struct {
	in, out *pipe
	timeout time.Duration
}

func (h *hostPort) Read(b []byte) (int, error)           { return h.in.read(b, h.timeout) }
func (h *hostPort) Write(b []byte) (int, error)          { return h.out.write(b) }
func (h *hostPort) SetReadTimeout(t time.Duration) error { h.timeout = t; return nil }
func (h *hostPort) Close() error                         { h.out.close(); h.in.close(); return nil }

// boardPort is the firmware's end.
type boardPort struct{ in, out *pipe }

func (b *boardPort) Read(p []byte) (int, error)  { return b.in.read(p, time.Millisecond) }
func (b *boardPort) Write(p []byte) (int, error) { return b.out.write(p) }

// emulate starts the firmware on a simulated board in a goroutine and
// returns the driver connected to it; the firmware stops when the port
// closes.
func emulate(t *testing.T, uri string) (*Dev, hal.Board) {
	return emulateWith(t, uri, emu.Faults{}, nil)
}

// emulatePTY serves the firmware on a real pseudo-terminal with faults and
// opens it through the serial:// scheme, exactly as a user would.
func emulatePTY(t *testing.T, uri string, f emu.Faults) *Dev {
	t.Helper()
	ctx := context.Background()
	sb, err := hal.Open(ctx, uri)
	require.NoError(t, err)
	e, err := emu.Serve(ctx, sb, "", f, 77)
	require.NoError(t, err)
	// A clean line uses a long timeout: on a loaded machine (make test runs
	// packages in parallel) a 20 ms reply deadline is missed now and then,
	// and the clean run counts resends to show that none were needed.
	timeout := "20ms"
	if f == (emu.Faults{}) {
		timeout = "2s"
	}
	b, err := hal.Open(ctx, "serial://"+e.Path+"?timeout="+timeout)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close(); e.Close() })
	d := b.(*Dev)
	if f != (emu.Faults{}) {
		// A faulty line misses the 20 ms deadline also when the machine
		// stalls the emulator; 50 retries (as emulateWith uses) keep a
		// loaded CI machine from exhausting them, while every dropped or
		// damaged frame still goes through the resend path.
		d.opts.Retries = 50
	}
	return d
}

func emulateWith(t *testing.T, uri string, f emu.Faults, opts *Opts) (*Dev, hal.Board) {
	t.Helper()
	ctx := context.Background()
	sb, err := hal.Open(ctx, uri)
	require.NoError(t, err)
	return emulateBoard(t, sb, f, opts), sb
}

// emulateBoard runs the firmware over sb behind an in-memory link.
func emulateBoard(t *testing.T, sb hal.Board, f emu.Faults, opts *Opts) *Dev {
	t.Helper()
	ctx := context.Background()
	toBoard, toHost := newPipe(), newPipe()
	fw := firmware.New(emu.Info(sb), emu.NewFrontEnd(ctx, sb), emu.WithFaults(&boardPort{in: toBoard, out: toHost}, f, 77))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for fw.Poll() == nil {
		}
	}()
	d, err := New(ctx, &hostPort{in: toHost, out: toBoard, timeout: 50 * time.Millisecond}, opts)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close(); <-done })
	return d
}

// The conformance suite reopens one emulated board for every subtest, as
// it would a board on a USB port, so that what one session leaves
// programmed in the firmware is seen by the next (haltest's Reopen check).
func TestConformanceOverSerial(t *testing.T) {
	ctx := context.Background()
	sb, err := hal.Open(ctx, "sim:proto8?seed=3")
	require.NoError(t, err)
	e, err := emu.Serve(ctx, sb, "", emu.Faults{}, 1)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	haltest.Run(t, func(t *testing.T) hal.Board {
		b, err := hal.Open(ctx, "serial://"+e.Path)
		require.NoError(t, err)
		return b
	})
}

// A board whose firmware keeps a clock reports it through STATUS: over the
// emulator that is the simulator's own board time, exactly.
func TestBoardTimeOverSerial(t *testing.T) {
	ctx := context.Background()
	d, sb := emulate(t, "sim:proto8?seed=3")
	_, ok := hal.BoardTime(d)
	require.True(t, ok, "the emulator reports the clock capability")
	require.NoError(t, d.Run(ctx, 3*time.Millisecond))
	_, err := d.Sample(ctx, 0, make([]float64, 10*8))
	require.NoError(t, err)
	want := func() time.Duration {
		t.Helper()
		w, ok := hal.BoardTime(sb)
		require.True(t, ok)
		return w
	}
	got, ok := hal.BoardTime(d)
	assert.True(t, ok)
	assert.Equal(t, want(), got)
	require.NoError(t, d.Close())
	got, ok = hal.BoardTime(d)
	assert.True(t, ok, "a board that kept time still says so after Close")
	assert.Equal(t, want(), got, "after Close the last time read is kept")
}

// A board whose firmware keeps no clock (the emulator over a board without
// one) reports none through the driver's hal.Clock, also after Close.
func TestNoBoardTimeOverSerial(t *testing.T) {
	sb, err := hal.Open(context.Background(), "sim:proto8?seed=3")
	require.NoError(t, err)
	clockless := struct{ hal.Board }{sb} // hides the simulator's hal.Clock
	d := emulateBoard(t, clockless, emu.Faults{}, nil)
	got, ok := hal.BoardTime(d)
	assert.False(t, ok)
	assert.Zero(t, got)
	require.NoError(t, d.Close())
	_, ok = hal.BoardTime(d)
	assert.False(t, ok)
}

// Samples through driver, wire and firmware are bit-identical to the
// simulator driven directly with the same (already quantised) values.
func TestSerialBitIdentical(t *testing.T) {
	ctx := context.Background()
	d, _ := emulate(t, "sim:proto8?seed=9")
	direct, err := hal.Open(ctx, "sim:proto8?seed=9")
	require.NoError(t, err)
	in := d.Info()
	k := in.Cells
	a := make([]float64, k*k)
	bias := make([]float64, k)
	for i := range k {
		a[i*k+i] = 700 * in.CouplingStep
		if i > 0 {
			a[i*k+i-1], a[(i-1)*k+i] = -200*in.CouplingStep, -200*in.CouplingStep
		}
		bias[i] = in.Bias.Min + float64(32768+1500*i)*in.Bias.LSB()
	}
	const n = 500
	got := make([]float64, n*k)
	want := make([]float64, n*k)
	for _, b := range []hal.Board{d, direct} {
		require.NoError(t, b.SetCouplings(ctx, a))
		require.NoError(t, b.SetBias(ctx, bias))
		require.NoError(t, b.Run(ctx, 2*time.Millisecond))
	}
	_, err = d.Sample(ctx, 0, got)
	require.NoError(t, err)
	_, err = direct.Sample(ctx, 0, want)
	require.NoError(t, err)
	for i := range want {
		require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "sample %d cell %d", i/k, i%k)
	}
}

func TestOpenURIErrors(t *testing.T) {
	ctx := context.Background()
	_, err := hal.Open(ctx, "serial:///dev/does-not-exist-spu")
	require.ErrorIs(t, err, hal.ErrDisconnected)
	require.Contains(t, err.Error(), "/dev/does-not-exist-spu")
	for _, uri := range []string{"serial:", "serial:///dev/x?baud=fast", "serial:///dev/x?colour=1"} {
		_, err := hal.Open(ctx, uri)
		require.ErrorIs(t, err, hal.ErrInvalid, uri)
	}
}

// With link faults (lost, corrupted and duplicated frames) a sequence of
// solves with changing A and b ends bit-identical to the fault-free run:
// retries reuse sequence numbers, the firmware's replay cache answers them,
// so nothing is lost and nothing is executed twice.
func TestFaultsChangeNothing(t *testing.T) {
	ctx := context.Background()
	var resent int
	run := func(f emu.Faults, solves int, pty bool) [][]float64 {
		var d *Dev
		if pty {
			d = emulatePTY(t, "sim:proto8?seed=21", f)
		} else {
			d, _ = emulateWith(t, "sim:proto8?seed=21", f, &Opts{Timeout: 5 * time.Millisecond, Retries: 50})
		}
		defer func() { resent = d.Resent() }()
		r := rand.New(rand.NewPCG(5, 6))
		var out [][]float64
		for range solves {
			a := mat.NewDense(8, 8, nil)
			b := make([]float64, 8)
			for i := range 8 {
				a.Set(i, i, 1.5+r.Float64())
				if i > 0 {
					v := -0.4 * r.Float64()
					a.Set(i, i-1, v)
					a.Set(i-1, i, v)
				}
				b[i] = r.NormFloat64()
			}
			res, err := solver.Solve(ctx, d, a, b, &solver.Options{Duration: 100 * time.Millisecond / 20})
			require.NoError(t, err)
			out = append(out, res.X)
		}
		return out
	}
	clean := run(emu.Faults{}, 200, true)
	require.Zero(t, resent, "a clean line needs no retries")
	// The rates over 200 solves on a real pty, then harsher ones on
	// the in-memory line so that every recovery path is exercised often.
	faulty := run(emu.Faults{Drop: 1e-3, Flip: 1e-4, Dup: 1e-3}, 200, true)
	t.Logf("pty, drop 1e-3, flip 1e-4, dup 1e-3: %d resends over 200 solves", resent)
	require.Equal(t, clean, faulty)
	harsh := run(emu.Faults{Drop: 0.02, Flip: 0.01, Dup: 0.02}, 20, false)
	t.Logf("drop 2e-2, flip 1e-2, dup 2e-2: %d resends over 20 solves", resent)
	require.Greater(t, resent, 5, "the faults really happened")
	require.Equal(t, clean[:20], harsh)
}

// A 200-iteration TNGD run in the dual mapping (batch 8, one output) over
// a real pty ends with bit-identical parameters with and without link
// faults.
func TestDualTrainingOverFaultyLine(t *testing.T) {
	ctx := context.Background()
	var resent int
	train := func(f emu.Faults) []float64 {
		d := emulatePTY(t, "sim:proto8?seed=8", f)
		defer func() { resent = d.Resent() }()
		m, err := optim.NewMLP([]int{2, 4, 1}, optim.Tanh, 3)
		require.NoError(t, err)
		o, err := optim.NewTNGD(d, m.NumParams(), 8, optim.TNGDOptions{LR: 0.1, T: 20})
		require.NoError(t, err)
		require.Equal(t, optim.MapDual, o.Mapping())
		r := rand.New(rand.NewPCG(1, 1))
		for k := range 200 {
			bt := optim.Batch{X: make([]float64, 16), Y: make([]int, 8)}
			for i := range 8 {
				x, y := r.NormFloat64(), r.NormFloat64()
				bt.X[2*i], bt.X[2*i+1] = x, y
				if x*y > 0 {
					bt.Y[i] = 1
				}
			}
			it, err := optim.NewIteration(k, m, bt, 0.05)
			require.NoError(t, err)
			_, err = o.Step(ctx, it)
			require.NoError(t, err)
		}
		return append([]float64(nil), m.Params()...)
	}
	clean := train(emu.Faults{})
	faulty := train(emu.Faults{Drop: 1e-3, Flip: 1e-4, Dup: 1e-3})
	t.Logf("%d resends", resent)
	require.Equal(t, clean, faulty)
}

// scriptedBoard answers the first frame it receives with a fixed reply.
type scriptedBoard struct {
	in, out *pipe
	reply   func(seq uint16) []byte
}

func (s *scriptedBoard) serve() {
	var d proto.Decoder
	buf := make([]byte, 256)
	for {
		n, err := s.in.read(buf, 10*time.Millisecond)
		if err != nil {
			return
		}
		for off := 0; off < n; {
			k, pkt, ok, _ := d.Feed(buf[off:n])
			off += k
			if ok {
				s.out.write(s.reply(pkt.Seq))
			}
		}
	}
}

func TestHandshakeVersionMismatch(t *testing.T) {
	toBoard, toHost := newPipe(), newPipe()
	sb := &scriptedBoard{in: toBoard, out: toHost, reply: func(seq uint16) []byte {
		var dst [proto.MaxFrame]byte
		var sc [proto.MaxPacket]byte
		n, _ := proto.AppendFrame(dst[:], sc[:], proto.TypeError, seq, []byte{byte(proto.CodeBadVersion), byte(proto.TypeHello), 7})
		return dst[:n]
	}}
	go sb.serve()
	defer toBoard.close()
	_, err := New(context.Background(), &hostPort{in: toHost, out: toBoard, timeout: 10 * time.Millisecond}, nil)
	require.ErrorIs(t, err, hal.ErrUnsupported)
	require.Contains(t, err.Error(), "board speaks protocol 7, this driver 1")
}

func TestHandshakeTimeout(t *testing.T) {
	toBoard, toHost := newPipe(), newPipe() // nobody answers
	start := time.Now()
	_, err := New(context.Background(), &hostPort{in: toHost, out: toBoard, timeout: 5 * time.Millisecond}, &Opts{Timeout: 5 * time.Millisecond, Retries: 3})
	require.ErrorIs(t, err, hal.ErrTimeout)
	require.Contains(t, err.Error(), "4 tries")
	require.Less(t, time.Since(start), time.Second)
}

// A 24-cell matrix needs two SET_COUPLINGS blocks (21 rows fit a packet).
// Going from A₀ (A_ii = 2, A[23][0] = 2) to A₁ (A_ii = 2, A[0][23] = 2),
// both triangular and stable, passes through rows 0–20 of A₁ with rows
// 21–23 of A₀ — [[2, 2], [2, 2]] on cells 0 and 23, eigenvalue 0 — if the
// first block is latched on its own. Held blocks latch once: it succeeds,
// and a refused matrix changes nothing.
func TestMultiBlockCouplingsLatchOnce(t *testing.T) {
	ctx := context.Background()
	p, err := sim.Builtin("proto8")
	require.NoError(t, err)
	p.Name, p.Cells = "proto24", 24
	data, err := json.Marshal(p)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "proto24.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	d, sb := emulate(t, "sim:"+path+"?seed=2")
	const k = 24
	a := func(i, j int) []float64 {
		m := make([]float64, k*k)
		for c := range k {
			m[c*k+c] = 2
		}
		m[i*k+j] = 2
		return m
	}
	require.NoError(t, d.SetCouplings(ctx, a(23, 0)))
	require.NoError(t, d.SetCouplings(ctx, a(0, 23)), "no unstable intermediate latch")
	// A refused matrix (unstable as a whole) leaves the board as it was:
	// the simulator still runs A₁ (x relaxes to A₁⁻¹b, finite).
	bad := a(0, 23)
	bad[23*k+0] = 2
	require.Error(t, d.SetCouplings(ctx, bad))
	require.NoError(t, d.Run(ctx, time.Millisecond))
	_, err = sb.Sample(ctx, 0, make([]float64, k))
	require.NoError(t, err)
}
