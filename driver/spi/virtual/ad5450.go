package virtual

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/gpio"
)

// vAD5450s are virtual AD545x multiplying DACs sharing one port, each
// selected by its own SYNC GPIO; the DAC register loads on SYNC's rising
// edge (the pin calls the rig's latch).
type vAD5450s struct {
	codes []int
	bits  int
	sync  []*vpin // SYNC of element e
}

func newAD5450s(r *Rig, syncPins []string, bits int) *vAD5450s {
	m := &vAD5450s{codes: make([]int, len(syncPins)), bits: bits}
	for _, name := range syncPins {
		m.sync = append(m.sync, r.pins[name])
	}
	return m
}

// code implements couplingDevice.
func (m *vAD5450s) code(e int) int { return m.codes[e] }

// tx loads the AD545x whose SYNC is low.
func (m *vAD5450s) tx(w, _ []byte) error {
	if len(w) != 2 {
		return fmt.Errorf("AD545x frame of %d bytes, want 2", len(w))
	}
	e := -1
	for _, p := range m.sync {
		if p.l == gpio.Low {
			if e >= 0 {
				return fmt.Errorf("AD545x frame with two SYNC lines low (elements %d and %d, %s)", e, p.elem, p.name)
			}
			e = p.elem
		}
	}
	if e < 0 {
		return errors.New("AD545x frame with no SYNC line low")
	}
	f := uint16(w[0])<<8 | uint16(w[1])
	if c := f >> 14; c != 0 {
		return fmt.Errorf("AD545x element %d: control bits %02b (only 00, load and update, is usable)", e, c)
	}
	m.codes[e] = int(f&0x3fff) >> (14 - m.bits)
	return nil // the DAC register loads on SYNC's rising edge
}
