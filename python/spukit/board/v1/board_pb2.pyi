from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AcquireReply(_message.Message):
    __slots__ = ["lease", "position", "ttl_ns"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TTL_NS_FIELD_NUMBER: _ClassVar[int]
    lease: str
    position: int
    ttl_ns: int
    def __init__(self, position: _Optional[int] = ..., lease: _Optional[str] = ..., ttl_ns: _Optional[int] = ...) -> None: ...

class AcquireRequest(_message.Message):
    __slots__ = ["client", "request_id", "wait"]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    client: str
    request_id: str
    wait: bool
    def __init__(self, client: _Optional[str] = ..., wait: bool = ..., request_id: _Optional[str] = ...) -> None: ...

class BoardTimeReply(_message.Message):
    __slots__ = ["ns", "ok"]
    NS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ns: int
    ok: bool
    def __init__(self, ns: _Optional[int] = ..., ok: bool = ...) -> None: ...

class BoardTimeRequest(_message.Message):
    __slots__ = ["call"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    call: Call
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ["lease", "seq"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    lease: str
    seq: int
    def __init__(self, lease: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ["call"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    call: Call
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ...) -> None: ...

class Converter(_message.Message):
    __slots__ = ["bits", "max", "min"]
    BITS_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    bits: int
    max: float
    min: float
    def __init__(self, min: _Optional[float] = ..., max: _Optional[float] = ..., bits: _Optional[int] = ...) -> None: ...

class DiagnoseReply(_message.Message):
    __slots__ = ["diagnostics"]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    diagnostics: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    def __init__(self, diagnostics: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ...) -> None: ...

class DiagnoseRequest(_message.Message):
    __slots__ = ["call"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    call: Call
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ...) -> None: ...

class Diagnostic(_message.Message):
    __slots__ = ["check", "component", "expected", "hint", "measured"]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    PASS_FIELD_NUMBER: _ClassVar[int]
    check: str
    component: str
    expected: str
    hint: str
    measured: str
    def __init__(self, component: _Optional[str] = ..., check: _Optional[str] = ..., measured: _Optional[str] = ..., expected: _Optional[str] = ..., hint: _Optional[str] = ..., **kwargs) -> None: ...

class Done(_message.Message):
    __slots__ = ["board_time_ns", "clock"]
    BOARD_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    board_time_ns: int
    clock: bool
    def __init__(self, clock: bool = ..., board_time_ns: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ["range", "samples", "saturation", "sentinel"]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SATURATION_FIELD_NUMBER: _ClassVar[int]
    SENTINEL_FIELD_NUMBER: _ClassVar[int]
    range: RangeError
    samples: int
    saturation: SaturationError
    sentinel: str
    def __init__(self, sentinel: _Optional[str] = ..., range: _Optional[_Union[RangeError, _Mapping]] = ..., saturation: _Optional[_Union[SaturationError, _Mapping]] = ..., samples: _Optional[int] = ...) -> None: ...

class Info(_message.Message):
    __slots__ = ["adc", "bias", "caps", "cells", "coupling", "coupling_step", "firmware", "min_sample_period_ns", "model", "noise", "serial", "tau_ns", "topology"]
    ADC_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    CAPS_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    COUPLING_FIELD_NUMBER: _ClassVar[int]
    COUPLING_STEP_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_FIELD_NUMBER: _ClassVar[int]
    MIN_SAMPLE_PERIOD_NS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NOISE_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    TAU_NS_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    adc: Converter
    bias: Converter
    caps: int
    cells: int
    coupling: Range
    coupling_step: float
    firmware: str
    min_sample_period_ns: int
    model: str
    noise: float
    serial: str
    tau_ns: int
    topology: int
    def __init__(self, model: _Optional[str] = ..., serial: _Optional[str] = ..., firmware: _Optional[str] = ..., cells: _Optional[int] = ..., topology: _Optional[int] = ..., coupling: _Optional[_Union[Range, _Mapping]] = ..., coupling_step: _Optional[float] = ..., bias: _Optional[_Union[Converter, _Mapping]] = ..., adc: _Optional[_Union[Converter, _Mapping]] = ..., tau_ns: _Optional[int] = ..., noise: _Optional[float] = ..., min_sample_period_ns: _Optional[int] = ..., caps: _Optional[int] = ...) -> None: ...

class InfoReply(_message.Message):
    __slots__ = ["calibration", "clock", "diagnoser", "factored", "info", "max_sample_values", "thermometer"]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSER_FIELD_NUMBER: _ClassVar[int]
    FACTORED_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    MAX_SAMPLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    THERMOMETER_FIELD_NUMBER: _ClassVar[int]
    calibration: bytes
    clock: bool
    diagnoser: bool
    factored: bool
    info: Info
    max_sample_values: int
    thermometer: bool
    def __init__(self, info: _Optional[_Union[Info, _Mapping]] = ..., clock: bool = ..., factored: bool = ..., diagnoser: bool = ..., calibration: _Optional[bytes] = ..., max_sample_values: _Optional[int] = ..., thermometer: bool = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class JacobianBlock(_message.Message):
    __slots__ = ["col", "input", "input_packed", "out", "signal", "signal_packed"]
    COL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INPUT_PACKED_FIELD_NUMBER: _ClassVar[int]
    IN_FIELD_NUMBER: _ClassVar[int]
    OUT_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_PACKED_FIELD_NUMBER: _ClassVar[int]
    col: int
    input: _containers.RepeatedScalarFieldContainer[float]
    input_packed: bytes
    out: int
    signal: _containers.RepeatedScalarFieldContainer[float]
    signal_packed: bytes
    def __init__(self, col: _Optional[int] = ..., out: _Optional[int] = ..., signal: _Optional[_Iterable[float]] = ..., input: _Optional[_Iterable[float]] = ..., signal_packed: _Optional[bytes] = ..., input_packed: _Optional[bytes] = ..., **kwargs) -> None: ...

class Range(_message.Message):
    __slots__ = ["max", "min"]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    max: float
    min: float
    def __init__(self, min: _Optional[float] = ..., max: _Optional[float] = ...) -> None: ...

class RangeError(_message.Message):
    __slots__ = ["col", "hint", "max", "min", "row", "unit", "value", "what"]
    COL_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    col: int
    hint: str
    max: float
    min: float
    row: int
    unit: str
    value: float
    what: str
    def __init__(self, what: _Optional[str] = ..., row: _Optional[int] = ..., col: _Optional[int] = ..., value: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., unit: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class ReleaseReply(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ["lease"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: str
    def __init__(self, lease: _Optional[str] = ...) -> None: ...

class RenewReply(_message.Message):
    __slots__ = ["ttl_ns"]
    TTL_NS_FIELD_NUMBER: _ClassVar[int]
    ttl_ns: int
    def __init__(self, ttl_ns: _Optional[int] = ...) -> None: ...

class RenewRequest(_message.Message):
    __slots__ = ["lease"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: str
    def __init__(self, lease: _Optional[str] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ["call", "duration_ns"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    call: Call
    duration_ns: int
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ..., duration_ns: _Optional[int] = ...) -> None: ...

class SampleChunk(_message.Message):
    __slots__ = ["board_time_ns", "clock", "first", "values", "values_packed"]
    BOARD_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    VALUES_PACKED_FIELD_NUMBER: _ClassVar[int]
    board_time_ns: int
    clock: bool
    first: int
    values: _containers.RepeatedScalarFieldContainer[float]
    values_packed: bytes
    def __init__(self, first: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., values_packed: _Optional[bytes] = ..., clock: bool = ..., board_time_ns: _Optional[int] = ...) -> None: ...

class SampleRequest(_message.Message):
    __slots__ = ["call", "chunk_samples", "packed", "period_ns", "resume_from", "samples"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    PERIOD_NS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    call: Call
    chunk_samples: int
    packed: bool
    period_ns: int
    resume_from: int
    samples: int
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ..., period_ns: _Optional[int] = ..., samples: _Optional[int] = ..., chunk_samples: _Optional[int] = ..., resume_from: _Optional[int] = ..., packed: bool = ...) -> None: ...

class SaturationError(_message.Message):
    __slots__ = ["counts", "samples"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedScalarFieldContainer[int]
    samples: int
    def __init__(self, counts: _Optional[_Iterable[int]] = ..., samples: _Optional[int] = ...) -> None: ...

class SetCouplingsRequest(_message.Message):
    __slots__ = ["a", "a_packed", "call"]
    A_FIELD_NUMBER: _ClassVar[int]
    A_PACKED_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    a: _containers.RepeatedScalarFieldContainer[float]
    a_packed: bytes
    call: Call
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ..., a: _Optional[_Iterable[float]] = ..., a_packed: _Optional[bytes] = ...) -> None: ...

class SetFactoredCouplingsRequest(_message.Message):
    __slots__ = ["blocks", "call", "cols", "h", "h_packed", "rows", "rows_per_sample", "scale"]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    H_FIELD_NUMBER: _ClassVar[int]
    H_PACKED_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ROWS_PER_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedCompositeFieldContainer[JacobianBlock]
    call: Call
    cols: int
    h: _containers.RepeatedScalarFieldContainer[float]
    h_packed: bytes
    rows: int
    rows_per_sample: int
    scale: float
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ..., rows: _Optional[int] = ..., cols: _Optional[int] = ..., rows_per_sample: _Optional[int] = ..., blocks: _Optional[_Iterable[_Union[JacobianBlock, _Mapping]]] = ..., h: _Optional[_Iterable[float]] = ..., scale: _Optional[float] = ..., h_packed: _Optional[bytes] = ..., **kwargs) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ["board", "expires_in_ns", "held_ns", "holder", "info", "leases_expired", "leases_granted", "queue"]
    BOARD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_NS_FIELD_NUMBER: _ClassVar[int]
    HELD_NS_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    LEASES_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    LEASES_GRANTED_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    board: str
    expires_in_ns: int
    held_ns: int
    holder: str
    info: Info
    leases_expired: int
    leases_granted: int
    queue: _containers.RepeatedCompositeFieldContainer[Waiter]
    def __init__(self, board: _Optional[str] = ..., info: _Optional[_Union[Info, _Mapping]] = ..., holder: _Optional[str] = ..., held_ns: _Optional[int] = ..., expires_in_ns: _Optional[int] = ..., queue: _Optional[_Iterable[_Union[Waiter, _Mapping]]] = ..., leases_granted: _Optional[int] = ..., leases_expired: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class TemperatureReply(_message.Message):
    __slots__ = ["celsius", "ok"]
    CELSIUS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    celsius: float
    ok: bool
    def __init__(self, celsius: _Optional[float] = ..., ok: bool = ...) -> None: ...

class TemperatureRequest(_message.Message):
    __slots__ = ["call"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    call: Call
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ...) -> None: ...

class VectorRequest(_message.Message):
    __slots__ = ["call", "tail", "v", "v_packed"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    V_FIELD_NUMBER: _ClassVar[int]
    V_PACKED_FIELD_NUMBER: _ClassVar[int]
    call: Call
    tail: int
    v: _containers.RepeatedScalarFieldContainer[float]
    v_packed: bytes
    def __init__(self, call: _Optional[_Union[Call, _Mapping]] = ..., v: _Optional[_Iterable[float]] = ..., v_packed: _Optional[bytes] = ..., tail: _Optional[int] = ...) -> None: ...

class Waiter(_message.Message):
    __slots__ = ["client", "waiting_ns"]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    WAITING_NS_FIELD_NUMBER: _ClassVar[int]
    client: str
    waiting_ns: int
    def __init__(self, client: _Optional[str] = ..., waiting_ns: _Optional[int] = ...) -> None: ...
