# The project's commands. `make test` and `make run` work on a fresh Debian machine: they
# install what is missing (scripts/stack/bootstrap.sh) and start the local stack first.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Prerequisites run in order (setup before up before tests), even under `make -j`.
.NOTPARALLEL:

export UV_PYTHON_DOWNLOADS := never
# uv on PATH, or the one `pip install uv` put beside python3.11 (evaluated when used).
UV = $(shell command -v uv 2>/dev/null || echo python3.11 -m uv)
STACK := scripts/stack

.PHONY: help setup up down status logs lint typecheck test test-unit run bench clean

help:
	@echo "make setup      install uv, Java, Maven, PostgreSQL if missing; the virtualenv; Kafka's jars"
	@echo "make up         start Kafka, PostgreSQL and the services in the background (safe to repeat)"
	@echo "make down       stop them all (keeps the data in .run)"
	@echo "make status     the state of each part"
	@echo "make logs       follow the logs in .run/logs"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make typecheck  mypy"
	@echo "make test       setup, lint, typecheck, up, then pytest (every test, in random order)"
	@echo "make test-unit  the pure unit tests only: no stack, about half a minute"
	@echo "make run        setup, up, then the demo (scripts/demo.py)"
	@echo "make bench      setup, up, then every benchmark of bench/; writes docs/benchmarks.md (not part of test)"
	@echo "make clean      down, then remove .run (data, logs, admin token)"

setup:
	@bash $(STACK)/bootstrap.sh

up:
	@bash $(STACK)/up.sh

down:
	@bash $(STACK)/down.sh

status:
	@bash $(STACK)/status.sh

logs:
	@tail -n 20 -F .run/logs/*.log

lint:
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

typecheck:
	$(UV) run --no-sync mypy

# pytest exits 5 when it collected no test: that fails too, and says so.
test: setup lint typecheck up
	@$(UV) run --no-sync pytest || { status=$$?; \
	  if [[ $$status == 5 ]]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status; }

# The pure tests: no Kafka, no PostgreSQL, no services.
test-unit: setup
	$(UV) run --no-sync pytest tests/unit -q

run: setup up
	$(UV) run --no-sync python scripts/demo.py

# Not part of `make test`: benchmarks print figures, they never pass or fail on timing.
bench: setup up
	$(UV) run --no-sync python bench/run.py

clean: down
	rm -rf .run
