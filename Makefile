# Quartermaster: `make run` serves it, `make test` runs the whole suite.
# Both start the embedded PostgreSQL (in .data/) unless DATABASE_URL is set (core/devdb.py).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two installs: the runtime requirements (all `make run` needs), and on top of them the
# development tools (test, lint, types, audit) for every other target.
RUN_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
# The venv is made without pip (ensurepip costs seconds) and filled by the pip of $(PYTHON)
# (`--python`, pip 22.3 or later); where $(PYTHON) has none that can, by the venv's own pip.
BASE_PIP = $(PYTHON) -m pip --python $(PY)
PIP = $(if $(shell $(BASE_PIP) --version 2>/dev/null),$(BASE_PIP),$(PY) -m pip) \
	--disable-pip-version-check install --quiet
WITH_DB := $(PY) -m core.devdb --
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run dev test lint audit format migrate shell requirements clean-data

$(PY):
	@echo "Creating $(VENV) ..."
	@$(PYTHON) -m venv --without-pip $(VENV)
	@$(BASE_PIP) --version >/dev/null 2>&1 || $(PY) -m ensurepip --default-pip >/dev/null

# requirements.txt is pip-compile's complete, pinned list: no resolving (--no-deps); modules are
# compiled when first imported, not all of them now (--no-compile). uv (a pinned release, put
# beside the venv by $(PYTHON)'s pip) fetches and installs the wheels in parallel: a cold install
# took 14 s here where pip took 45-61 s, most of `make run`'s cold start. If uv cannot be had,
# pip installs them as before.
UV_VERSION := 0.13.9
UV := $(VENV)/.uv/bin/uv
$(RUN_STAMP): requirements.txt | $(PY)
	@echo "Installing the runtime requirements into $(VENV) ..."
	@{ [ -x $(UV) ] || $(PYTHON) -m pip --disable-pip-version-check install --quiet --target $(VENV)/.uv uv==$(UV_VERSION) >/dev/null 2>&1; } && \
	  UV_NO_CONFIG=1 $(UV) pip install --quiet --python $(PY) --no-deps -r requirements.txt || \
	  $(PIP) --no-deps --no-compile -r requirements.txt
	@touch $@

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	@echo "Installing the development tools into $(VENV) ..."
	@$(PIP) -r requirements.txt -r requirements-dev.txt
	@touch $@

# Production servers (core/runner.py): migrate (one line), the demo admin and demo data on the
# first run, gunicorn on HOST:PORT, the Celery worker and beat (a queue in PostgreSQL unless
# REDIS_URL or CELERY_BROKER_URL is set); logs in .data/logs/; Ctrl-C stops all of it.
run: $(RUN_STAMP)
	@$(WITH_DB) $(PY) -m core.runner --host $(HOST) --port $(PORT)

# The same with Django's auto-reloading development server (its log on the terminal).
dev: $(RUN_STAMP)
	@$(WITH_DB) $(PY) -m core.runner --host $(HOST) --port $(PORT) --dev

# The browser tests need Chromium: check-chromium installs Debian's package as root, or stops
# naming it (never a silent skip). Two pytest-xdist workers, each with its own test database
# (the suite took 17-21 min on one core of CI's two, 5 min on two); `make test XDIST=` runs it
# in one process.
XDIST ?= -n 2
test: $(STAMP) check-chromium
	$(WITH_DB) $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache

# Known vulnerabilities in the pinned dependencies (needs PyPI's JSON API or OSV; not in CI,
# whose network reaches only the package index).
audit: $(STAMP)
	$(VENV)/bin/pip-audit -r requirements.txt -r requirements-dev.txt --progress-spinner off

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(STAMP)
	$(WITH_DB) $(PY) manage.py migrate

shell: $(STAMP)
	$(WITH_DB) $(PY) manage.py shell

# Re-pin requirements*.txt after editing requirements*.in.
requirements: $(STAMP)
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url -o requirements-dev.txt requirements-dev.in

# Removes the embedded database and the generated development secrets.
clean-data:
	rm -rf .data

# The billing benchmark (bench/README.md): the database's CPU per HTTP charge against pgbench's
# for the same statements, the web workers' against a bare WSGI reference, batches against
# pgbench's, charges/s; issue 11's ratios in one table. On the embedded PostgreSQL unless
# DATABASE_URL is set (BENCH_ARGS="--database NAME --port N" beside another run). Not in `make test`.
.PHONY: bench-billing
bench-billing: $(STAMP)
	$(WITH_DB) $(PY) -m bench.billing_bench $(BENCH_ARGS)

# The live-stream benchmark (bench/README.md): events a second fanned out to 200 subscribers by
# the PostgreSQL channel layer, and by Redis beside it when REDIS_URL is set. Not in `make test`.
.PHONY: bench-stream
bench-stream: $(STAMP)
	$(WITH_DB) $(PY) -m bench.stream_bench $(BENCH_ARGS)

# The agents benchmark (bench/README.md): tasks claimed and completed per second through HTTP
# against a bare SKIP LOCKED loop in pgbench, and a 10,000-node session tree's cost and cancel
# against their single statement, in the same run. Not in `make test`.
.PHONY: bench-agents
bench-agents: $(STAMP)
	$(WITH_DB) $(PY) -m bench.agents_bench $(BENCH_ARGS)

# The insights benchmark (bench/README.md): one day's analytics roll-up over 1,000,000 ledger
# entries and 100,000 sessions beside its single SQL aggregate, and the audit-log list's latency at
# 1,000,000 entries (first page, a deep cursor page, a filtered query). Not in `make test`.
.PHONY: bench-insights
bench-insights: $(STAMP)
	$(WITH_DB) $(PY) -m bench.insights_bench $(BENCH_ARGS)

# The schemathesis run of `make test` (core/tests/test_schemathesis.py), longer: QM_FUZZ_EXAMPLES
# examples per operation plus schemathesis' coverage phase, with a random seed (printed on a
# failure) unless QM_FUZZ_SEED pins one. Not part of `make test`.
QM_FUZZ_EXAMPLES ?= 200
.PHONY: fuzz
fuzz: $(STAMP)
	QM_FUZZ_EXAMPLES=$(QM_FUZZ_EXAMPLES) $(WITH_DB) $(PY) -m pytest core/tests/test_schemathesis.py $(PYTEST_ARGS)

# The browser tests (console/tests/browser/) drive Debian's Chromium, never a downloaded one:
# installed here when missing and run as root, otherwise a stop naming the package.
QM_CHROMIUM ?= /usr/bin/chromium
export QM_CHROMIUM
.PHONY: check-chromium
check-chromium:
	@if [ ! -x "$(QM_CHROMIUM)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser tests ..."; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	fi
	@[ -x "$(QM_CHROMIUM)" ] || { echo "The browser tests need Chromium at $(QM_CHROMIUM): install Debian's package as root (apt-get install -y chromium), or set QM_CHROMIUM to a Chromium binary." >&2; exit 1; }
