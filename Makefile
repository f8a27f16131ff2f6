# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test test-sqlite test-postgres venv dev-venv browsers migrate seed lint openapi bench mutants clean-venv

# A venv that fails half-way (no ensurepip, no network for pip) is removed, or every later
# run would find .venv/bin/python and skip straight to a pip that does not exist.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON)); try make PYTHON=/path/to/python3.11" >&2; exit 1; }
	@echo "creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip \
	  || { rm -rf $(VENV); echo "could not build $(VENV) (on Debian/Ubuntu: apt install python3.11-venv)" >&2; exit 1; }

# Install only when the requirements changed since the last install (a stamp of their hash).
venv: $(BIN)/python
	@h=$$(cat requirements.txt | sha256sum | cut -c1-16); \
	if [ ! -f $(VENV)/.stamp-run-$$h ] && [ ! -f $(VENV)/.stamp-dev-$$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16) ]; then \
	  echo "installing requirements.txt"; \
	  $(BIN)/pip install -q --disable-pip-version-check -r requirements.txt && rm -f $(VENV)/.stamp-run-* && touch $(VENV)/.stamp-run-$$h; \
	fi

dev-venv: $(BIN)/python
	@h=$$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16); \
	if [ ! -f $(VENV)/.stamp-dev-$$h ]; then \
	  echo "installing requirements-dev.txt"; \
	  $(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt && rm -f $(VENV)/.stamp-dev-* && touch $(VENV)/.stamp-dev-$$h; \
	fi

migrate: venv
	@if [ "$${APP_ENV:-development}" = development ]; then $(BIN)/flask --app wsgi dev init-secrets; fi
	$(BIN)/alembic upgrade head

# The first QR signing key (only when there is none), before the demo data signs place codes.
seed: migrate
	$(BIN)/flask --app wsgi qr init-keys
	$(BIN)/flask --app wsgi seed demo

run: seed
	$(BIN)/flask --app wsgi dev banner
	exec $(BIN)/python -m app.supervisor

# In parallel (pytest-xdist, one worker per CPU): each worker has its own database (a SQLite
# file, or a PostgreSQL database of its own), fake servers on ports of its own and its own
# rate-limit keys in Redis. PostgreSQL is used as .ci/run uses it: TEST_DATABASE_URL when set,
# else the server on 127.0.0.1:5432 when one answers; without one, the race and PostgreSQL
# tests that were skipped are counted and said loudly (they are the ones that catch races).
PG_DEFAULT_URL := postgresql://postgres@127.0.0.1:5432/postgres
test: dev-venv browsers
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:randomly -n auto
	@url="$${TEST_DATABASE_URL:-}"; \
	if [[ -z "$$url" ]] && $(BIN)/python -m tests.support.pg_probe "$(PG_DEFAULT_URL)"; then url="$(PG_DEFAULT_URL)"; fi; \
	if [[ "$$url" == postgres* ]]; then \
	  echo "== again on PostgreSQL ($$url)"; \
	  TEST_DB=postgresql TEST_DATABASE_URL="$$url" $(BIN)/python -m pytest -q -p no:randomly -m db -n auto; \
	else \
	  n=$$($(BIN)/python -m pytest --collect-only -q -m db 2>/dev/null | grep -c '::'); \
	  echo; echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  echo "!! NO POSTGRESQL on 127.0.0.1:5432 and TEST_DATABASE_URL not set:"; \
	  echo "!! $$n race and PostgreSQL tests (marked db) were NOT run on PostgreSQL."; \
	  echo "!! Start one (see .ci/run) or set TEST_DATABASE_URL=postgresql://..."; \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

# The console's browser tests drive Debian's Chromium and need a CJK font; installed here when
# missing and we are root (CI is), quietly. Otherwise those tests are skipped, saying why.
browsers:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and fonts-noto-cjk (the console's browser tests)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium fonts-noto-cjk >/dev/null) || echo "could not install chromium: the browser tests will be skipped"; \
	  else echo "chromium missing (not root): the console's browser tests will be skipped"; fi; \
	fi

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

openapi: venv
	$(BIN)/flask --app wsgi openapi write openapi/openapi.json

bench: dev-venv
	$(BIN)/python -m bench.run

# Mutation testing of the rule modules named in setup.cfg [mutmut] (tokens, QR verification and
# consumption, escalation, idempotency, permissions), on SQLite. Not part of CI: it is CPU-heavy
# (MUTANT_CHILDREN processes, 1 by default; results are cached in mutants/ between runs).
# The survivors and why each is acceptable: bench/MUTANTS.md.
MUTANT_CHILDREN ?= 1
mutants: dev-venv
	$(BIN)/mutmut run --max-children $(MUTANT_CHILDREN)
	$(BIN)/mutmut results

clean-venv:
	rm -rf $(VENV)
