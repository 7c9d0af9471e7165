// Package edgepin is a GPIO input double whose WaitForEdge behaves like
// periph's on a Raspberry Pi, so that a driver's wrong assumption about
// edge waits hangs or fails in a test instead of on the bench.
//
// # What periph does (host/v3 v3.8.5, conn/v3 v3.7.3)
//
// bcm283x/gpio.go, (*Pin).WaitForEdge hands the wait to the Linux GPIO
// character device line, gpioioctl/gpio.go (*GPIOLine).WaitForEdge, which
// reads one gpio_v2_line_event from the line's request fd with a read
// deadline:
//
//   - timeout == 0: SetReadDeadline(time.Time{}), i.e. no deadline; the
//     read blocks until an edge arrives or Halt is called ("If 0, waits
//     forever" in its doc comment).
//   - timeout < 0: conn/v3 gpio.PinIn.WaitForEdge documents "-1 to
//     effectively disable timeout". gpioioctl itself sets a deadline in the
//     past, so its read fails at once with "i/o timeout" (false) without
//     taking a queued event. The double follows the interface contract and
//     blocks: a driver must not pass a negative timeout either way.
//   - timeout > 0: true as soon as an event is queued or arrives before the
//     deadline, false at the deadline.
//   - Each call takes one event: the kernel queues edges while the line is
//     armed (binary.Read of one event per call), so edges are counted, and a
//     stale edge ends the next wait at once.
//   - Not armed (no In with an edge): gpioioctl logs and returns false.
//   - Re-arming: bcm283x (*Pin).In with an edge calls the line's In again
//     ("This resets pending edges."); conn/v3 gpio.PinIn.In says calling In
//     "will try to empty the accumulated edges" but cannot be 100% reliable.
//     The double clears them; a driver should not rely on it alone.
//   - Halt: gpioioctl (*GPIOLine).Halt sets the read deadline to the past and
//     so ends a pending wait with false.
package edgepin

import (
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Pin is a GPIO input with periph's Pi edge semantics (see the package
// comment). Signal makes an edge happen; it is safe to call from another
// goroutine while WaitForEdge blocks.
type Pin struct {
	// N is the pin's name.
	N string

	mu      sync.Mutex
	armed   gpio.Edge
	level   gpio.Level
	pending int           // edges queued while armed, not yet taken
	halts   int           // Halt calls, to end waits in progress
	wake    chan struct{} // closed and replaced on every Signal and Halt
}

var _ gpio.PinIn = (*Pin)(nil)

// In arms edge detection for edge and clears queued edges, like
// bcm283x (*Pin).In.
func (p *Pin) In(_ gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.pending = edge, 0
	return nil
}

// Signal sets the level to l; the edge it makes is queued when the pin is
// armed for it. A level equal to the current one makes no edge.
func (p *Pin) Signal(l gpio.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l == p.level {
		return
	}
	p.level = l
	e := gpio.FallingEdge
	if l == gpio.High {
		e = gpio.RisingEdge
	}
	if p.armed == e || p.armed == gpio.BothEdges {
		p.pending++
		p.notify()
	}
}

// Pulse makes the edge e (RisingEdge or FallingEdge) happen, setting the
// opposite level first without an event being lost: the BUSY fall of a
// conversion is Pulse(gpio.FallingEdge).
func (p *Pin) Pulse(e gpio.Edge) {
	if e == gpio.FallingEdge {
		p.Signal(gpio.High)
		p.Signal(gpio.Low)
		return
	}
	p.Signal(gpio.Low)
	p.Signal(gpio.High)
}

// Pending returns the number of queued edges.
func (p *Pin) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending
}

// notify wakes every waiter; p.mu is held.
func (p *Pin) notify() {
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}

// WaitForEdge takes one queued edge or waits for one: without a deadline
// when timeout <= 0 (see the package comment), else up to timeout.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	p.mu.Lock()
	if p.armed == gpio.NoEdge {
		p.mu.Unlock()
		return false
	}
	halts := p.halts
	for {
		if p.pending > 0 {
			p.pending--
			p.mu.Unlock()
			return true
		}
		if p.halts != halts {
			p.mu.Unlock()
			return false
		}
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			return false
		}
		p.mu.Lock()
	}
}

// Halt ends a wait in progress with false, like gpioioctl's Halt.
func (p *Pin) Halt() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.halts++
	p.notify()
	return nil
}

// Read returns the level.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// String, Name, Number, Function, Pull and DefaultPull complete
// gpio.PinIn.
func (p *Pin) String() string         { return "edgepin:" + p.N }
func (p *Pin) Name() string           { return p.N }
func (p *Pin) Number() int            { return -1 }
func (p *Pin) Function() string       { return "In" }
func (p *Pin) Pull() gpio.Pull        { return gpio.PullNoChange }
func (p *Pin) DefaultPull() gpio.Pull { return gpio.PullNoChange }
