package emu

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spukit/spukit/firmware"
	"github.com/spukit/spukit/hal"
)

// Faults are seeded link faults, applied to each chunk the firmware reads
// and each frame it writes: Drop loses it, Flip inverts one random bit, Dup
// sends it twice, Delay holds it back.
type Faults struct {
	Drop, Flip, Dup float64
	Delay           time.Duration
}

// MaxDelay bounds the Delay fault: it is 100× the serial driver's default
// reply timeout, so anything longer only makes every request time out (and
// a typo in units such as 100h would stall the emulator for days).
const MaxDelay = 10 * time.Second

// ParseFaults reads "drop=P,flip=P,dup=P,delay=D"; each key at most once.
func ParseFaults(s string) (Faults, error) {
	var f Faults
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	seen := make(map[string]bool)
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return f, fmt.Errorf("faults %q: want key=value pairs: %w", kv, hal.ErrInvalid)
		}
		if seen[k] {
			return f, fmt.Errorf("faults: %q given twice: give each key once: %w", k, hal.ErrInvalid)
		}
		seen[k] = true
		if k == "delay" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > MaxDelay {
				return f, fmt.Errorf("faults delay %q: want a duration from 0 to %v (longer only times every request out): %w", v, MaxDelay, hal.ErrInvalid)
			}
			f.Delay = d
			continue
		}
		p, err := strconv.ParseFloat(v, 64)
		// Written so that NaN fails too: every comparison with NaN is false.
		if err != nil || !(p >= 0 && p <= 1) {
			return f, fmt.Errorf("faults %s=%q: want a finite probability in [0, 1]: %w", k, v, hal.ErrInvalid)
		}
		switch k {
		case "drop":
			f.Drop = p
		case "flip":
			f.Flip = p
		case "dup":
			f.Dup = p
		default:
			return f, fmt.Errorf("faults: unknown key %q (known: drop, flip, dup, delay): %w", k, hal.ErrInvalid)
		}
	}
	return f, nil
}

// faulty wraps a firmware transport with Faults.
type faulty struct {
	mu sync.Mutex
	tr firmware.Transport
	f  Faults
	r  *rand.Rand
}

// WithFaults wraps tr; seed makes the faults repeatable.
func WithFaults(tr firmware.Transport, f Faults, seed uint64) firmware.Transport {
	if f == (Faults{}) {
		return tr
	}
	return &faulty{tr: tr, f: f, r: rand.New(rand.NewPCG(seed, 0x6661756c74))}
}

func (t *faulty) mangle(p []byte) (out []byte, copies int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.r.Float64() < t.f.Drop {
		return nil, 0
	}
	out = p
	if len(p) > 0 && t.r.Float64() < t.f.Flip {
		out = append([]byte(nil), p...)
		i := t.r.IntN(len(out))
		out[i] ^= 1 << t.r.IntN(8)
	}
	copies = 1
	if t.r.Float64() < t.f.Dup {
		copies = 2
	}
	return out, copies
}

func (t *faulty) Read(p []byte) (int, error) {
	n, err := t.tr.Read(p)
	if n == 0 {
		return n, err
	}
	out, copies := t.mangle(p[:n])
	if copies == 0 {
		return 0, err
	}
	copy(p, out) // a duplicated read chunk is not modelled: reads are not frames
	return n, err
}

func (t *faulty) Write(p []byte) (int, error) {
	if t.f.Delay > 0 {
		time.Sleep(t.f.Delay)
	}
	out, copies := t.mangle(p)
	for range copies {
		if _, err := t.tr.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
