# The two commands a newcomer needs: `make run` and `make test`. Both set up everything
# on a fresh machine (Python deps in .venv, then the servers on first use).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check install unit fuzz seed bench bench-commands infra-up infra-down infra-status clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## The whole stack on local servers, in the foreground (Ctrl-C stops it).
run: $(STAMP)
	$(BIN)/merchant dev

## The whole suite against real servers, started (and stopped) by the run itself.
test: $(STAMP)
	$(BIN)/python -m infra.test_run $(PYTEST_ARGS)

## Lint, format check, the import rules and strict types (pyproject.toml): no servers.
## MYPY_PACKAGES: the packages mypy checks (all six product packages unless told otherwise).
MYPY_PACKAGES ?= command_api query_api projectors workers shared merchant_cli
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy $(MYPY_PACKAGES)

## Unit tests only: no servers.
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

## Schemathesis against both APIs: every check but positive_data_acceptance (and response time,
## judged from the server's access log), every phase, seed 7,
## 100 examples per operation (about 20 minutes; CI runs the same with 10: docs/security.md).
fuzz: $(STAMP)
	SCHEMATHESIS_EXAMPLES=100 $(BIN)/python -m infra.test_run tests/security/test_schemathesis.py -q

## Realistic data through the real write path (docs/seeding.md); e.g. make seed SEED_ARGS="--products 10000 --orders 20000"
SEED_ARGS ?= --merchants 3 --products 1000 --orders 2000
seed: $(STAMP)
	$(BIN)/merchant infra up >/dev/null && $(BIN)/merchant seed $(SEED_ARGS)

## Every hot path beside its baseline, 5 interleaved rounds; rewrites the generated section
## of docs/benchmarks.md and docs/img/bench/*.png (about 5 minutes). BENCH_ARGS adds options.
bench: $(STAMP)
	$(BIN)/merchant infra up >/dev/null && eval "$$($(BIN)/merchant infra env)" && \
	$(BIN)/merchant bench --out docs/benchmarks.md $(BENCH_ARGS)

## The command paths only, beside a bare Starlette endpoint; prints the table.
bench-commands: $(STAMP)
	$(BIN)/merchant infra up >/dev/null && eval "$$($(BIN)/merchant infra env)" && \
	$(BIN)/merchant bench --only commands $(BENCH_ARGS)

infra-up: $(STAMP)
	$(BIN)/merchant infra up
infra-down: $(STAMP)
	$(BIN)/merchant infra down
infra-status: $(STAMP)
	$(BIN)/merchant infra status

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
