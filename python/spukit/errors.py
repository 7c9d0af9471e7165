"""Exceptions of the spukit client, mirroring the board contract's sentinel
errors (package hal of the Go module) as the server sends them.

spu serve encodes a board error as a gRPC status whose message is the Go
error's text and whose detail (spukit.board.v1.Error) names the hal
sentinel by its text ("saturated", "board busy", …) and, for range and
saturation errors, their fields (remote/internal/wire/errors.go). The
client rebuilds the matching exception below, carrying the server's
message unchanged; a status without a sentinel maps by its gRPC code the
way the Go client does (Unavailable → DisconnectedError, Unauthenticated →
UnauthenticatedError, DeadlineExceeded → BoardTimeoutError).
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

from spukit.board.v1 import board_pb2

__all__ = [
    "SpukitError", "OutOfRangeError", "DimensionError", "InvalidError", "SaturatedError",
    "UnstableError", "DisconnectedError", "BoardTimeoutError", "UnsupportedError",
    "ClosedError", "BusyError", "UnauthenticatedError", "from_rpc_error",
]


class SpukitError(Exception):
    """A board call failed. ``message`` is the server's text (or the
    client's, for errors found before a call), ``sentinel`` the hal
    sentinel's text ("" when none), ``code`` the gRPC status code (None for
    client-side errors)."""

    sentinel = ""

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


class OutOfRangeError(SpukitError, ValueError):
    """hal.ErrOutOfRange: a value outside the board's range. For a
    *hal.RangeError the fields ``what, row, col, value, min, max, unit,
    hint`` are set (row/col are -1 when not applicable)."""

    sentinel = "out of range"
    what = ""
    row = col = -1
    value = min = max = float("nan")
    unit = hint = ""


class DimensionError(SpukitError, ValueError):
    """hal.ErrDimension: sizes do not match the board's cells."""

    sentinel = "dimension mismatch"


class InvalidError(SpukitError, ValueError):
    """hal.ErrInvalid: a malformed argument (NaN, negative time, …)."""

    sentinel = "invalid argument"


class SaturatedError(SpukitError):
    """hal.ErrSaturated: readings hit the ADC's limits. ``counts`` are the
    saturated readings per cell, ``samples`` the samples read; a
    Board.sample that saturates still delivers its samples in ``data``."""

    sentinel = "saturated"
    counts: list[int] = []
    samples = 0
    data = None


class UnstableError(SpukitError):
    """hal.ErrUnstable: the coupling matrix has an eigenvalue with
    non-positive real part; the board refused it."""

    sentinel = "unstable coupling matrix"


class DisconnectedError(SpukitError, ConnectionError):
    """hal.ErrDisconnected: the board server cannot be reached."""

    sentinel = "board disconnected"


class BoardTimeoutError(SpukitError, TimeoutError):
    """hal.ErrTimeout: the board or the call timed out."""

    sentinel = "timeout"


class UnsupportedError(SpukitError):
    """hal.ErrUnsupported: the board cannot do this."""

    sentinel = "unsupported"


class ClosedError(SpukitError):
    """hal.ErrClosed: the board (or this client's lease) is closed."""

    sentinel = "board closed"


class BusyError(SpukitError):
    """hal.ErrBusy: another client holds the board (wait=False)."""

    sentinel = "board busy"


class UnauthenticatedError(SpukitError, PermissionError):
    """The server refused the client's credentials (token or certificate)."""

    sentinel = ""


_BY_SENTINEL = {c.sentinel: c for c in (
    OutOfRangeError, DimensionError, InvalidError, SaturatedError, UnstableError,
    DisconnectedError, BoardTimeoutError, UnsupportedError, ClosedError, BusyError)}

_BY_CODE = {
    grpc.StatusCode.UNAVAILABLE: DisconnectedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: UnauthenticatedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: BoardTimeoutError,
}


def _status_class():
    """google.rpc.Status, built in a private descriptor pool: the message
    is three fields and python3-grpcio ships no googleapis protos."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    f = descriptor_pb2.FileDescriptorProto(name="spukit/rpc_status.proto", package="google.rpc",
                                           dependency=["google/protobuf/any.proto"], syntax="proto3")
    m = f.message_type.add(name="Status")
    fd = descriptor_pb2.FieldDescriptorProto
    m.field.add(name="code", number=1, type=fd.TYPE_INT32, label=fd.LABEL_OPTIONAL)
    m.field.add(name="message", number=2, type=fd.TYPE_STRING, label=fd.LABEL_OPTIONAL)
    m.field.add(name="details", number=3, type=fd.TYPE_MESSAGE, label=fd.LABEL_REPEATED,
                type_name=".google.protobuf.Any")
    pool.Add(f)
    desc = pool.FindMessageTypeByName("google.rpc.Status")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


_Status = _status_class()


def error_detail(err: grpc.RpcError) -> board_pb2.Error | None:
    """The spukit.board.v1.Error detail of a status error, or None."""
    md = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for key, value in md or ():
        if key != "grpc-status-details-bin":
            continue
        st = _Status.FromString(value)
        for d in st.details:
            if d.type_url.endswith("/" + board_pb2.Error.DESCRIPTOR.full_name):
                e = board_pb2.Error()
                e.ParseFromString(d.value)
                return e
    return None


def from_rpc_error(op: str, err: grpc.RpcError) -> SpukitError:
    """Rebuilds the server's board error from a failed call ``op``: the
    exception class of its hal sentinel with the server's message, or one
    chosen by the gRPC code when the status names no sentinel."""
    code = err.code() if hasattr(err, "code") else None
    text = err.details() if hasattr(err, "details") else str(err)
    d = error_detail(err)
    if d is not None and (d.sentinel or d.HasField("range")):
        cls = _BY_SENTINEL.get(d.sentinel, SpukitError)
        if d.HasField("range"):
            cls = OutOfRangeError
        e = cls(text or "", code)
        if cls is SpukitError:
            e.sentinel = d.sentinel  # a sentinel newer than this client
        if d.HasField("range"):
            r = d.range
            e.what, e.row, e.col, e.value = r.what, r.row, r.col, r.value
            e.min, e.max, e.unit, e.hint = r.min, r.max, r.unit, r.hint
        if d.HasField("saturation") and isinstance(e, SaturatedError):
            e.counts, e.samples = list(d.saturation.counts), d.saturation.samples
        return e
    cls = _BY_CODE.get(code, SpukitError)
    msg = f"{op}: {text}"
    if cls is DisconnectedError:
        msg = f"{op}: board server unreachable: {text}"
    elif cls is SpukitError:
        msg = f"{op}: board server: {text} ({code.name if code else '?'})"
    return cls(msg, code)
