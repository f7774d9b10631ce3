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
## A second stack needs its own folder and ports: make run PORT=8010 DOM_HOME=/tmp/dom2
## (Temporal on PORT-767, its UI on PORT+233, the simulator on PORT+100: 7243, 8243, 8110).
PORT ?= 8000
DOM_HOME ?= .dom
TEMPORAL_PORT ?= $(shell expr $(PORT) - 767)
UI_PORT ?= $(shell expr $(PORT) + 233)
run: $(STAMP)
	DOM_HOME=$(DOM_HOME) $(BIN)/dom dev --demo --api-port $(PORT) \
		--temporal-port $(TEMPORAL_PORT) --ui-port $(UI_PORT)

## Lint, type-check and run every test.
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src activities workers

# Three test processes on two cores: most of a test's time is waiting on Temporal and the
# databases. Each process has its own PostgreSQL database (tests/conftest.py). A file's tests
# stay in one process, in order: module-scoped stacks start once, and a file's later tests may
# read what its earlier ones made (tests/cli/test_commands.py).
PYTEST_WORKERS ?= 3
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

## Re-record the workflow histories replayed by tests/replay.
record-histories: $(STAMP)
	$(BIN)/pytest tests/replay/recorders.py -p no:randomly

bench: $(STAMP)
	$(BIN)/dom bench routing

clean:
	rm -rf $(VENV) .dom .pytest_cache .mypy_cache .ruff_cache
