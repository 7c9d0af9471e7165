package virtual

import "fmt"

// vAD5293Chain is a daisy chain of virtual AD5293 rheostats on one chip
// select.
type vAD5293Chain struct {
	chips []rheostat
	latch func() error // a wiper change reaches the analog board
	// slow, when set, is a daisy-chain link too slow for the clock (fault
	// chain-slow, faults.go).
	slow *slowLink
	// Per transaction: the frame each chip receives, the frame each chip
	// shifts out (chip k's old shift register), and a link's bit stream.
	recv, out, stream []uint16
}

// rheostat is one virtual AD5293.
type rheostat struct {
	wiper    int
	unlocked bool
	shutdown bool
	hiZ      bool   // SDO in high impedance (0x8001 then a NOP)
	floatReq bool   // 0x8001 received; the next NOP floats SDO
	sr       uint16 // shift register: clocked out by the next transaction
	stuck    bool   // ignores wiper writes (fault stuck-coupling, faults.go)
}

// newAD5293Chain returns n rheostats as after power-up: wipers at
// midscale, write-protected.
func newAD5293Chain(n int, latch func() error) *vAD5293Chain {
	c := &vAD5293Chain{chips: make([]rheostat, n), latch: latch,
		recv: make([]uint16, n), out: make([]uint16, n), stream: make([]uint16, n)}
	for k := range c.chips {
		c.chips[k].wiper = 512
	}
	return c
}

// code implements couplingDevice: a shut-down rheostat couples nothing.
func (c *vAD5293Chain) code(e int) int {
	if c.chips[e].shutdown {
		return 0
	}
	return c.chips[e].wiper
}

// tx runs one transaction on the chain: chip k's frame is frame n−1−k;
// each chip shifts out its previous shift register.
func (c *vAD5293Chain) tx(w, rd []byte) error {
	n := len(c.chips)
	if len(w) != 2*n {
		return fmt.Errorf("AD5293 chain of %d chips got %d bytes, want %d", n, len(w), 2*n)
	}
	for k := range n - 1 {
		if c.chips[k].hiZ {
			return fmt.Errorf("AD5293 chip %d's SDO is in high impedance (0x8001): chip %d behind it in the daisy chain receives pull-up ones", k, k+1)
		}
	}
	for k := range n {
		j := 2 * (n - 1 - k)
		c.recv[k], c.out[k] = uint16(w[j])<<8|uint16(w[j+1]), c.chips[k].sr
	}
	if c.slow != nil {
		c.throughSlowLink()
	}
	latch := false
	for k := range n {
		j := 2 * (n - 1 - k)
		ch := &c.chips[k]
		if rd != nil {
			out := c.out[k]
			if c.chips[n-1].hiZ {
				out = 0xffff // MISO floats to the pull-up
			}
			rd[j], rd[j+1] = byte(out>>8), byte(out)
		}
		f := c.recv[k]
		ch.sr = f
		changed, err := ch.frame(k, f)
		if err != nil {
			if f == uint16(w[j])<<8|uint16(w[j+1]) {
				return err
			}
			// A frame a slow link garbled: the part ignores what it
			// cannot execute (reserved commands, a write while protected).
		}
		latch = latch || changed
	}
	if latch {
		return c.latch()
	}
	return nil
}

// throughSlowLink passes the transaction through the slow link into chip
// k. That link carries what chip k−1's SDO sends: the old shift registers
// of chips k−1 … 0, then the host's frames. Chip k and those behind it
// receive their frames through it; the old shift registers of chips
// before k reach MISO through it.
func (c *vAD5293Chain) throughSlowLink() {
	n, k := len(c.chips), c.slow.at
	s := c.stream
	for p := range n {
		if p < k {
			s[p] = c.out[k-1-p]
		} else {
			s[p] = c.recv[n-1-(p-k)]
		}
	}
	c.slow.pass(s)
	for j := k; j < n; j++ {
		c.recv[j] = s[n-1-(j-k)]
	}
	for j := range k {
		c.out[j] = s[k-1-j]
	}
}

// frame executes one chip's 16-bit frame; changed reports a wiper or
// shutdown change that reaches the analog board.
func (ch *rheostat) frame(k int, f uint16) (changed bool, err error) {
	if f == 0x8001 {
		ch.floatReq = true
		return false, nil
	}
	if f>>14 != 0 {
		return false, fmt.Errorf("AD5293 chip %d: frame %#04x has its two top bits set", k, f)
	}
	cmd, data := f>>10&0xf, int(f&0x3ff)
	if ch.floatReq {
		ch.floatReq = false
		if cmd == 0x0 {
			ch.hiZ = true
			return false, nil
		}
	}
	switch cmd {
	case 0x0:
	case 0x1:
		if !ch.unlocked {
			return false, fmt.Errorf("AD5293 chip %d: wiper write %d while write-protected (the chip would ignore it)", k, data)
		}
		if ch.stuck {
			return false, nil
		}
		ch.wiper, changed = data, true
	case 0x2:
		ch.sr, ch.hiZ = uint16(ch.wiper), false
	case 0x4:
		ch.wiper, ch.unlocked, changed = 512, false, true
	case 0x6:
		ch.unlocked = data&0x2 != 0
	case 0x7:
		ch.sr, ch.hiZ = 0, false
		if ch.unlocked {
			ch.sr = 0x2
		}
	case 0x8:
		ch.shutdown, changed = data&1 != 0, true
	default:
		return false, fmt.Errorf("AD5293 chip %d: command %#x not supported", k, cmd)
	}
	return changed, nil
}
