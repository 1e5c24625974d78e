# One command sets up and runs the demo; one runs the tests.
#   make demo    virtual environment (torch CPU first), the package, then `verify demo`
#   make test    the whole test suite, slow model tests included (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint eval bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned to the CPU build: otherwise a dependency pulls CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: setup
	$(BIN)/verify demo

test: setup
	$(BIN)/python -m pytest -q tests

test-fast: setup
	FUZZ_EXAMPLES=50 $(BIN)/python -m pytest -q -m "not slow and not crash and not subprocess and not browser and not postgres" tests

lint: setup
	$(BIN)/ruff check verify scripts tests

eval: setup
	$(BIN)/verify eval ../shared/eval/vitaminc_dev.jsonl
	$(BIN)/python scripts/eval_nli.py

bench: setup
	$(BIN)/python scripts/bench_nli.py

clean:
	rm -rf $(VENV) build demo
