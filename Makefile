# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8080

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## demo: set up, then run Earful on the bundled demo data (Ctrl-C stops it;
##       PORT=8081 for another port, KEEP=1 to continue the last demo's data)
demo: $(STAMP)
	$(BIN)/earful demo --port $(PORT) $(if $(KEEP),--keep)

## test: set up, then run the linters, the type checker and every test
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks, printing figures for README's table
bench: $(STAMP)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) earful-demo *.egg-info .pytest_cache .ruff_cache .mypy_cache
