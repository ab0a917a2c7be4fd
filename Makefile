# The two commands of the README: `make run` and `make test`. Each makes its own virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/default
OUT ?= out/default

.PHONY: run test lint venv clean

$(BIN)/mailsim: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dask]'
	touch $@

venv: $(BIN)/mailsim

run: venv
	$(BIN)/mailsim run $(SCENARIO) --out $(OUT)

lint: venv
	$(BIN)/ruff check mailsim tests benchmarks
	$(BIN)/mypy

test: venv lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
