# spukit — build, test and benchmark targets. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build proto test test-python test-long lint cross same-output bench bench-compare bench-sim bench-calibration bench-calibration-budget bench-solve bench-peers fidelity demo reproduce reproduce-quick lr-sweep clean

all: lint build test

# -buildvcs=true: spu version names the commit even where GOFLAGS turns
# the stamp off (it is still absent in a git worktree, which go build does
# not recognise as a checkout).
build:
	$(GO) build -buildvcs=true -o bin/spu ./cmd/spu

# Regenerates the board protocol's Go code (remote/boardpb, remote/metapb)
# and the Python package's (python/spukit/board) from proto/. The generated
# code is committed, so building and CI need no protoc; this target needs
# Debian's protobuf-compiler and python3-grpc-tools and installs the
# pinned Go code generators. Messages come from Debian's protoc (3.21:
# code for the protobuf ≥ 3.20 runtime), the gRPC stubs from grpc_tools.
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
proto:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler"; exit 1; }
	GOBIN=$(CURDIR)/bin $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/bin $(GO) install $(PROTOC_GEN_GO_GRPC)
	PATH=$(CURDIR)/bin:$$PATH protoc -I proto \
		--go_out=. --go_opt=module=github.com/spukit/spukit \
		--go-grpc_out=. --go-grpc_opt=module=github.com/spukit/spukit \
		proto/spukit/board/meta.proto proto/spukit/board/v1/board.proto
	protoc -I proto --python_out=python --pyi_out=python \
		proto/spukit/board/meta.proto proto/spukit/board/v1/board.proto
	$(PYTHON) -m grpc_tools.protoc -I proto --grpc_python_out=python \
		proto/spukit/board/meta.proto proto/spukit/board/v1/board.proto

# The tests CI runs: unit, statistical and conformance tests, with the race
# detector off (the statistical tests are CPU-heavy) but vet on.
test: lint cross
	@command -v ngspice >/dev/null 2>&1 || echo "ngspice not found: the circuit-simulator comparison (internal/spice, sim TestNgspice*) is skipped; Debian's ngspice package brings it (apt-get install ngspice)"
	$(GO) test -count=1 -timeout 15m $(PKGS)
	@$(MAKE) --no-print-directory test-python

# The Python package's tests (python/tests, docs/python.md): pytest against
# spu serve on loopback when Debian's Python modules import, else one line
# naming the missing package. PYTHON is the first python3 on PATH that has
# them, or /usr/bin/python3 (Debian's, when a pyenv shadows it).
PYTHON ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import numpy, grpc, google.protobuf, pytest' 2>/dev/null && { echo $$p; exit; }; done; echo python3)
test-python:
	@missing=$$($(PYTHON) scripts/python-deps.py 2>/dev/null || echo python3); \
	required=$$(echo $$missing | sed 's/python3-torch//;s/^ *//;s/ *$$//'); \
	if [ -n "$$missing" ] && [ "$$CI" = true ]; then echo "python tests need: apt-get install $$missing (CI=true: not skipped)"; exit 1; \
	elif [ -n "$$required" ]; then echo "python tests skipped: apt-get install $$required"; \
	else if [ -n "$$missing" ]; then echo "python torch tests skipped: apt-get install $$missing"; fi; \
	cd python && $(PYTHON) -m pytest -q -p no:cacheprovider; fi

# The simulator against ngspice with ten times the ngspice time of make test;
# writes the comparison tables into docs/fidelity.md: ten independent runs
# per circuit and the run-level experiment (TestNgspiceRunLevel), about
# 10 min on 2 idle cores.
fidelity:
	SPUKIT_FIDELITY=$(CURDIR)/docs/fidelity.md $(GO) test -count=1 -v -run 'Ngspice' -timeout 60m ./sim/ ./internal/spice/

# The board-side and SPI code must build for single-board computers.
cross:
	GOOS=linux GOARCH=arm64 $(GO) build ./...
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 $(PKGS) | tee bench.txt

# A refactoring keeps every seeded number: spu at BASE and from this tree
# on the same seeded commands, JSON diffed (about 1 min).
same-output:
	BASE=$(BASE) bash scripts/same-output.sh

# Hot-path benchmarks of BASE and of this tree, interleaved, with benchstat
# (docs/benchmarks.md, "Before and after"; about 4 min on 2 cores).
bench-compare:
	BASE=$(BASE) bash scripts/bench-compare.sh

# The calibration accuracy table of docs/calibration.md (5 unseen seeds × cond 10, 50, 100 × 4 problems; 154–1056 s on the shared 2-core machine, 565 s for proto8 v3 at load 6–10; at load ≈ 25 one seed took ≈ 15 min, hence 45 min).
bench-calibration:
	$(GO) test -run '^$$' -bench BenchmarkCalibratedSolve -benchtime 1x -timeout 45m ./calibration/

# The calibration budget diagnosis and the drift check's null distribution
# (docs/calibration.md; about 6 min on 2 cores).
bench-calibration-budget:
	$(GO) test -run '^$$' -bench BenchmarkCalibrationBudget -benchtime 1x -timeout 30m ./calibration/

# Tiled solves vs n on one proto8 and a pool of 4, analog vs exact block
# preconditioning, refinement rounds vs condition number
# (docs/benchmarks.md, "Tiled solves and refinement"; about 3 min on 2 cores).
bench-solve:
	$(GO) test -run '^$$' -bench 'TiledN|TiledExactVsBoard|RefineCond' -benchtime 1x -timeout 30m ./solver/

# The simulator vs a numpy OU peer and the digital training step vs PyTorch
# CPU, one core each, in one run (docs/benchmarks.md, "Against peers";
# Debian's python3-numpy and python3-torch; about 2 min of CPU, longer on a busy machine).
bench-peers:
	ROUNDS=$(ROUNDS) bash scripts/bench-peers.sh

demo:
	$(GO) run ./cmd/spu info
	$(GO) run ./cmd/spu solve --board sim:ideal --random 8 --cond 10 --seed 1
	$(GO) run ./cmd/spu solve --board sim:proto8 --random 8 --cond 10 --seed 1

# The TNGD paper's MNIST comparison on the simulator, 5 seeds per
# configuration, PyTorch's and He initialisation (docs/results.md; see
# scripts/reproduce.sh: SEEDS, ITERATIONS, JOBS may be set; about
# 1,900 CPU s, 16 min on 2 idle cores).
reproduce:
	bash scripts/reproduce.sh

# The same machinery at a glance (2 seeds, 60 iterations, about 2 min),
# written to out/reproduce-quick/ rather than docs/.
reproduce-quick:
	SEEDS=2 ITERATIONS=60 OUT=out/reproduce-quick/runs DOC=out/reproduce-quick/results.md \
		IMG=out/reproduce-quick/img bash scripts/reproduce.sh

# Learning rates around the defaults for Adam, NGD-Woodbury and TNGD t = 50τ
# (docs/lr-sweep.md; about 4 min on 2 cores).
lr-sweep:
	bash scripts/lr-sweep.sh

clean:
	rm -rf bin bench.txt out
