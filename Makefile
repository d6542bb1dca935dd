# ægo — set-up, play, test.  `make play` and `make test` both go through `make setup`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.aego-installed

.PHONY: setup play test lint spaces clean

setup: $(STAMP)
	@bash scripts/setup-system.sh

# The Python part reinstalls only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@bash scripts/setup-system.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools 2>&1 | grep -v '^WARNING' || true
	@# CPU torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
	@$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0 2>&1 | grep -v '^WARNING' || true
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING' || true
	@$(BIN)/python -c "import torch, aego; assert torch.__version__.startswith('2.13.0')" \
	  || { echo "make setup: the Python environment is incomplete; see the messages above" >&2; exit 1; }
	@touch $(STAMP)
	@echo "make setup: ready ($(BIN)/aego)"

play: setup
	$(BIN)/aego play

test: setup
	@bash scripts/run-tests.sh

lint: setup
	$(BIN)/ruff check .

# Rebuilds the two bundled sound spaces from nothing (datasets, training, evaluation).
spaces: setup
	bash scripts/build-spaces.sh

clean:
	rm -rf build *.egg-info .pytest_cache
