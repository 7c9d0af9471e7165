package edgepin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
)

// blocks reports whether WaitForEdge(timeout) is still waiting after 50 ms;
// Halt then ends it, and the wait must return false.
func blocks(t *testing.T, p *Pin, timeout time.Duration) bool {
	t.Helper()
	done := make(chan bool, 1)
	go func() { done <- p.WaitForEdge(timeout) }()
	select {
	case got := <-done:
		assert.False(t, got, "returned without an edge")
		return false
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, p.Halt())
	select {
	case got := <-done:
		assert.False(t, got, "Halt ends the wait with false")
	case <-time.After(time.Second):
		t.Fatal("Halt did not end the wait")
	}
	return true
}

func TestZeroAndNegativeTimeoutWaitWithoutDeadline(t *testing.T) {
	p := &Pin{N: "BUSY"}
	require.NoError(t, p.In(gpio.PullNoChange, gpio.FallingEdge))
	assert.True(t, blocks(t, p, 0), "0 means no deadline (gpioioctl WaitForEdge)")
	assert.True(t, blocks(t, p, -1), "-1 disables the timeout (gpio.PinIn contract)")
	assert.False(t, blocks(t, p, time.Millisecond), "a positive timeout expires")
}

func TestEdgeEndsAWaitWithoutDeadline(t *testing.T) {
	p := &Pin{N: "BUSY"}
	require.NoError(t, p.In(gpio.PullNoChange, gpio.FallingEdge))
	done := make(chan bool, 1)
	go func() { done <- p.WaitForEdge(0) }()
	time.Sleep(5 * time.Millisecond)
	p.Pulse(gpio.FallingEdge)
	select {
	case got := <-done:
		assert.True(t, got)
	case <-time.After(time.Second):
		t.Fatal("the edge did not end the wait")
	}
}

func TestEdgesAreCountedWhileArmed(t *testing.T) {
	p := &Pin{N: "BUSY"}
	p.Pulse(gpio.FallingEdge)
	assert.Zero(t, p.Pending(), "not armed: no edge queued")
	assert.False(t, p.WaitForEdge(time.Millisecond), "not armed: false (gpioioctl)")

	require.NoError(t, p.In(gpio.PullNoChange, gpio.FallingEdge))
	p.Pulse(gpio.FallingEdge)
	p.Pulse(gpio.RisingEdge) // not armed for rising edges: not queued
	p.Pulse(gpio.FallingEdge)
	assert.Equal(t, 2, p.Pending(), "each armed edge is queued")
	assert.True(t, p.WaitForEdge(time.Millisecond), "a stale edge ends the wait at once")
	assert.True(t, p.WaitForEdge(time.Millisecond))
	assert.False(t, p.WaitForEdge(time.Millisecond), "one edge per call")
}

func TestRearmClearsPendingEdges(t *testing.T) {
	p := &Pin{N: "BUSY"}
	require.NoError(t, p.In(gpio.PullNoChange, gpio.BothEdges))
	p.Pulse(gpio.FallingEdge)
	assert.Equal(t, 2, p.Pending(), "both edges of a pulse")
	require.NoError(t, p.In(gpio.PullNoChange, gpio.FallingEdge))
	assert.Zero(t, p.Pending(), "In clears queued edges (bcm283x Pin.In)")
	assert.False(t, p.WaitForEdge(time.Millisecond))
	assert.Equal(t, gpio.Low, p.Read())
}
