# Two entry points: `make run` starts the bot, `make test` runs lint, types and the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
WORKERS ?= 4

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.app-installed: requirements/app.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/app.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: requirements/dev.txt $(VENV)/.app-installed
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $@

run: $(VENV)/.app-installed
	$(BIN)/python -m bot --config $(CONFIG)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# One pytest run covers both backends: every test that takes a database runs on SQLite and,
# when a server answers at HERALD_TEST_POSTGRES (default
# postgresql://postgres@127.0.0.1:5432/postgres), on PostgreSQL. CI sets HERALD_REQUIRE_POSTGRES=1.
test: lint
	$(BIN)/python -m pytest -q -n $(WORKERS)

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.profile
	$(BIN)/python -m bench.everyone
	$(BIN)/python -m bench.scheduling
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.people
	$(BIN)/python -m bench.failover

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
