// Package wire converts between package hal's types and the protocol
// messages of package boardpb, in both directions, for the client (package
// remote) and the server (package remote/server): one home for the
// encoding of Info, factorizations and errors.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
)

// Major and Minor are the protocol version this code speaks: Major is the
// proto package's (spukit.board.v1); Minor counts compatible additions.
const (
	Major = 1
	Minor = 3
)

// InfoToPB encodes in.
func InfoToPB(in hal.Info) *boardpb.Info {
	return &boardpb.Info{
		Model: in.Model, Serial: in.Serial, Firmware: in.Firmware,
		Cells:             int64(in.Cells),
		Topology:          int32(in.Topology),
		Coupling:          &boardpb.Range{Min: in.Coupling.Min, Max: in.Coupling.Max},
		CouplingStep:      in.CouplingStep,
		Bias:              &boardpb.Converter{Min: in.Bias.Min, Max: in.Bias.Max, Bits: int32(in.Bias.Bits)},
		Adc:               &boardpb.Converter{Min: in.ADC.Min, Max: in.ADC.Max, Bits: int32(in.ADC.Bits)},
		TauNs:             int64(in.Tau),
		Noise:             in.Noise,
		MinSamplePeriodNs: int64(in.MinSamplePeriod),
		Caps:              uint64(in.Caps),
	}
}

// InfoFromPB decodes p; the caller validates the result (Info.Validate).
// Missing sub-messages decode as zero ranges, which Validate refuses.
func InfoFromPB(p *boardpb.Info) hal.Info {
	return hal.Info{
		Model: p.GetModel(), Serial: p.GetSerial(), Firmware: p.GetFirmware(),
		Cells:           int(p.GetCells()),
		Topology:        hal.Topology(p.GetTopology()),
		Coupling:        hal.Range{Min: p.GetCoupling().GetMin(), Max: p.GetCoupling().GetMax()},
		CouplingStep:    p.GetCouplingStep(),
		Bias:            hal.Converter{Range: hal.Range{Min: p.GetBias().GetMin(), Max: p.GetBias().GetMax()}, Bits: int(p.GetBias().GetBits())},
		ADC:             hal.Converter{Range: hal.Range{Min: p.GetAdc().GetMin(), Max: p.GetAdc().GetMax()}, Bits: int(p.GetAdc().GetBits())},
		Tau:             time.Duration(p.GetTauNs()),
		Noise:           p.GetNoise(),
		MinSamplePeriod: time.Duration(p.GetMinSamplePeriodNs()),
		Caps:            hal.Capability(p.GetCaps()),
	}
}

// FactorizationToPB encodes f (not nil) for call c, its arrays packed
// when packed (a server of minor version ≥ PackedMinor).
func FactorizationToPB(c *boardpb.Call, f *hal.Factorization, packed bool) *boardpb.SetFactoredCouplingsRequest {
	r := &boardpb.SetFactoredCouplingsRequest{
		Call: c, Rows: int64(f.J.Rows), Cols: int64(f.J.Cols), RowsPerSample: int64(f.J.RowsPerSample),
		Scale: f.Scale, Lambda: f.Lambda,
	}
	if packed {
		r.HPacked = Pack(f.H)
	} else {
		r.H = f.H
	}
	for _, b := range f.J.Blocks {
		pb := &boardpb.JacobianBlock{Col: int64(b.Col), Out: int64(b.Out), In: int64(b.In)}
		if packed {
			pb.SignalPacked, pb.InputPacked = Pack(b.Signal), Pack(b.Input)
		} else {
			pb.Signal, pb.Input = b.Signal, b.Input
		}
		r.Blocks = append(r.Blocks, pb)
	}
	return r
}

// FactorizationFromPB decodes r. Sizes that do not fit an int decode as
// -1, which Factorization.Validate refuses as ErrDimension; the slices are
// r's own or decoded from its packed bytes, so nothing is allocated by a
// length the request claims. A malformed packed field is ErrInvalid.
func FactorizationFromPB(r *boardpb.SetFactoredCouplingsRequest) (*hal.Factorization, error) {
	h, err := Floats("h", r.GetH(), r.GetHPacked())
	if err != nil {
		return nil, err
	}
	f := &hal.Factorization{
		J: hal.Jacobian{Rows: toInt(r.GetRows()), Cols: toInt(r.GetCols()), RowsPerSample: toInt(r.GetRowsPerSample())},
		H: h, Scale: r.GetScale(), Lambda: r.GetLambda(),
	}
	f.J.Blocks = make([]hal.JacobianBlock, 0, len(r.GetBlocks()))
	for i, b := range r.GetBlocks() {
		sig, err := Floats(fmt.Sprintf("block %d signal", i), b.GetSignal(), b.GetSignalPacked())
		if err != nil {
			return nil, err
		}
		in, err := Floats(fmt.Sprintf("block %d input", i), b.GetInput(), b.GetInputPacked())
		if err != nil {
			return nil, err
		}
		f.J.Blocks = append(f.J.Blocks, hal.JacobianBlock{
			Col: toInt(b.GetCol()), Out: toInt(b.GetOut()), In: toInt(b.GetIn()), Signal: sig, Input: in,
		})
	}
	return f, nil
}

// maxDim bounds a decoded size, so that products of two sizes (Out·In,
// Rows·Out) cannot overflow an int on any platform the code builds for.
const maxDim = 1 << 30

// toInt converts a wire size, mapping one outside [0, 2³⁰) to -1.
func toInt(v int64) int {
	if v < 0 || v >= maxDim {
		return -1
	}
	return int(v)
}

// DiagnosticsToPB encodes ds.
func DiagnosticsToPB(ds []hal.Diagnostic) *boardpb.DiagnoseReply {
	r := &boardpb.DiagnoseReply{}
	for _, d := range ds {
		r.Diagnostics = append(r.Diagnostics, &boardpb.Diagnostic{
			Component: d.Component, Check: d.Check, Pass: d.Pass, Measured: d.Measured, Expected: d.Expected, Hint: d.Hint,
		})
	}
	return r
}

// DiagnosticsFromPB decodes r.
func DiagnosticsFromPB(r *boardpb.DiagnoseReply) []hal.Diagnostic {
	out := make([]hal.Diagnostic, 0, len(r.GetDiagnostics()))
	for _, d := range r.GetDiagnostics() {
		out = append(out, hal.Diagnostic{
			Component: d.GetComponent(), Check: d.GetCheck(), Pass: d.GetPass(),
			Measured: d.GetMeasured(), Expected: d.GetExpected(), Hint: d.GetHint(),
		})
	}
	return out
}

// NewID returns a random id (a lease, an Acquire's request id):
// unguessable, so that one client cannot use another's.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
