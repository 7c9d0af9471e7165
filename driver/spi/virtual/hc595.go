package virtual

import "fmt"

// vHC595 is a chain of virtual 74HC595 registers holding the coupling
// signs; the chip select's rising edge (RCLK) latches them.
type vHC595 struct {
	regs  []byte // register i's outputs
	latch func() error
	// absent: the chain is not fitted (fault polarity-missing, faults.go);
	// every line it would drive floats to float's bits.
	absent bool
	float  byte
}

func newHC595(registers int, latch func() error) *vHC595 {
	return &vHC595{regs: make([]byte, registers), latch: latch}
}

// negative implements polarityDevice: output e set means a negative
// coupling.
func (h *vHC595) negative(e int) bool {
	if h.absent {
		return h.float != 0
	}
	return h.regs[e/8]&(1<<(e%8)) != 0
}

// tx latches the chain: byte n−1−i lands in register i. An absent chain
// latches nothing, and its serial output reads the floating level.
func (h *vHC595) tx(w, rd []byte) error {
	n := len(h.regs)
	if len(w) != n {
		return fmt.Errorf("74HC595 chain of %d registers got %d bytes", n, len(w))
	}
	if h.absent {
		for i := range rd {
			rd[i] = h.float
		}
		return nil
	}
	for i := range n {
		h.regs[i] = w[n-1-i]
	}
	return h.latch()
}
