# Entry points: `make run` (the app on the embedded defaults) and `make test` (lint + suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Local runs default to development mode; production sets DJANGO_DEBUG=0 and its secrets.
RUN_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-1}

# The whole suite runs on the embedded SQLite default; the tests whose outcome can depend on the
# database engine (marked `engine` by tests/conftest.py) run again on this PostgreSQL server.
# Tests marked `cluster` run their servers on PostgreSQL, Redis and DynamoDB in either pass, so
# the second pass leaves them out. Tests that run in-process are shared out over TEST_WORKERS
# processes (an idle one takes work from the other); the live tests (marked `live`: servers,
# browsers, faults, load) run one at a time, each with the machine to itself.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist worksteal
COV := --cov=chat --cov-report=

.PHONY: coverage test-fast run test lint format lock migrate superuser browser services bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files only: exact versions, each file checked by its hash.
$(VENV)/.runtime: $(BIN)/python requirements.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# After changing requirements*.txt: pin again (tests/test_lock.py fails until this is done).
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
lock: $(VENV)/.dev
	$(LOCK) --output-file requirements.lock requirements.txt
	$(LOCK) --output-file requirements-dev.lock requirements-dev.txt

migrate: $(VENV)/.runtime
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput

run: migrate
	@echo "Chat is starting at http://$(HOST):$(PORT)/ (Ctrl+C to stop)"
	$(RUN_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

superuser: migrate
	$(RUN_ENV) $(BIN)/python manage.py createsuperuser

# Browser tests drive Debian's Chromium (never a downloaded browser), and the page scripts'
# unit tests run on Node.js; install them when missing.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji nodejs; \
	  else \
	    echo "chromium or node is missing: install them (sudo apt-get install chromium fonts-noto-color-emoji nodejs); browser and script tests fail without them."; \
	  fi; \
	fi

# PostgreSQL for the second pass, redis-server for the tests that start their own, nginx for
# the instance as deployed (the bundle's configuration in front of the app).
services:
	@if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	fi
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	  else \
	    echo "redis-server is missing: install it (sudo apt-get install redis-server)."; \
	  fi; \
	fi
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; \
	  else \
	    echo "nginx is missing: install it (sudo apt-get install nginx)."; \
	  fi; \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint deploy/chat.yaml

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(VENV)/.dev browser services lint
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	@echo "== the whole suite on SQLite: first what runs in-process, over $(TEST_WORKERS) workers =="
	env -u DATABASE_URL $(BIN)/pytest $(PARALLEL) -m "not live and not serial"
	@echo "== then the live tests (servers, browsers, faults, load) and the API fuzz, one at a time =="
	env -u DATABASE_URL $(BIN)/pytest -m "live or serial"
	@echo "== what depends on the database engine, again on PostgreSQL ($(TEST_POSTGRES_URL)) =="
	DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest $(PARALLEL) -m "engine and not cluster and not serial"

# Both passes of `make test` under coverage (of chat/ in the test processes), combined: which
# lines no test runs.
coverage: $(VENV)/.dev browser services
	rm -f .coverage .coverage.*
	env -u DATABASE_URL $(BIN)/pytest $(PARALLEL) -m "not live and not serial" $(COV) -q
	env -u DATABASE_URL $(BIN)/pytest -m "live or serial" $(COV) --cov-append -q
	DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest $(PARALLEL) -m "engine and not cluster and not serial" \
	  $(COV) --cov-append --cov-report=term-missing:skip-covered -q

# The quick loop while working: unit, API and socket tests on SQLite, with no server processes of
# their own, no browser and no deployment tests (`make test` runs everything).
FAST_SKIP := --ignore=tests/live --ignore=tests/test_bench.py --ignore=tests/test_deploy.py \
	--ignore=tests/test_deploy_ops.py --ignore=tests/test_lock.py
test-fast: $(VENV)/.dev
	env -u DATABASE_URL $(BIN)/pytest -q -m "not servers" $(FAST_SKIP)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache

# The benchmark of docs/benchmarks.md (about 25 minutes; servers on core 0, load on core 1; S7 on both).
bench: $(VENV)/.dev services
	$(BIN)/python -m bench.run
