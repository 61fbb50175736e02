# Tandem — the two commands of the README are `make run` and `make test`.
# Every target installs what it needs and skips what is already up to date.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
NPM    ?= npm
JOBS   ?= auto

PY_STAMP     := $(VENV)/.installed
NODE_STAMP   := client_js/node_modules/.installed
CLIENT       := client_js/dist/tandem.js
CLIENT_SRC   := $(shell find client_js/src client_js/demo -name '*.js' 2>/dev/null) client_js/build.mjs
CHROME_STAMP := $(VENV)/.chromium

# Demo values for `make run` (never use them in production): the demo site's
# token-signing secret (walkthroughs/demo/site.yaml names it) and the admin API token.
export TANDEM_DEMO_SIGNING_KEY ?= demo-signing-key-not-for-production
export TANDEM_ADMIN_TOKEN ?= dev-admin-token

# `make run-cluster`: two server nodes behind nginx, on this PostgreSQL and Redis (docs/deploy.md).
CLUSTER_STORE_URL  ?= postgresql://postgres@127.0.0.1:5432/postgres?schema=tandem_cluster
CLUSTER_BROKER_URL ?= redis://127.0.0.1:6379/0?prefix=tandem-cluster:

.PHONY: help run run-cluster nginx test install client client-test chromium lint typecheck unit integration browser clean bench

help:
	@echo "make run    install what is missing, build the client, start the server (:8000) and the demo site (:8001)"
	@echo "make test   install what is missing, then lint, type-check and run every test"
	@echo "make run-cluster   two server nodes behind nginx (:8000) on PostgreSQL and Redis, and the demo site (:8001)"

run: $(PY_STAMP) $(CLIENT)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile

# Two nodes (:8010, :8011) behind nginx (:8000) and the demo site (:8001); the content is
# published first, so that the nodes start together on a store already set up.
run-cluster: $(PY_STAMP) $(CLIENT) nginx
	@export PATH="$(abspath $(BIN)):$$PATH" NGINX_BIN="$$(command -v nginx || echo /usr/sbin/nginx)" \
	  TANDEM_STORE_URL='$(CLUSTER_STORE_URL)' TANDEM_BROKER_URL='$(CLUSTER_BROKER_URL)' \
	  TANDEM_SECRET="$${TANDEM_SECRET:-dev-cluster-secret-not-for-production}" \
	  TANDEM_PUBLIC_URL=http://127.0.0.1:8000 && \
	$(BIN)/tandem load walkthroughs && \
	exec $(BIN)/honcho start -f Procfile.cluster

# nginx for run-cluster: Debian's package, installed when missing and run as root.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "nginx not found: installing Debian's nginx package…"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx; \
	  else \
	    echo "error: nginx is needed for run-cluster (Debian/Ubuntu: apt-get install nginx; make does it when run as root)"; \
	    exit 1; \
	  fi; }

test: $(PY_STAMP) $(CLIENT) $(CHROME_STAMP) lint typecheck client-test
	$(BIN)/pytest -n $(JOBS) tests

bench: $(PY_STAMP) $(CLIENT) $(CHROME_STAMP)
	$(BIN)/python -m bench.run

install: $(PY_STAMP) $(NODE_STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: Tandem needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): client_js/package.json client_js/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "error: npm (Node.js 18+) is needed to build the client"; exit 1; }
	cd client_js && $(NPM) ci --no-audit --no-fund
	@touch $@

client: $(CLIENT)

$(CLIENT): $(NODE_STAMP) $(CLIENT_SRC)
	cd client_js && $(NPM) run --silent build

client-test: $(NODE_STAMP)
	cd client_js && $(NPM) test --silent

chromium: $(CHROME_STAMP)

$(CHROME_STAMP): | $(PY_STAMP)
	$(BIN)/python -m recorder.chromium --ensure
	@touch $@

lint: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/ruff check server recorder tests bench
	$(BIN)/ruff format --check server recorder tests bench

typecheck: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/mypy
	cd client_js && npx --no-install tsc -p tsconfig.json

unit: $(PY_STAMP)
	$(BIN)/pytest tests/unit

integration: $(PY_STAMP) $(CLIENT)
	$(BIN)/pytest -n $(JOBS) tests/integration

browser: $(PY_STAMP) $(CLIENT) $(CHROME_STAMP)
	$(BIN)/pytest -n $(JOBS) tests/browser

clean:
	rm -rf $(VENV) client_js/node_modules client_js/dist var .pytest_cache .mypy_cache .ruff_cache
