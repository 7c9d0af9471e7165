package hal

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Opener opens a board from a parsed URI. Drivers register one per scheme.
type Opener func(ctx context.Context, u *url.URL) (Board, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Opener{}
)

// Register makes a driver available under scheme (e.g. "sim", "serial").
// It panics if scheme is empty, open is nil, or scheme is already
// registered: those are programming errors caught at init.
func Register(scheme string, open Opener) {
	regMu.Lock()
	defer regMu.Unlock()
	if scheme == "" || open == nil {
		panic("hal: Register with empty scheme or nil opener")
	}
	if _, dup := registry[scheme]; dup {
		panic("hal: Register called twice for scheme " + scheme)
	}
	registry[scheme] = open
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open opens the board named by uri, such as "sim:proto8?seed=3",
// "sim:path/profile.json" or "serial:///dev/ttyACM0?baud=921600". The
// driver for the scheme must have been registered, usually by importing its
// package for side effects. An unknown scheme is ErrUnsupported and the
// message lists the known ones. The board comes back in the neutral state
// of the package doc: A = I, b = 0 (and x = 0 where the board can force
// it), whatever was programmed before it was opened.
func Open(ctx context.Context, uri string) (Board, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("board URI %q: %v: %w", uri, err, ErrInvalid)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("board URI %q has no scheme (want SCHEME:..., known: %s): %w",
			uri, strings.Join(Schemes(), ", "), ErrInvalid)
	}
	regMu.RLock()
	open := registry[u.Scheme]
	regMu.RUnlock()
	if open == nil {
		known := strings.Join(Schemes(), ", ")
		if known == "" {
			known = "none registered"
		}
		return nil, fmt.Errorf("board URI %q: unknown scheme %q (known: %s): %w", uri, u.Scheme, known, ErrUnsupported)
	}
	b, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", uri, err)
	}
	return b, nil
}

// CheckQuery parses the query of board URI u strictly and returns its
// options, one value per key. It is the one place where board URIs' options
// are read, so every scheme refuses the same things, naming the scheme:
//
//   - a malformed query — a ';' separator or a bad %-escape, which
//     url.URL.Query would silently drop: "sim: malformed options "seed=%zz":
//     invalid URL escape "%zz" (write key=value pairs joined by &)";
//   - a key given more than once (which value wins would be a guess);
//   - a key that is not one of known, the first in sorted order:
//     "sim: unknown option "speed" (known: seed)".
//
// Every error wraps ErrInvalid. Drivers call it before reading any option.
func CheckQuery(scheme string, u *url.URL, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed options %q: %v (write key=value pairs joined by &): %w",
			scheme, u.RawQuery, err, ErrInvalid)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("%s: unknown option %q (known: %s): %w", scheme, k, strings.Join(known, ", "), ErrInvalid)
		}
	}
	for _, k := range keys {
		if v := q[k]; len(v) > 1 {
			return nil, fmt.Errorf("%s: option %q given %d times (%s=%s): give each option once: %w",
				scheme, k, len(v), k, strings.Join(v, ", "+k+"="), ErrInvalid)
		}
	}
	return q, nil
}
