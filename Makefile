# Podium's developer commands. `make run` and `make test` are the README's quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
export PODIUM_HOME ?= $(CURDIR)/.podium

.PHONY: install run test lint check bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install  ## start `podium server` on SQLite (PODIUM_HOME=.podium) with the examples pushed
	$(VENV)/bin/podium server --port $(PORT) --load examples

test: install  ## the whole suite: SQLite, and PostgreSQL (PODIUM_TEST_PG_URL; required when CI is set)
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

check: lint test  ## format, lint, types, tests

bench: install  ## print the benchmark table (see benchmarks/RESULTS.md)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/expr_bench.py
	$(PY) benchmarks/tag_limits.py
	$(PY) benchmarks/launch_overhead.py --repeat 5

clean:
	rm -rf $(VENV) .podium .pytest_cache .mypy_cache .ruff_cache
