package hal_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// stubBoard is the least Board: the registry never calls its methods.
type stubBoard struct{ name string }

func (stubBoard) Info() hal.Info                                { return hal.Info{} }
func (stubBoard) SetCouplings(context.Context, []float64) error { return nil }
func (stubBoard) SetBias(context.Context, []float64) error      { return nil }
func (stubBoard) SetState(context.Context, []float64) error     { return nil }
func (stubBoard) Run(context.Context, time.Duration) error      { return nil }
func (stubBoard) Sample(context.Context, time.Duration, []float64) (int, error) {
	return 0, nil
}
func (stubBoard) Close() error { return nil }

type ctxKey struct{}

// The registry is global and keeps what was registered: every test registers
// schemes of its own, made unique per run so that -count=N works.
var schemeSeq atomic.Int64

func uniq(name string) string { return fmt.Sprintf("%s-%d-z", name, schemeSeq.Add(1)) }

func TestRegisterOpenPassesParsedURI(t *testing.T) {
	var gotURL *url.URL
	var gotCtx any
	want := &stubBoard{name: "opened"}
	scheme := uniq("haltest-open")
	hal.Register(scheme, func(ctx context.Context, u *url.URL) (hal.Board, error) {
		gotURL, gotCtx = u, ctx.Value(ctxKey{})
		return want, nil
	})

	ctx := context.WithValue(context.Background(), ctxKey{}, "marker")
	b, err := hal.Open(ctx, scheme+":proto8?seed=3")
	require.NoError(t, err)
	assert.Same(t, want, b, "Open returns the opener's board")
	require.NotNil(t, gotURL)
	assert.Equal(t, scheme, gotURL.Scheme)
	assert.Equal(t, "proto8", gotURL.Opaque)
	assert.Equal(t, "3", gotURL.Query().Get("seed"))
	assert.Equal(t, "marker", gotCtx, "Open passes its context to the opener")

	_, err = hal.Open(ctx, scheme+":///dev/ttyACM0?baud=921600")
	require.NoError(t, err)
	assert.Equal(t, "/dev/ttyACM0", gotURL.Path)
	assert.Equal(t, "921600", gotURL.Query().Get("baud"))
}

func TestSchemesSortedAndComplete(t *testing.T) {
	open := func(context.Context, *url.URL) (hal.Board, error) { return stubBoard{}, nil }
	names := []string{uniq("haltest-zulu"), uniq("haltest-alpha"), uniq("haltest-mike")}
	for _, name := range names {
		hal.Register(name, open)
	}
	s := hal.Schemes()
	assert.True(t, slices.IsSorted(s), "Schemes() = %v is not sorted", s)
	for _, name := range names {
		assert.Contains(t, s, name)
	}
	// the result is a copy: changing it does not change the registry
	s[0] = "clobbered"
	assert.NotContains(t, hal.Schemes(), "clobbered")
}

func TestOpenUnknownSchemeListsKnown(t *testing.T) {
	open := func(context.Context, *url.URL) (hal.Board, error) { return stubBoard{}, nil }
	known1, known2 := uniq("haltest-known"), uniq("haltest-known")
	hal.Register(known1, open)
	hal.Register(known2, open)
	b, err := hal.Open(context.Background(), "haltest-nosuch:foo")
	assert.Nil(t, b)
	require.ErrorIs(t, err, hal.ErrUnsupported)
	assert.NotErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), "haltest-nosuch")
	assert.Contains(t, err.Error(), known1)
	assert.Contains(t, err.Error(), known2)
}

func TestOpenWithoutSchemeIsInvalid(t *testing.T) {
	for _, uri := range []string{"proto8", "", "/dev/ttyACM0"} {
		b, err := hal.Open(context.Background(), uri)
		assert.Nil(t, b)
		assert.ErrorIs(t, err, hal.ErrInvalid, "uri %q", uri)
		assert.NotErrorIs(t, err, hal.ErrUnsupported, "uri %q", uri)
	}
}

func TestOpenUnparsableURIIsInvalid(t *testing.T) {
	for _, uri := range []string{"://nohost", "sim://host:port-not-a-number/x"} {
		_, err := hal.Open(context.Background(), uri)
		assert.ErrorIs(t, err, hal.ErrInvalid, "uri %q", uri)
	}
}

