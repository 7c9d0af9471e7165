package virtual

import "fmt"

// vAD5676 is a virtual AD5676: input and DAC registers per channel.
type vAD5676 struct {
	input, out [8]uint16
	down       [8]bool      // powered down: the output is grounded
	readback   int          // channel whose register the next frame shifts out, or -1
	refOff     bool         // internal reference off (AD5676R, command 0x7)
	latch      func() error // what an output update does (nil: nothing)
}

func newAD5676(latch func() error) *vAD5676 { return &vAD5676{readback: -1, latch: latch} }

// volts implements dacDevice.
func (d *vAD5676) volts(ch int, lo, hi float64) float64 {
	lsb := (hi - lo) / 65536
	v := lo
	if !d.down[ch] {
		v += float64(d.out[ch]) * lsb
	}
	return v
}

// tx decodes one AD5676 frame: command 23:20, address 19:16, data.
func (d *vAD5676) tx(w, rd []byte) error {
	if len(w) != 3 {
		return fmt.Errorf("AD5676 frame of %d bytes, want 3", len(w))
	}
	cmd, addr, data := w[0]>>4, int(w[0]&0x0f), uint16(w[1])<<8|uint16(w[2])
	if rd != nil {
		clear(rd)
		if d.readback >= 0 {
			rd[1], rd[2] = byte(d.out[d.readback]>>8), byte(d.out[d.readback])
		}
	}
	d.readback = -1
	if cmd != 0x0 && cmd != 0x4 && cmd != 0x6 && addr >= 8 {
		return fmt.Errorf("AD5676 address %d, want 0..7", addr)
	}
	switch cmd {
	case 0x0: // NOP
		return nil
	case 0x1:
		d.input[addr] = data
		return nil
	case 0x2:
		d.out[addr] = d.input[addr]
	case 0x3:
		d.input[addr], d.out[addr] = data, data
	case 0x4: // two power-down bits per channel, channel 0 in bits 1:0; 00 = normal
		for ch := range d.down {
			d.down[ch] = data>>(2*ch)&3 != 0
		}
	case 0x6:
		if data != 0x1234 {
			return fmt.Errorf("AD5676 software reset with key %#04x, want 0x1234", data)
		}
		*d = vAD5676{readback: -1, latch: d.latch}
	case 0x7: // AD5676R internal reference setup: bit 0 set = off; the other bits are reserved
		if data&^1 != 0 {
			return fmt.Errorf("AD5676 reference setup data %#04x, want 0 (on) or 1 (off)", data)
		}
		d.refOff = data == 1
		return nil
	case 0x9:
		d.readback = addr
		return nil
	default:
		return fmt.Errorf("AD5676 command %#x not supported", cmd)
	}
	if d.latch == nil {
		return nil
	}
	return d.latch()
}
