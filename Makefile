# Switchboard. Quickstart: `make run`, `make test`. Each target is one job.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The embedded RingCentral's floor (`manage.py serve --help` lists them) and
# its speed factor (2 = twice as many events per second).
PROFILE ?= demo
SPEED ?= $(or $(SIMULATOR_SPEED),1)

.PHONY: run test test-postgres bench lint format install install-dev migrate worker simulator cluster check prerequisites soak

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt tests/requirements.txt tests/sdk/package-lock.json | $(BIN)/python
	$(BIN)/pip install --quiet -r tests/requirements.txt
	# RingCentral's official JS SDK, for the simulator's fidelity test.
	npm ci --prefix tests/sdk --no-audit --no-fund --silent
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

var/secret_key:
	@mkdir -p var
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	@chmod 600 $@

migrate: install var/secret_key
	DJANGO_SECRET_KEY_FILE=var/secret_key $(BIN)/python manage.py migrate --noinput -v 0

# Dashboard + telephony worker + embedded RingCentral, one process.
run: migrate
	DJANGO_SECRET_KEY_FILE=var/secret_key $(BIN)/python manage.py serve --port $(PORT) --profile $(PROFILE) --speed $(SPEED)

# The worker alone, against RINGCENTRAL_SERVER_URL (scaled deployment).
worker: install
	$(BIN)/python manage.py telephony_worker

simulator: install
	$(BIN)/python manage.py ringcentral_simulator --host 127.0.0.1 --port 9100 --profile $(PROFILE) --speed $(SPEED)

# The scaled deployment of docs/deploy.md on this machine: nginx on
# CLUSTER_PORT in front of 2 daphnes, 2 workers (one leads), the embedded
# RingCentral, this machine's Redis and PostgreSQL (its database created
# when missing). Ctrl-C stops it all.
CLUSTER_PORT ?= 8080
CLUSTER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard_cluster
CLUSTER_REDIS_URL ?= redis://127.0.0.1:6379/1
cluster: install prerequisites var/secret_key
	DATABASE_URL=$(CLUSTER_DATABASE_URL) REDIS_URL=$(CLUSTER_REDIS_URL) DJANGO_SECRET_KEY_FILE=var/secret_key \
		$(BIN)/python manage.py cluster --port $(CLUSTER_PORT) --profile $(PROFILE) --speed $(SPEED)

# Debian's chromium, Node.js, Redis and PostgreSQL: installed or started
# when missing (as root), else one line saying what to install.
prerequisites:
	@.ci/prerequisites

test: install-dev prerequisites
	$(BIN)/pytest -m "not bench and not soak"

# The suite's database tests again with PostgreSQL (the scaled deployment's
# database). Left out: what never uses the test database (browser tests and
# the soak serve on SQLite files of their own; the scaled tests make their
# own PostgreSQL database; the SDK and the page modules use none), which
# `make test` runs.
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/switchboard_test
test-postgres: install-dev prerequisites
	DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -m "not bench and not soak and not browser" -q \
		--ignore=tests/soak --ignore=tests/scaled --ignore=tests/sdk --ignore=tests/page

bench: install-dev prerequisites
	$(BIN)/pytest -m bench -q -s --timeout=0 tests/bench

# A busy shift (docs/benchmarks.md, "Soak"): load-2000 (~300 events/s) with
# SOAK_CONSOLES consoles for SOAK_MINUTES; every process's memory flat,
# nothing lost, the floor equal to RingCentral's at the end. `make test`
# runs a 90-second form of it.
SOAK_MINUTES ?= 30
SOAK_CONSOLES ?= 200
soak: install-dev
	SOAK_MINUTES=$(SOAK_MINUTES) SOAK_CONSOLES=$(SOAK_CONSOLES) $(BIN)/pytest -m soak -q -s tests/soak

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy telephony dashboard

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test
