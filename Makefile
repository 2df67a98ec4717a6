# Podium's developer commands. `make run` and `make test` are the README's quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
export PODIUM_HOME ?= $(CURDIR)/.podium

.PHONY: install run test lint check bench clean

$(VENV)/.installed: pyproject.toml
	@echo "podium: creating the virtual environment $(VENV) (the first time only)"
	@python3 -m venv $(VENV)
	@echo "podium: upgrading pip"
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "podium: installing Podium and its dev tools into $(VENV) (about a minute the first time)"
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@
	@echo "podium: installed; \`source $(VENV)/bin/activate\` puts \`podium\` on your PATH"

install: $(VENV)/.installed

run: install  ## start `podium server` on SQLite (PODIUM_HOME=.podium) with the examples pushed; PORT=8080
	@echo "podium: starting the server on port $(PORT) (change it with make run PORT=9090), data in $(PODIUM_HOME), examples pushed; Ctrl-C stops it"
	$(VENV)/bin/podium server --port $(PORT) --load examples

test: install  ## the whole suite: SQLite, and PostgreSQL (PODIUM_TEST_PG_URL; required when CI is set)
	$(PY) -m pytest

lint: install  ## format, lint, types, and the import rules (tools/check_imports.py)
	$(VENV)/bin/ruff format --check src tests benchmarks tools
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict tools/check_imports.py
	$(PY) tools/check_imports.py

check: lint test  ## format, lint, types, tests

bench: install  ## print the benchmark table (see benchmarks/RESULTS.md)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/expr_bench.py
	$(PY) benchmarks/tag_limits.py
	$(PY) benchmarks/launch_overhead.py --repeat 5

clean:
	rm -rf $(VENV) .podium .pytest_cache .mypy_cache .ruff_cache
