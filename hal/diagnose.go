package hal

import "context"

// Diagnoser is implemented by boards whose driver can check its own parts
// beyond what the Board contract shows: read back a chip's registers,
// time a handshake pin, confirm a chain answers. spu selftest runs it
// before its measurements through the contract, so that a technician
// bringing up a board sees "rheostat 5 does not answer" rather than only a
// wrong node voltage. A board that can check nothing (a simulator, a
// serial board whose firmware exposes no read-back) need not implement it;
// a wrapper that forwards to a board that may lack it returns
// ErrUnsupported.
type Diagnoser interface {
	// Diagnose runs every check the driver knows, restores every setting
	// it changed (couplings, bias, state), and returns one Diagnostic per check. It returns an error only when it
	// could not run at all (closed board, cancelled ctx, a bus error before
	// any check); a part that fails its check is a Diagnostic with
	// Pass = false.
	Diagnose(ctx context.Context) ([]Diagnostic, error)
}

// Diagnostic is the result of one check a driver made of one part.
type Diagnostic struct {
	// Component names the part checked as a technician finds it on the
	// board: chip and chain position, channel, or GPIO, e.g.
	// "AD5293 #5 (A[0][5])" or "AD7606 BUSY (GPIO17)".
	Component string
	// Check says what was checked, e.g. "RDAC read-back".
	Check string
	// Pass reports whether the part behaved as its datasheet says.
	Pass bool
	// Measured and Expected are what was seen and what was wanted, in
	// the part's own terms ("code 0x1FF", "BUSY low within 4 µs").
	Measured, Expected string
	// Hint is, for a failed check, the most likely cause and what to
	// check on the bench; empty when Pass.
	Hint string
}
