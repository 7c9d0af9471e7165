// Package hal is the hardware abstraction layer of spukit: the contract between
// programs that use a stochastic processing unit (SPU) and the drivers that
// talk to one, real or simulated.
//
// # Physics and units
//
// A board has K cells. Cell i holds a node voltage x_i that follows the
// Ornstein–Uhlenbeck process
//
//	dx = -Γ (A x - b) dt + sqrt(2 σ² Γ) dW,   Γ = diag(1/τ_i)
//
// where τ_i = R·C_i is the time constant of cell i (nominally Info.Tau), A is
// the K × K coupling matrix, b the bias vector and σ the injected noise
// intensity (Info.Noise). Values crossing the HAL are physical:
//
//   - couplings A are dimensionless, in units of 1/τ: A_ij = 1 means the cell
//     responds to cell j with the rate of its own nominal time constant;
//   - bias b, state x and samples are in volts;
//   - durations are time.Duration of board time.
//
// For a stable A the node voltages fluctuate around A⁻¹b. For a symmetric
// positive-definite A their stationary covariance is σ²A⁻¹, independent of
// the τ_i; in general it solves Γ A Σ + Σ Aᵀ Γ = 2σ²Γ.
//
// # Opening boards
//
// Drivers register a URI scheme in their init function, like database/sql
// drivers; programs open boards by URI and only ever see the Board interface:
//
//	b, err := hal.Open(ctx, "sim:proto8?seed=3")
//
// Every board starts in the same neutral state when it is opened, whatever
// a previous session (of this or another program) left programmed:
// couplings A = I, bias b = 0 and, where the board can force it, state
// x = 0. A program therefore never inherits couplings or a bias it did not
// set. Drivers for boards that keep their analog state across connections
// (a serial board's firmware, SPI DACs) reset it on open; haltest's Reopen
// check holds every board to this.
//
// # Capabilities
//
// Each optional fact about a board has exactly one signal:
//
//   - what a board is or injects is a bit of Info.Caps (CapNoise,
//     CapSimulated): a description, fixed when the board is opened;
//   - what a board can additionally do is a small interface found by type
//     assertion (Clock, Factored). A board that can do it only sometimes —
//     a serial board whose firmware keeps no clock, a wrapper such as
//     calibration.Wrap or a network client forwarding to a board that may
//     lack it — implements the interface anyway and reports "not here"
//     through the method's own result (Clock's ok; ErrUnsupported from a
//     method that returns an error), so no wrapper needs a second type per
//     combination of capabilities. Read board time with BoardTime(b), never
//     by asserting Clock alone.
//
// A wire protocol may carry such facts in its own encoding (the serial
// firmware's INFO capability bits are package firmware/proto's); drivers
// translate them into the signal above.
//
// # Errors
//
// Conditions callers must branch on are sentinel errors (ErrOutOfRange,
// ErrSaturated, …) tested with errors.Is. Out-of-range values come as a
// *RangeError naming the entry, the value and the allowed range. The
// sentinels are the board contract's: packages that are not about boards
// (the model in optim, the JSON reader internal/jsonfile) have their own
// errors, and a caller adds hal's where its contract says so (a profile
// that is not valid JSON is ErrInvalid to Open).
package hal
