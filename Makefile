# fragscope: every target does its own set-up on a fresh Debian 12 machine run as root.
# `make test` and `make demo` are the two commands the README opens with.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .make
APT_PACKAGES := $(shell grep -v '^\s*\#' deps/apt.txt | grep -v '^\s*$$')

.PHONY: all deps apt venv npm test test-fast demo bench lint typecheck schema-doc indicators-doc examples clean

all: test

deps: apt venv npm

# apt: install only what is missing, so a second run costs one dpkg query.
apt: $(STAMPS)/apt
$(STAMPS)/apt: deps/apt.txt
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "apt: all packages present"; fi
	@touch $@

venv: $(STAMPS)/venv
$(STAMPS)/venv: pyproject.toml | $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# npm: the lab chain's packages, pinned by lab/chain/package-lock.json (ganache, solc, ENS and
# UNS artifacts). The target is npm's own hidden lockfile, so a deleted node_modules is redone.
# Debian's nodejs ships without npm while NodeSource's nodejs bundles it (and conflicts with
# Debian's npm package): install Debian's npm only when no npm is on PATH.
npm: lab/chain/node_modules/.package-lock.json
lab/chain/node_modules/.package-lock.json: lab/chain/package.json lab/chain/package-lock.json | $(STAMPS)/apt
	@command -v npm >/dev/null || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm; }
	cd lab/chain && npm ci --no-audit --no-fund
	@touch $@

# Every test, in two passes: what needs no lab in three pytest-xdist workers (as test-fast),
# then the lab, the demo and the browser tests in one process (they share one lab and its
# namespaces). The two marker expressions are complements, so together they are the suite.
test: deps
	$(BIN)/pytest -n 3 --dist loadgroup -m "not lab and not own_lab and not browser"
	$(BIN)/pytest -m "lab or own_lab or browser"

# The fast loop: everything but the lab, the demo and the browser (markers in pyproject.toml;
# lab and postgres are also derived from the fixtures a test uses, in tests/conftest.py), in
# three pytest-xdist workers: much of the suite waits on sockets and subprocesses, so three
# beat two on two cores. Tests of the shared servers all go to one worker (xdist_group).
test-fast: venv
	$(BIN)/pytest -n 3 --dist loadgroup -m "not lab and not own_lab and not browser"

demo: deps
	$(BIN)/fragscope demo

bench: deps
	$(BIN)/python -m bench

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

schema-doc: venv
	$(BIN)/fragscope db describe --output docs/schema.md --metadata docs/metadata.json

indicators-doc: venv
	$(BIN)/fragscope indicators list --format markdown > docs/indicators.md

# docs/examples: the text, markdown and html reports of a fixed, seeded synthetic round
# (tests/fixtures/reports.py, the several-vantages world), with the report goldens;
# tests/reports/test_golden.py fails when the current code renders them differently.
examples: venv
	mkdir -p docs/examples
	$(BIN)/pytest -q -p no:cacheprovider tests/reports/test_golden.py --update-golden

clean:
	rm -rf $(STAMPS) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
