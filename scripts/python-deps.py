"""Prints the Debian packages whose Python modules the Python tests need
and that do not import (nothing when all do); make test-python uses it.
Only python3-torch is optional there: the torch tests skip themselves
when torch is missing (outside CI)."""

import importlib

# python3-torch is needed by the torch tests, which CI always runs.
NEEDED = [("numpy", "python3-numpy"), ("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf"),
          ("pytest", "python3-pytest"), ("torch", "python3-torch")]
missing = []
for module, package in NEEDED:
    try:
        importlib.import_module(module)
    except ImportError:
        missing.append(package)
print(" ".join(missing))