func TestOpenWrapsOpenerError(t *testing.T) {
	cause := fmt.Errorf("profile %q not found: %w", "nosuch", hal.ErrInvalid)
	scheme := uniq("haltest-failing")
	hal.Register(scheme, func(context.Context, *url.URL) (hal.Board, error) {
		return nil, cause
	})
	b, err := hal.Open(context.Background(), scheme+":nosuch")
	assert.Nil(t, b)
	require.ErrorIs(t, err, cause)
	assert.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), scheme+":nosuch", "the message names the URI")
}

func TestRegisterPanics(t *testing.T) {
	open := func(context.Context, *url.URL) (hal.Board, error) { return stubBoard{}, nil }
	dup := uniq("haltest-dup")
	hal.Register(dup, open)
	assert.Panics(t, func() { hal.Register(dup, open) }, "duplicate scheme")
	assert.Panics(t, func() { hal.Register("", open) }, "empty scheme")
	nilOpener := uniq("haltest-nilopener")
	assert.Panics(t, func() { hal.Register(nilOpener, nil) }, "nil opener")
	assert.NotContains(t, hal.Schemes(), nilOpener, "a rejected registration must not be kept")

	// The first registration survives the rejected duplicate.
	b, err := hal.Open(context.Background(), dup+":x")
	require.NoError(t, err)
	assert.NotNil(t, b)
}

func TestRegisterConcurrent(t *testing.T) {
	open := func(context.Context, *url.URL) (hal.Board, error) { return stubBoard{}, nil }
	names := make([]string, 8)
	for i := range names {
		names[i] = uniq("haltest-conc")
	}
	done := make(chan struct{})
	for _, name := range names {
		go func() {
			defer func() { done <- struct{}{} }()
			hal.Register(name, open)
			_ = hal.Schemes()
			_, _ = hal.Open(context.Background(), name+":x")
		}()
	}
	for range names {
		<-done
	}
	s := hal.Schemes()
	for _, name := range names {
		assert.Contains(t, s, name)
	}
}

var _ hal.Board = stubBoard{}

func TestErrorsWrapThroughOpen(t *testing.T) {
	// errors.As still finds a typed error returned by an opener.
	scheme := uniq("haltest-range")
	hal.Register(scheme, func(context.Context, *url.URL) (hal.Board, error) {
		return nil, &hal.RangeError{What: "baud", Row: -1, Col: -1, Value: 7, Min: 9600, Max: 921600}
	})
	_, err := hal.Open(context.Background(), scheme+":x")
	var re *hal.RangeError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 7.0, re.Value)
	assert.ErrorIs(t, err, hal.ErrOutOfRange)
}

// Unknown URI options are reported in sorted order, so the message does
// not depend on map iteration.
func TestCheckQuery(t *testing.T) {
	check := func(uri string, known ...string) (url.Values, error) {
		u, err := url.Parse(uri)
		require.NoError(t, err)
		return hal.CheckQuery("sim", u, known...)
	}
	for range 20 {
		_, err := check("sim:x?zeta=1&seed=2&alpha=3", "seed")
		require.ErrorIs(t, err, hal.ErrInvalid)
		assert.Equal(t, `sim: unknown option "alpha" (known: seed): invalid argument`, err.Error())
	}
	q, err := check("sim:x?seed=2", "seed")
	require.NoError(t, err)
	assert.Equal(t, url.Values{"seed": {"2"}}, q)
	q, err = check("sim:x", "seed")
	require.NoError(t, err)
	assert.Empty(t, q)
}

// A malformed query (url.URL.Query drops such pairs silently) and a key
// given twice are refused, naming what is wrong.
func TestCheckQueryMalformed(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"sim:proto8?seed=5;x=1", `sim: malformed options "seed=5;x=1": invalid semicolon separator in query`},
		{"sim:proto8?seed=%zz", `sim: malformed options "seed=%zz": invalid URL escape "%zz"`},
		{"sim:proto8?seed=1&seed=2", `sim: option "seed" given 2 times (seed=1, seed=2): give each option once`},
	} {
		u, err := url.Parse(tc.uri)
		require.NoError(t, err)
		_, err = hal.CheckQuery("sim", u, "seed", "x")
		require.ErrorIs(t, err, hal.ErrInvalid, tc.uri)
		assert.Contains(t, err.Error(), tc.want)
	}
}
