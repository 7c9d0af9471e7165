"""Fixtures: spu built once per test session (go build into a temporary
directory, or $SPU_BIN when set) and `spu serve` started on a free
loopback port for each server the tests ask for."""

import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))


@pytest.fixture(scope="session")
def spu_bin(tmp_path_factory):
    """The path of an spu binary built from this tree."""
    if os.environ.get("SPU_BIN"):
        return os.environ["SPU_BIN"]
    out = str(tmp_path_factory.mktemp("bin") / "spu")
    subprocess.run(["go", "build", "-o", out, "./cmd/spu"], cwd=REPO, check=True)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `spu serve`; .uri is its grpc:// address."""

    def __init__(self, spu, board, *extra):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.uri = f"grpc://{self.addr}"
        # The server logs every request to stderr: a file, not a pipe that
        # nobody drains (a full pipe would block the server).
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([spu, "serve", "--board", board, "--listen", self.addr, "--insecure", *extra],
                                     stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"spu serve exited: {self.log.read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("spu serve did not start listening within 20 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve(spu_bin):
    """serve(board, *flags) starts `spu serve` and returns its Server;
    every server is stopped at the end of the test."""
    started = []

    def start(board, *extra):
        s = Server(spu_bin, board, *extra)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


@pytest.fixture
def ideal(serve):
    """A served sim:ideal board (8 cells, no quantisation, seed 1)."""
    return serve("sim:ideal?seed=1")
