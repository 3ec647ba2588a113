# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Real serving systems for the integration tests live in their own venv (heavy; cached between runs).
SERVERS := .servers
SERVERS_STAMP := $(SERVERS)/.installed

.PHONY: demo test install bench clean

DEMO_STAMP := $(VENV)/.installed-demo

$(BIN)/python:
	@echo "make: creating the virtual environment $(VENV) and upgrading pip"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on --upgrade pip

# The demo needs modeldeck and its runtime dependencies only, not the test extras. pip prints each
# package and its download progress: no phase sits silent.
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	@echo "make: installing modeldeck and its runtime dependencies (no test extras)"
	$(BIN)/python -m pip install --progress-bar on -e .
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(DEMO_STAMP)

install: $(STAMP)

$(SERVERS_STAMP):
	$(PYTHON) -m venv $(SERVERS)
	$(SERVERS)/bin/python -m pip install --quiet mlflow prometheus-flask-exporter mlserver mlserver-sklearn scikit-learn
	# torch pinned to the CPU build (an unpinned torch pulls GBs of CUDA wheels); TorchServe needs pyyaml and numpy.
	$(SERVERS)/bin/python -m pip install --quiet torch==2.13.0
	$(SERVERS)/bin/python -m pip install --quiet torchserve torch-model-archiver pyyaml numpy
	touch $(SERVERS_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/modeldeck demo --db data/demo.db

# The 25 slowest tests are listed at the end: the suite is kept under 20 minutes, and this says where it goes.
# Two workers (pytest-xdist; CI has two cores): the suite mostly waits on servers and subprocesses. Work
# goes out a module at a time, real-server and pty tests in one group each (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP) $(SERVERS_STAMP)
	$(BIN)/python -m pytest -q --durations=25 -n $(TEST_WORKERS) --dist loadgroup

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist data/demo.db data/demo.db-wal data/demo.db-shm
