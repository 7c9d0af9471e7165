"""The client of a board served by ``spu serve`` (docs/server.md).

It mirrors the Go client (package remote): the URI and its options, the
protocol version check, the lease (acquired in the server's FIFO queue,
renewed in the background every third of its time to live, released on
close), one sequence number per board call so that a call retried after a
lost reply runs once (the server answers a repeated (lease, seq) with the
first call's result), and an explicit Cancel when a call is interrupted.
Times are seconds (floats) at this API and nanoseconds on the wire.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import threading
import time
import urllib.parse

import grpc
import numpy as np

from spukit import errors
from spukit.board import meta_pb2, meta_pb2_grpc
from spukit.board.v1 import board_pb2, board_pb2_grpc

__all__ = ["Board", "Info", "PROTOCOL_MAJOR", "PROTOCOL_MINOR"]

# The board protocol version this client speaks (remote/internal/wire's
# Major and Minor): a server of another major version is refused.
PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 3

_URI_OPTIONS = {"ca", "cert", "client", "key", "tls", "token_file", "wait"}
_MAX_MESSAGE = 64 << 20


@dataclasses.dataclass(frozen=True)
class Info:
    """What the served board is (hal.Info), in SI units: ``tau`` and
    ``min_sample_period`` in seconds (``tau_ns`` and
    ``min_sample_period_ns`` exactly, as the server sends them), ranges in
    volts (bias, ADC) or 1/τ (coupling); ``topology`` is "general" or
    "symmetric"."""

    model: str
    serial: str
    firmware: str
    cells: int
    topology: str
    coupling: tuple[float, float]
    coupling_step: float
    bias: tuple[float, float]
    bias_bits: int
    adc: tuple[float, float]
    adc_bits: int
    tau: float
    noise: float
    min_sample_period: float
    tau_ns: int
    min_sample_period_ns: int
    caps: int
    clock: bool
    factored: bool
    thermometer: bool
    max_sample_values: int
    calibration: bytes

    @classmethod
    def _from_pb(cls, r: board_pb2.InfoReply) -> Info:
        p = r.info
        return cls(model=p.model, serial=p.serial, firmware=p.firmware, cells=int(p.cells),
                   topology="symmetric" if p.topology == 1 else "general",
                   coupling=(p.coupling.min, p.coupling.max), coupling_step=p.coupling_step,
                   bias=(p.bias.min, p.bias.max), bias_bits=p.bias.bits,
                   adc=(p.adc.min, p.adc.max), adc_bits=p.adc.bits,
                   tau=p.tau_ns * 1e-9, noise=p.noise, min_sample_period=p.min_sample_period_ns * 1e-9,
                   tau_ns=int(p.tau_ns), min_sample_period_ns=int(p.min_sample_period_ns),
                   caps=p.caps, clock=r.clock, factored=r.factored, thermometer=r.thermometer,
                   max_sample_values=int(r.max_sample_values), calibration=bytes(r.calibration))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# The wire carries board times as int64 nanoseconds (Go's time.Duration).
_MAX_NS = (1 << 63) - 1

# sample() refuses a request whose result would exceed this many bytes
# rather than letting numpy try (and fail, or swap) to allocate it; read
# longer records in parts.
MAX_SAMPLE_BYTES = 1 << 32


def _ns(seconds: float, what: str) -> int:
    """seconds as int64 nanoseconds (Go's time.Duration, the wire's unit)."""
    if not np.isfinite(seconds):
        raise errors.InvalidError(f"{what} = {seconds} s: want a finite time")
    if abs(seconds) * 1e9 > _MAX_NS:
        raise errors.OutOfRangeError(f"{what} = {seconds} s: want at most {_MAX_NS * 1e-9:.4g} s (int64 nanoseconds)")
    return int(round(seconds * 1e9))


def _pack(a: np.ndarray) -> bytes:
    """a as the wire's packed form (v1.3): little-endian float64 bytes."""
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def _whole(v) -> bool:
    """v is a whole number (NaN and ±Inf are not; int() would raise)."""
    try:
        return bool(np.isfinite(v)) and int(v) == v
    except (TypeError, ValueError):
        return False


