"""Prints the Debian packages whose Python modules the Python tests need
and that do not import (nothing when all do); make test-python uses it.
With --required it names only those without which no test can run: the
torch tests skip themselves when torch is missing (outside CI)."""

import importlib
import sys

REQUIRED = [("numpy", "python3-numpy"), ("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf"),
            ("pytest", "python3-pytest")]
# python3-torch is needed by the torch tests, which CI always runs.
OPTIONAL = [("torch", "python3-torch")]
wanted = REQUIRED if "--required" in sys.argv[1:] else REQUIRED + OPTIONAL
missing = []
for module, package in wanted:
    try:
        importlib.import_module(module)
    except ImportError:
        missing.append(package)
print(" ".join(missing))
