package serial

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"syscall"
	"time"

	bug "go.bug.st/serial"

	"github.com/spukit/spukit/hal"
)

func init() { hal.Register("serial", openURI) }

// openURI opens serial:///dev/ttyACM0?baud=921600&timeout=100ms.
func openURI(ctx context.Context, u *url.URL) (hal.Board, error) {
	path := u.Path
	if path == "" {
		path = u.Opaque
	}
	if path == "" {
		return nil, fmt.Errorf("serial: no device: want serial:///dev/ttyACM0: %w", hal.ErrInvalid)
	}
	baud := 921600
	var opts Opts
	q, err := hal.CheckQuery("serial", u, "baud", "timeout")
	if err != nil {
		return nil, err
	}
	for key, vals := range q {
		v := vals[0]
		switch key {
		case "baud":
			b, err := strconv.Atoi(v)
			if err != nil || b <= 0 {
				return nil, fmt.Errorf("serial: baud %q: want a positive integer: %w", v, hal.ErrInvalid)
			}
			baud = b
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("serial: timeout %q: want a positive duration like 100ms: %w", v, hal.ErrInvalid)
			}
			opts.Timeout = d
		}
	}
	p, err := bug.Open(path, &bug.Mode{BaudRate: baud})
	if err != nil {
		return nil, openError(path, err)
	}
	d, err := New(ctx, p, &opts)
	if err != nil {
		p.Close()
		return nil, err
	}
	return d, nil
}

// openError explains why go.bug.st/serial could not open path. On Linux it
// opens the file and then asks for its terminal settings: a file that is
// not a terminal device (a regular file, /dev/null) fails that ioctl with
// ENOTTY, which it reports as a *PortError with code InvalidSerialPort; a
// directory fails the open itself with EISDIR. Both are a wrong path, not
// a board that went away. A missing device still is ErrDisconnected: a USB
// board that is unplugged has no device file.
func openError(path string, err error) error {
	var pe *bug.PortError
	switch {
	case errors.As(err, &pe) && pe.Code() == bug.InvalidSerialPort,
		errors.Is(err, syscall.ENOTTY), errors.Is(err, syscall.EISDIR):
		return fmt.Errorf("serial: %s is not a serial port (not a terminal device: %v); name the board's device, e.g. /dev/ttyACM0 or the pty spu emu prints: %w",
			path, err, hal.ErrInvalid)
	case errors.As(err, &pe) && pe.Code() == bug.PortBusy:
		return fmt.Errorf("serial: %s is busy (another program has it open): %w", path, hal.ErrDisconnected)
	case errors.As(err, &pe) && pe.Code() == bug.PermissionDenied:
		return fmt.Errorf("serial: %s: permission denied (on Linux, is your user in group dialout?): %w", path, hal.ErrDisconnected)
	}
	return fmt.Errorf("serial: open %s: %v: %w", path, err, hal.ErrDisconnected)
}
