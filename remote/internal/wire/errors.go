package wire

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
)

// sentinels pairs each hal sentinel with the gRPC code it travels as. The
// code lets a generic gRPC client branch; the Error detail carries the
// sentinel itself (by its text, which is stable) so errors.Is holds.
var sentinels = []struct {
	err  error
	code codes.Code
}{
	{hal.ErrOutOfRange, codes.OutOfRange},
	{hal.ErrDimension, codes.InvalidArgument},
	{hal.ErrInvalid, codes.InvalidArgument},
	{hal.ErrSaturated, codes.OutOfRange},
	{hal.ErrUnstable, codes.FailedPrecondition},
	{hal.ErrDisconnected, codes.Unavailable},
	{hal.ErrTimeout, codes.DeadlineExceeded},
	{hal.ErrUnsupported, codes.Unimplemented},
	{hal.ErrClosed, codes.FailedPrecondition},
	{hal.ErrBusy, codes.ResourceExhausted},
}

// ToStatus encodes a board error as a gRPC status error whose message is
// err's text and whose detail names its sentinel and, for a *RangeError
// or *SaturationError, their fields. samples is the number of complete
// samples delivered before the error (Sample; 0 elsewhere). A context error
// becomes Canceled or DeadlineExceeded without a sentinel.
func ToStatus(err error, samples int) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	d := &boardpb.Error{Samples: int64(samples)}
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	default:
		for _, s := range sentinels {
			if errors.Is(err, s.err) {
				code, d.Sentinel = s.code, s.err.Error()
				break
			}
		}
	}
	var re *hal.RangeError
	if errors.As(err, &re) {
		d.Range = &boardpb.RangeError{What: re.What, Row: int64(re.Row), Col: int64(re.Col),
			Value: re.Value, Min: re.Min, Max: re.Max, Unit: re.Unit, Hint: re.Hint}
	}
	var se *hal.SaturationError
	if errors.As(err, &se) {
		d.Saturation = &boardpb.SaturationError{Samples: int64(se.Samples)}
		for _, c := range se.Counts {
			d.Saturation.Counts = append(d.Saturation.Counts, int64(c))
		}
	}
	st, derr := status.New(code, err.Error()).WithDetails(d)
	if derr != nil {
		return status.Error(code, err.Error())
	}
	return st.Err()
}

// RemoteError is a board error that came over the network: its text is
// the server's, and it unwraps to what the server's error matched (a hal
// sentinel, a rebuilt *hal.RangeError or *hal.SaturationError).
type RemoteError struct {
	Msg   string
	Cause error
}

// Error returns the server's message.
func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the rebuilt cause.
func (e *RemoteError) Unwrap() error { return e.Cause }

// ErrUnauthenticated is the server's refusal of the client's credentials
// (a missing or wrong token or client certificate).
var ErrUnauthenticated = errors.New("not authenticated by the board server")

// FromStatus decodes an error a board call returned. It returns the
// number of complete samples the server delivered before it (Sample) and
// an error that matches the server's sentinel: a status without a
// sentinel is hal.ErrDisconnected when the connection failed
// (Unavailable), ErrUnauthenticated when refused, and an error carrying
// the status text otherwise. ctx's own error takes precedence, as the
// Board contract asks.
func FromStatus(ctx context.Context, op string, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	st, _ := status.FromError(err)
	var d *boardpb.Error
	for _, x := range st.Details() {
		if e, ok := x.(*boardpb.Error); ok {
			d = e
		}
	}
	n := int(max(0, min(d.GetSamples(), 1<<40)))
	if cerr := ctx.Err(); cerr != nil {
		return n, fmt.Errorf("%s: %w", op, cerr)
	}
	if d == nil || d.GetSentinel() == "" && d.GetRange() == nil {
		return n, bare(op, st)
	}
	return n, &RemoteError{Msg: st.Message(), Cause: cause(d)}
}

// Transient reports whether err is a broken connection, worth retrying:
// Unavailable from gRPC itself, not a board error the server sent
// (hal.ErrDisconnected travels as Unavailable too, with an Error detail,
// and a retry would only get it again).
func Transient(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	for _, x := range st.Details() {
		if _, ok := x.(*boardpb.Error); ok {
			return false
		}
	}
	return true
}

// bare maps a status without a board sentinel.
func bare(op string, st *status.Status) error {
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("%s: board server unreachable: %s: %w", op, st.Message(), hal.ErrDisconnected)
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("%s: %s: %w", op, st.Message(), ErrUnauthenticated)
	case codes.Canceled:
		return fmt.Errorf("%s: %s: %w", op, st.Message(), context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %s: %w", op, st.Message(), hal.ErrTimeout)
	}
	return fmt.Errorf("%s: board server: %s (%s)", op, st.Message(), st.Code())
}

// cause rebuilds what a server error matched.
func cause(d *boardpb.Error) error {
	if r := d.GetRange(); r != nil {
		return &hal.RangeError{What: r.GetWhat(), Row: int(r.GetRow()), Col: int(r.GetCol()),
			Value: r.GetValue(), Min: r.GetMin(), Max: r.GetMax(), Unit: r.GetUnit(), Hint: r.GetHint()}
	}
	if s := d.GetSaturation(); s != nil {
		e := &hal.SaturationError{Samples: int(s.GetSamples()), Counts: make([]int, len(s.GetCounts()))}
		for i, c := range s.GetCounts() {
			e.Counts[i] = int(c)
		}
		return e
	}
	for _, s := range sentinels {
		if s.err.Error() == d.GetSentinel() {
			return s.err
		}
	}
	// A sentinel this client does not know (a newer server): keep the text.
	return errors.New(d.GetSentinel())
}
