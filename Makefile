# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest record-histories bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole local stack: Temporal dev server + UI, DOM database, API, simulator, worker, demo orders.
run: $(STAMP)
	$(BIN)/dom dev --demo

## Lint, type-check and run every test.
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src activities workers

# Three test processes on two cores: most of a test's time is waiting on Temporal and the
# databases. Each process has its own PostgreSQL database (tests/conftest.py).
PYTEST_WORKERS ?= 3
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

## Re-record the workflow histories replayed by tests/replay.
record-histories: $(STAMP)
	$(BIN)/pytest tests/replay/recorders.py -p no:randomly

bench: $(STAMP)
	$(BIN)/dom bench routing

clean:
	rm -rf $(VENV) .dom .pytest_cache .mypy_cache .ruff_cache
