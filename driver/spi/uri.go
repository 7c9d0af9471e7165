package spi

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	pspi "periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"github.com/spukit/spukit/hal"
)

func init() { hal.Register("spi", openURI) }

// openURI opens "spi:///dev/spidev0.0?wiring=FILE&serial=S". The path must
// be one of the wiring's ports (a check that the wiring is the one meant);
// without wiring= the default wiring (ref8) is used. PeriphHost loads
// periph's host drivers on first use.
func openURI(ctx context.Context, u *url.URL) (hal.Board, error) {
	q, err := hal.CheckQuery("spi", u, "wiring", "serial")
	if err != nil {
		return nil, err
	}
	w := DefaultWiring()
	if f := q.Get("wiring"); f != "" {
		var err error
		if w, err = LoadWiring(f); err != nil {
			return nil, err
		}
	}
	if u.Path != "" && !slices.Contains(w.Ports(), u.Path) {
		return nil, fmt.Errorf("port %s is not in wiring %s (its ports: %s): %w", u.Path, w.Model,
			strings.Join(w.Ports(), ", "), hal.ErrInvalid)
	}
	return New(ctx, NewPeriphHost(), w, &Opts{Serial: q.Get("serial")})
}

// PeriphHost is the Host of real hardware: ports from spireg, pins from
// gpioreg, the wall clock. It initialises periph's host drivers
// (periph.io/x/host/v3 host.Init) itself, once per process, before its
// first port or pin, so no program has to know to do it.
type PeriphHost struct {
	t0 time.Time
}

// initHost runs periph's host.Init once: it registers the host's SPI ports
// and GPIO pins with spireg and gpioreg. A driver that fails to load on
// this host (no SPI, not a Pi) is not an error here; its ports are then
// missing, and OpenSPI says what to do.
var initHost = sync.OnceValue(func() error {
	if _, err := host.Init(); err != nil {
		return fmt.Errorf("initialise periph's host drivers: %w", err)
	}
	return nil
})

// NewPeriphHost returns a host whose clock starts now.
func NewPeriphHost() *PeriphHost { return &PeriphHost{t0: time.Now()} }

// OpenSPI implements Host. A port periph does not know is explained: the
// device file is missing (SPI not enabled), or present but not usable.
func (h *PeriphHost) OpenSPI(name string) (pspi.PortCloser, error) {
	if err := initHost(); err != nil {
		return nil, err
	}
	p, err := spireg.Open(name)
	if err == nil {
		return p, nil
	}
	known := []string{}
	for _, r := range spireg.All() {
		known = append(known, r.Name)
	}
	have := "none"
	if len(known) > 0 {
		have = strings.Join(known, ", ")
	}
	if strings.HasPrefix(name, "/dev/") {
		if _, serr := os.Stat(name); serr != nil {
			return nil, fmt.Errorf("SPI device %s does not exist on this %s/%s machine (SPI ports periph found: %s); "+
				"enable SPI (Raspberry Pi: `sudo raspi-config nonint do_spi 0`, or dtparam=spi=on in config.txt, then reboot) "+
				"and see docs/boards.md: %w", name, runtime.GOOS, runtime.GOARCH, have, hal.ErrUnsupported)
		}
	}
	return nil, fmt.Errorf("SPI port %s cannot be opened (SPI ports periph found: %s; is your user in group spi?): %v: %w",
		name, have, err, hal.ErrUnsupported)
}

// Pin implements Host.
func (h *PeriphHost) Pin(name string) (gpio.PinIO, error) {
	if err := initHost(); err != nil {
		return nil, err
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("GPIO %s unknown to periph (%d pins registered; is this the right host?): %w",
			name, len(gpioreg.All()), hal.ErrUnsupported)
	}
	return p, nil
}

// Now implements Host.
func (h *PeriphHost) Now() time.Duration { return time.Since(h.t0) }

// spin is the tail of a wait done by polling: timers on a general-purpose
// OS overshoot by tens of µs.
const spin = 200 * time.Microsecond

// SleepUntil implements Host.
func (h *PeriphHost) SleepUntil(ctx context.Context, t time.Duration) error {
	if d := t - h.Now() - spin; d > 0 {
		tm := time.NewTimer(d)
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C:
		}
	}
	for h.Now() < t {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
