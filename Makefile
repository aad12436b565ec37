# One command runs everything CI judges: `make test`.
# It creates .venv, installs the package with its dev tools, then runs ruff, mypy --strict and pytest.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test lint typecheck pytest venv demo bench clean

test: venv lint typecheck pytest

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint: venv
	$(BIN)/ruff check mailbot tests bench
	$(BIN)/ruff format --check mailbot tests bench

typecheck: venv
	$(BIN)/mypy mailbot

pytest: venv
	$(BIN)/pytest -q

demo: venv
	$(BIN)/mailbot demo

bench: venv
	$(BIN)/python bench/validate_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
