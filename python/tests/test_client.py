"""Client round trips against `spu serve` on loopback (sim:ideal: 8 cells,
couplings ±4/τ, bias and ADC ±10 V, τ = 100 µs, noise σ = 0.01 V, no
quantisation, no rails)."""

import numpy as np
import pytest

import spukit


def test_info_and_sample_shapes(ideal):
    with spukit.Board(ideal.uri) as b:
        info = b.info()
        assert (info.model, info.cells, info.topology) == ("sim/ideal", 8, "general")
        assert info.coupling == (-4.0, 4.0) and info.adc == (-10.0, 10.0) and info.bias == (-10.0, 10.0)
        assert info.tau == pytest.approx(100e-6) and info.min_sample_period == pytest.approx(5e-6)
        x = b.sample(7)
        assert x.shape == (7, 8) and x.dtype == np.float64
        assert b.board_time() > 0
        # sim:ideal reports its temperature (protocol v1.2): the ambient
        # 25 °C of its profile, which has no thermal walk (std 0).
        assert info.thermometer and b.temperature() == 25.0


def test_relaxes_to_bias(ideal):
    # A = I: the state relaxes to b with stationary covariance σ²A⁻¹ = σ²I
    # (hal: dx = −(Ax − b)dt/τ + sqrt(2σ²/τ)dW). 20000 samples 5 µs apart
    # span T = 0.1 s = 1000τ; the OU time average's standard error is
    # σ·sqrt(2τ/T) = 0.01·sqrt(2e-3) = 4.47e-4 V; the test allows 5 of them.
    bias = np.linspace(-2, 2, 8)
    with spukit.Board(ideal.uri) as b:
        b.set_couplings(np.eye(8))
        b.set_bias(bias)
        b.set_state(bias)
        b.run(0.01)
        x = b.sample(20000, 5e-6)
    np.testing.assert_array_less(np.abs(x.mean(axis=0) - bias), 5 * 4.47e-4)
    # The sample standard deviation: about T/(2τ) = 500 effectively
    # independent readings, relative standard error 1/sqrt(2·500) = 3.2 %;
    # 5 of them allowed.
    np.testing.assert_allclose(x.std(axis=0), 0.01, rtol=0.16)


def test_solve_matches_numpy(ideal):
    a = np.array([[4, 1, 0, 0], [1, 3, 1, 0], [0, 1, 2, 0.5], [0, 0, 0.5, 1]], dtype=float)
    rhs = np.array([1, 2, -1, 0.5])
    with spukit.Board(ideal.uri) as b:
        r = b.solve(a, rhs)
    exact = np.linalg.solve(a, rhs)
    assert r.x.shape == (4,) and r.stderr.shape == (4,) and r.samples > 0 and r.clocked
    # Batch-means error bars: 5 standard errors (the ideal board has no
    # calibration error, so the statistical error is the whole error).
    np.testing.assert_array_less(np.abs(r.x - exact), 5 * r.stderr)
    assert 0 < r.board_time < 1


def test_range_error_carries_fields(ideal):
    with spukit.Board(ideal.uri) as b:
        with pytest.raises(spukit.OutOfRangeError) as e:
            b.set_bias(np.array([0, 0, 100.0, 0, 0, 0, 0, 0]))
    assert (e.value.what, e.value.row, e.value.value, e.value.max) == ("bias", 2, 100.0, 10.0)
    assert "100" in e.value.message and isinstance(e.value, ValueError)


def test_dimension_error_before_the_call(ideal):
    with spukit.Board(ideal.uri) as b:
        with pytest.raises(spukit.DimensionError):
            b.set_couplings(np.eye(3))
        with pytest.raises(spukit.DimensionError):
            b.sample(0)