def _positive_ns(ns, what: str) -> int:
    """ns checked as a positive board time (hal: ErrInvalid otherwise)."""
    if not _whole(ns) or ns <= 0:
        raise errors.InvalidError(f"{what} = {ns} ns: want a positive whole number of nanoseconds")
    if ns > _MAX_NS:
        raise errors.OutOfRangeError(f"{what} = {ns} ns: want at most {_MAX_NS} (int64 nanoseconds)")
    return int(ns)


class Board:
    """A board served by ``spu serve``, held under a lease while open.

    ``uri`` is ``grpc://HOST:PORT[?options]`` with the Go client's options
    (ca, cert, key, token_file, tls, wait, client), or ``HOST:PORT``. The
    keyword arguments override them: ``token`` (or ``token_file``), ``ca``
    (the server's CA certificate, PEM file), ``cert`` and ``key`` (a client
    certificate for mutual TLS), ``tls`` (default: off to a loopback
    address with no ca/cert/key, on otherwise; plaintext is refused to any
    other host), ``wait`` (wait in the server's queue for a held board, or
    raise BusyError at once), ``retry_for`` (seconds a call is retried
    after a connection failure, with the same sequence number).

    Use it as a context manager: the lease is released (and the board reset
    by the server to A = I, b = 0) when the block ends, also on an
    exception::

        with Board("grpc://127.0.0.1:7700") as b:
            b.set_couplings(np.eye(b.info().cells))
    """

    def __init__(self, uri: str, *, token: str | None = None, token_file: str | None = None,
                 ca: str | None = None, cert: str | None = None, key: str | None = None,
                 tls: bool | None = None, wait: bool | None = None, client: str | None = None,
                 retry_for: float = 0.5, on_queue=None):
        self._addr, opts = self._parse(uri)
        host = urllib.parse.urlsplit("//" + self._addr).hostname or ""
        ca = ca or opts.get("ca")
        cert = cert or opts.get("cert")
        key = key or opts.get("key")
        token_file = token_file or opts.get("token_file")
        if tls is None:
            tls = _bool(opts["tls"], "tls") if "tls" in opts else bool(ca or cert or key) or not _loopback(host)
        if wait is None:
            wait = _bool(opts.get("wait", "1"), "wait")
        self._wait, self._client = wait, client or opts.get("client", "spukit-python")
        self._retry, self._on_queue = retry_for, on_queue
        if token is None and token_file:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        self._creds = self._credentials(host, tls, ca, cert, key, token)
        self._token = token
        self._tls = tls
        self._channel = None
        self._lease = ""
        self._packed = False
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer = None
        self._info = None

    @staticmethod
    def _parse(uri: str) -> tuple[str, dict[str, str]]:
        if "://" not in uri:
            return uri, {}
        u = urllib.parse.urlsplit(uri)
        if u.scheme != "grpc" or not u.netloc or u.path not in ("", "/"):
            raise errors.InvalidError(f"board {uri!r}: want grpc://HOST:PORT[?options]")
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        bad = sorted(set(q) - _URI_OPTIONS)
        if bad:
            raise errors.InvalidError(f"grpc: unknown option {bad[0]!r} (known: {', '.join(sorted(_URI_OPTIONS))})")
        return u.netloc, q

    def _credentials(self, host, tls, ca, cert, key, token):
        if not tls:
            if not _loopback(host):
                raise errors.InvalidError(f"plaintext to {host} refused: only a loopback address may be reached "
                                          "without TLS (give the server's CA with ca=FILE)")
            return None
        def read(p):
            with open(p, "rb") as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(ca) if ca else None,
            private_key=read(key) if key else None, certificate_chain=read(cert) if cert else None)
        if token:
            creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
        return creds

    # --- connection and lease -------------------------------------------

    def __enter__(self) -> Board:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> Board:
        """Connects, checks the protocol version and the board's Info, and
        acquires the lease (waiting in the queue unless wait=False)."""
        opts = [("grpc.max_send_message_length", _MAX_MESSAGE), ("grpc.max_receive_message_length", _MAX_MESSAGE)]
        if self._creds is None:
            self._channel = grpc.insecure_channel(self._addr, options=opts)
        else:
            self._channel = grpc.secure_channel(self._addr, self._creds, options=opts)
        self._stub = board_pb2_grpc.BoardStub(self._channel)
        try:
            self._check_version()
            self._info = Info._from_pb(self._unary("info", self._stub.Info, board_pb2.InfoRequest()))
            self._acquire()
        except BaseException:
            self._channel.close()
            self._channel = None
            raise
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, args=(max(self._ttl / 3, 0.01),), daemon=True)
        self._renewer.start()
        return self

    def _metadata(self):
        # Over plaintext (loopback only) the token travels as metadata, as
        # the Go client's tokenCreds do; over TLS the call credentials add it.
        if self._token and not self._tls:
            return (("authorization", "Bearer " + self._token),)
        return None

    def _check_version(self):
        meta = meta_pb2_grpc.MetaStub(self._channel)
        try:
            r = meta.Version(meta_pb2.VersionRequest(major=PROTOCOL_MAJOR, minor=PROTOCOL_MINOR,
                                                     client="spukit-python"),
                             metadata=self._metadata(), timeout=max(self._retry, 5))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                raise errors.SpukitError(f"{self._addr} does not speak the spukit board protocol "
                                         "(no spukit.board.Meta service): is it spu serve?", e.code()) from None
            raise errors.from_rpc_error("connect " + self._addr, e) from None
        # Packed arrays (v1.3) go only to servers that read them.
        self._packed = r.major == PROTOCOL_MAJOR and r.minor >= 3
        if r.major != PROTOCOL_MAJOR:
            raise errors.SpukitError(f"{self._addr} speaks board protocol v{r.major}.{r.minor}, this client "
                                     f"v{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}: use a client and server of the same major version")

    def _acquire(self):
        try:
            for m in self._stub.Acquire(board_pb2.AcquireRequest(client=self._client, wait=self._wait),
                                        metadata=self._metadata()):
                if m.lease:
                    self._lease, self._ttl = m.lease, m.ttl_ns * 1e-9
                    return
                if self._on_queue is not None:
                    self._on_queue(m.position)
        except grpc.RpcError as e:
            raise errors.from_rpc_error("acquire", e) from None
        raise errors.DisconnectedError("acquire: the server ended Acquire without a lease")

    def _renew(self, every: float):
        # A failed renewal is retried at the next tick; a lost lease shows
        # in the next board call's error (as in the Go client).
        while not self._stop.wait(every):
            try:
                self._stub.Renew(board_pb2.RenewRequest(lease=self._lease), timeout=every,
                                 metadata=self._metadata())
            except grpc.RpcError:
                pass

    def close(self) -> None:
        """Releases the lease (the server resets the board) and closes the
        connection. A lease the server already ended is not an error."""
        if self._channel is None:
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self._stub.Release(board_pb2.ReleaseRequest(lease=self._lease), timeout=self._retry + 1,
                               metadata=self._metadata())
        except grpc.RpcError as e:
            err = errors.from_rpc_error("close: release the lease", e)
            if not isinstance(err, errors.DisconnectedError):
                raise err from None
        finally:
            self._channel.close()
            self._channel = None

    @property
    def lease(self) -> str:
        """The lease this client holds ("" when closed)."""
        return self._lease if self._channel is not None else ""

    # --- calls --------------------------------------------------------------

    def _unary(self, op, rpc, req):
        try:
            return rpc(req, metadata=self._metadata(), timeout=None)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(op, e) from None

    def _next(self) -> board_pb2.Call:
        if self._channel is None:
            raise errors.ClosedError("board closed: use it inside `with Board(...)` or call open()")
        with self._lock:
            self._seq += 1
            return board_pb2.Call(lease=self._lease, seq=self._seq)

    def _invoke(self, op: str, call: board_pb2.Call, fn):
        """Runs fn, retrying it with the same sequence number while the
        connection fails (for at most retry_for seconds); an interrupted
        call (KeyboardInterrupt) is cancelled on the server explicitly."""
        deadline = time.monotonic() + self._retry
        try:
            while True:
                try:
                    return fn()
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
                        time.sleep(0.02)
                        continue
                    raise errors.from_rpc_error(op, e) from None
        except KeyboardInterrupt:
            try:
                self._stub.Cancel(board_pb2.CancelRequest(call=call), timeout=self._retry, metadata=self._metadata())
            except grpc.RpcError:
                pass
            raise

    def info(self) -> Info:
        """The board's Info (read when the board was opened)."""
        if self._info is None:
            raise errors.ClosedError("board closed: open it first")
        return self._info

    def _vector_request(self, call, v, name: str) -> board_pb2.VectorRequest:
        a = np.asarray(v, dtype=np.float64)
        k = self.info().cells
        if a.shape != (k,):
            raise errors.DimensionError(f"{name}: shape {a.shape}, want ({k},) for {k} cells")
        if self._packed:
            return board_pb2.VectorRequest(call=call, v_packed=_pack(a))
        return board_pb2.VectorRequest(call=call, v=a.tolist())

    def set_couplings(self, a) -> None:
        """Programs the K × K coupling matrix A (units of 1/τ). The board
        refuses an unstable A (UnstableError) or entries outside its range
        (OutOfRangeError naming the entry)."""
        m = np.asarray(a, dtype=np.float64)
        k = self.info().cells
        if m.shape != (k, k):
            raise errors.DimensionError(f"set couplings: shape {m.shape}, want ({k}, {k})")
        call = self._next()
        if self._packed:
            req = board_pb2.SetCouplingsRequest(call=call, a_packed=_pack(m))
        else:
            req = board_pb2.SetCouplingsRequest(call=call, a=m.ravel().tolist())
        self._invoke("set couplings", call, lambda: self._stub.SetCouplings(req, metadata=self._metadata()))

    def set_bias(self, b) -> None:
        """Programs the bias vector b (volts, length K)."""
        call = self._next()
        req = self._vector_request(call, b, "set bias")
        self._invoke("set bias", call, lambda: self._stub.SetBias(req, metadata=self._metadata()))

    def set_state(self, x) -> None:
        """Forces the node voltages to x (volts, length K)."""
        call = self._next()
        req = self._vector_request(call, x, "set state")
        self._invoke("set state", call, lambda: self._stub.SetState(req, metadata=self._metadata()))

    def run(self, t: float) -> None:
        """Lets the board evolve for t seconds of board time."""
        self.run_ns(_ns(t, "run"))

    def run_ns(self, ns: int) -> None:
        """run, with the board time in integer nanoseconds (the wire's unit)."""
        ns = _positive_ns(ns, "run")
        call = self._next()
        req = board_pb2.RunRequest(call=call, duration_ns=ns)
        self._invoke("run", call, lambda: self._stub.Run(req, metadata=self._metadata()))

    def sample(self, n: int, period: float | None = None) -> np.ndarray:
        """Reads n samples, one every ``period`` seconds (default: the
        board's minimum; a shorter period is OutOfRangeError), as an
        (n, cells) float64 array of volts. A request larger than the
        server's per-call bound is split into successive calls; one whose
        array would exceed MAX_SAMPLE_BYTES is refused (read it in parts).
        A saturated reading raises SaturatedError with the samples read in
        its ``data``."""
        if period is None:
            return self.sample_ns(n, self.info().min_sample_period_ns)
        return self.sample_ns(n, _ns(period, "sample period"))

    def sample_ns(self, n: int, period_ns: int) -> np.ndarray:
        """sample, with the period in integer nanoseconds (the wire's unit)."""
        info = self.info()
        k = info.cells
        if int(n) != n or n < 1:
            raise errors.DimensionError(f"sample: n = {n}, want a positive number of samples")
        n = int(n)
        if n * k * 8 > MAX_SAMPLE_BYTES:
            raise errors.OutOfRangeError(f"sample: n = {n} samples of {k} cells is {n * k * 8} bytes, over "
                                         f"MAX_SAMPLE_BYTES = {MAX_SAMPLE_BYTES} (n ≤ {MAX_SAMPLE_BYTES // (8 * k)}): "
                                         "read it in parts")
        if not _whole(period_ns) or not info.min_sample_period_ns <= period_ns <= _MAX_NS:
            raise errors.OutOfRangeError(f"sample period = {period_ns} ns: want a whole number from the board's "
                                         f"minimum {info.min_sample_period_ns} to {_MAX_NS} "
                                         "(or period=None for the minimum)")
        period_ns = int(period_ns)
        out = np.empty((n, k), dtype=np.float64)
        per_call = max(1, self.info().max_sample_values // k)
        done = 0
        while done < n:
            want = min(per_call, n - done)
            try:
                self._sample_into(out[done:done + want], period_ns)
            except errors.SaturatedError as e:
                e.data = out[:done + e.samples] if e.samples else out[:done]
                raise
            done += want
        return out

    def _sample_into(self, dst: np.ndarray, period_ns: int) -> None:
        want, k = dst.shape
        call = self._next()
        # packed (v1.3): the values come as little-endian float64 bytes,
        # decoded by one copy; a v1.2 server ignores the field and sends
        # repeated doubles.
        req = board_pb2.SampleRequest(call=call, period_ns=period_ns, samples=want, packed=True)

        def fn():
            for m in self._stub.Sample(req, metadata=self._metadata()):
                if m.values_packed:
                    if len(m.values_packed) % 8 or len(m.values):
                        raise errors.SpukitError(f"sample: server sent {len(m.values_packed)} packed bytes "
                                                 f"and {len(m.values)} values at sample {m.first}")
                    v = np.frombuffer(m.values_packed, dtype="<f8")
                else:
                    v = np.asarray(m.values, dtype=np.float64)
                if m.first < 0 or v.size % k or m.first * k + v.size > want * k:
                    raise errors.SpukitError(f"sample: server sent {v.size} values at sample {m.first} for {want} samples")
                dst.reshape(-1)[m.first * k:m.first * k + v.size] = v
        self._invoke("sample", call, fn)

    def board_time(self) -> float | None:
        """The board's clock in seconds (hal.Clock), or None when the
        served board keeps no time."""
        r = self._optional(self.info().clock, "board time", self._stub.BoardTime, board_pb2.BoardTimeRequest)
        return r.ns * 1e-9 if r is not None and r.ok else None

    def temperature(self) -> float | None:
        """The board's temperature in °C where it reports one (protocol
        v1.2, Info.thermometer), else None."""
        r = self._optional(self.info().thermometer, "temperature", self._stub.Temperature,
                           board_pb2.TemperatureRequest)
        return r.celsius if r is not None and r.ok else None

    def _optional(self, has: bool, op: str, rpc, request):
        """Calls an optional capability's query under the lease, or returns
        None when the board does not have it."""
        if not has:
            return None
        if self._channel is None:
            raise errors.ClosedError("board closed")
        return self._unary(op, rpc, request(call=board_pb2.Call(lease=self._lease)))

    def solve(self, a, b, **kwargs):
        """Estimates x = A⁻¹b on this board; see spukit.solve.solve."""
        from spukit.solve import solve
        return solve(self, a, b, **kwargs)


def _bool(v: str, name: str) -> bool:
    if v.lower() in ("1", "true", "t"):
        return True
    if v.lower() in ("0", "false", "f"):
        return False
    raise errors.InvalidError(f"grpc: option {name}={v!r}: want 0 or 1")
