package serial

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
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
		return nil, fmt.Errorf("serial: open %s: %v: %w", path, err, hal.ErrDisconnected)
	}
	d, err := New(ctx, p, &opts)
	if err != nil {
		p.Close()
		return nil, err
	}
	return d.Clocked(), nil
}
