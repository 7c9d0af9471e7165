"""spukit: a Python client for spukit boards served by ``spu serve``.

``Board`` holds a board under a lease (a context manager) and exposes its
calls with numpy arrays; ``solve`` estimates A⁻¹b on it; the exceptions
mirror the board contract's errors; ``spukit.torch.TNGD`` (needs torch) is
a torch.optim.Optimizer whose curvature solve runs on the board. See
docs/python.md in the spukit repository.
"""

from spukit.client import PROTOCOL_MAJOR, PROTOCOL_MINOR, Board, Info
from spukit.errors import (BoardTimeoutError, BusyError, ClosedError, DimensionError, DisconnectedError,
                           InvalidError, OutOfRangeError, SaturatedError, SpukitError, UnauthenticatedError,
                           UnstableError, UnsupportedError)
from spukit.solve import SolveResult, solve

__version__ = "0.1.0"

__all__ = [
    "Board", "Info", "PROTOCOL_MAJOR", "PROTOCOL_MINOR", "SolveResult", "solve",
    "SpukitError", "OutOfRangeError", "DimensionError", "InvalidError", "SaturatedError", "UnstableError",
    "DisconnectedError", "BoardTimeoutError", "UnsupportedError", "ClosedError", "BusyError",
    "UnauthenticatedError",
]
