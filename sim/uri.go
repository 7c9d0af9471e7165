package sim

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim/tngd"
)

func init() { hal.Register("sim", openURI) }

// openURI opens "sim:NAME?seed=N" (a built-in profile) or
// "sim:path/to/profile.json?seed=N". The seed defaults to 1.
func openURI(_ context.Context, u *url.URL) (hal.Board, error) {
	name := u.Opaque
	if name == "" {
		name = u.Path
	}
	if name == "" {
		return nil, fmt.Errorf("sim: no profile: want sim:NAME (one of %s) or sim:FILE.json: %w",
			strings.Join(BuiltinNames(), ", "), hal.ErrInvalid)
	}
	if name == "tngd" {
		return tngd.OpenURL(u) // the virtual SPU: its own package and options
	}
	seed := uint64(1)
	q, err := hal.CheckQuery("sim", u, "seed")
	if err != nil {
		return nil, err
	}
	if q.Has("seed") {
		v := q.Get("seed")
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("sim: seed %q: want a non-negative integer: %w", v, hal.ErrInvalid)
		}
		seed = s
	}
	p, err := NamedProfile(name)
	if err != nil {
		return nil, err
	}
	return New(p, seed)
}

// NamedProfile returns the profile a sim: URI names: a .json file's, or
// the built-in of that name.
func NamedProfile(name string) (Profile, error) {
	if strings.HasSuffix(name, ".json") {
		return LoadProfile(name)
	}
	return Builtin(name)
}