def test_times_and_sizes_checked_before_the_call(ideal):
    # Board times travel as int64 nanoseconds (max ≈ 9.22e9 s); a sample
    # record is bounded by MAX_SAMPLE_BYTES; the period by the board's
    # minimum (5 µs on sim:ideal). Each must fail here, naming the value,
    # not as protobuf's range error, a MemoryError or a silent default.
    with spukit.Board(ideal.uri) as b:
        with pytest.raises(spukit.OutOfRangeError, match="1e\\+20"):
            b.run(1e20)
        with pytest.raises(spukit.InvalidError, match="positive"):
            b.run(0)
        with pytest.raises(spukit.InvalidError, match="finite"):
            b.run(float("nan"))
        with pytest.raises(spukit.OutOfRangeError, match="MAX_SAMPLE_BYTES"):
            b.sample(10 ** 12)
        with pytest.raises(spukit.OutOfRangeError, match="minimum 5000"):
            b.sample(4, 0)
        with pytest.raises(spukit.OutOfRangeError, match="minimum 5000"):
            b.sample(4, 1e-6)
        with pytest.raises(spukit.InvalidError, match="positive whole"):
            b.run_ns(float("nan"))
        with pytest.raises(spukit.InvalidError, match="positive whole"):
            b.run_ns(float("inf"))
        with pytest.raises(spukit.OutOfRangeError, match="whole number"):
            b.sample_ns(4, float("nan"))
        # The board is still usable, and the boundary values are accepted.
        assert b.sample(2, 5e-6).shape == (2, 8)
        b.run_ns(1)


def test_packed_and_repeated_requests_agree(ideal):
    # A v1.3 server reads packed arrays; a client for an older server sends
    # repeated doubles. Every lease reopens the seeded board, so the same
    # calls in either encoding must read back exactly the same samples.
    a = np.eye(8) + 0.1 * np.diag(np.ones(7), 1)
    bias, state = np.linspace(-1, 1, 8), np.linspace(0.5, -0.5, 8)
    runs = []
    for packed in (True, False):
        with spukit.Board(ideal.uri) as b:
            assert b._packed  # the served board speaks v1.3
            b._packed = packed
            b.set_couplings(a)
            b.set_bias(bias)
            b.set_state(state)
            runs.append(b.sample(50))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.abs(runs[0][-1] - np.linalg.solve(a, bias)).max() < 1  # the values arrived


def test_unstable_refused(ideal):
    with spukit.Board(ideal.uri) as b:
        with pytest.raises(spukit.UnstableError) as e:
            b.set_couplings(-np.eye(8))
    assert e.value.sentinel == "unstable coupling matrix"


def test_saturation_keeps_samples(ideal):
    # A = 0.5 I, b = 9 V: the state heads for 18 V, beyond the ±10 V ADC.
    with spukit.Board(ideal.uri) as b:
        b.set_couplings(0.5 * np.eye(8))
        b.set_bias(np.full(8, 9.0))
        b.run(0.01)
        with pytest.raises(spukit.SaturatedError) as e:
            b.sample(10)
    assert e.value.data.shape == (10, 8) and sum(e.value.counts) == 80
    assert np.all(e.value.data == 10.0)


def test_busy_and_lease_release_on_exception(ideal):
    with spukit.Board(ideal.uri) as holder:
        with pytest.raises(spukit.BusyError):
            spukit.Board(ideal.uri, wait=False).open()
        assert holder.lease
    with pytest.raises(RuntimeError):
        with spukit.Board(ideal.uri) as b:
            b.set_bias(np.ones(8))
            raise RuntimeError("user code failed inside the block")
    # The failed block released its lease: the board is free at once.
    with spukit.Board(ideal.uri, wait=False) as b:
        assert b.lease


def test_closed_board(ideal):
    b = spukit.Board(ideal.uri)
    with b:
        pass
    with pytest.raises(spukit.ClosedError):
        b.run(1e-3)


def test_token(serve, tmp_path):
    tok = tmp_path / "token"
    tok.write_text("0123456789abcdef-s3cret\n")
    s = serve("sim:ideal", "--token-file", str(tok))
    with pytest.raises(spukit.UnauthenticatedError):
        spukit.Board(s.uri).open()
    with pytest.raises(spukit.UnauthenticatedError):
        spukit.Board(s.uri, token="wrong").open()
    with spukit.Board(s.uri + "?token_file=" + str(tok)) as b:
        assert b.info().cells == 8


def test_disconnected(serve):
    s = serve("sim:ideal")
    b = spukit.Board(s.uri, retry_for=0.2).open()
    s.stop()
    with pytest.raises(spukit.DisconnectedError):
        b.run(1e-3)
    b.close()  # the lease is gone with the server: not an error


def test_plaintext_refused_off_loopback():
    with pytest.raises(spukit.InvalidError):
        spukit.Board("grpc://192.0.2.1:7700?tls=0")
    with pytest.raises(spukit.InvalidError):
        spukit.Board("grpc://127.0.0.1:7700?bogus=1")
