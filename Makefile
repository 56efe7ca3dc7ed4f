# Everyday commands. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test lint format bench serve clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: install, migrate, load demo data, then serve with a Celery worker and beat (Ctrl-C stops all)
run: export DEBUG ?= true
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py ensure_admin
	$(PY) manage.py runstack --port $(PORT)

## serve: production-like stack: DEBUG off, several uvicorn workers (ASGI: HTTP + WebSocket), Celery worker + beat
WEB_WORKERS ?= 4
serve: export DEBUG ?= false
serve: export SECRET_KEY ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
serve: export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/prometheus
serve: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py runstack --host $${HOST:-0.0.0.0} --port $(PORT) --workers $(WEB_WORKERS) --quiet

## bench: benchmarks on a fresh PostgreSQL database (DATABASE_URL, default .../inventory_bench) and Redis
## (REDIS_URL, default db 3) against the serve stack it starts; BENCH_ONLY=a,b and BENCH_DURATION=s for a quick run
bench: $(VENV)/.installed
	scripts/ensure-tools bench
	WEB_WORKERS=$(WEB_WORKERS) $(PY) bench/run.py

# The Socket.IO tests run the real socket.io-client from npm: installed (npm ci) when missing or outdated.
SOCKETIO_JS := tests/socketio/js
$(SOCKETIO_JS)/node_modules/.installed: $(SOCKETIO_JS)/package.json $(SOCKETIO_JS)/package-lock.json
	cd $(SOCKETIO_JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## test: run the test suite against PostgreSQL and Redis (defaults: the local ones), then tests/embedded
## on the embedded default of `make run` (SQLite, in-process cache and layer; ignores DATABASE_URL/REDIS_URL).
## Exit status 5 of the second run (a PYTEST_ARGS -k that selects none of tests/embedded) is not a failure.
test: $(VENV)/.installed $(SOCKETIO_JS)/node_modules/.installed
	scripts/ensure-tools test
	$(PY) -m pytest $(PYTEST_ARGS)
	$(PY) -m pytest --ds=inventory_site.settings_test_embedded tests/embedded $(PYTEST_ARGS) || [ $$? -eq 5 ]

## lint: ruff, formatting, and migrations that were forgotten
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
