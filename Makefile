# Proofcast: two commands set everything up on a fresh machine.
#   make demo   runs the pipeline end to end on embedded defaults (starts its own local chain)
#   make test   lint, the docs build, Solidity tests and the Python test suite (real EZKL, anvil, solc-js)
# Both install what they need first, idempotently: a .venv (CPU torch) and the npm EVM toolchain.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FORGE  := node_modules/.bin/forge

.PHONY: setup chromium demo test lint docs forge-test pytest clean

setup: $(VENV)/.installed node_modules/.installed chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch pinned first: the CPU build (2.13.0) comes from local disk; an unpinned torch pulls CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Headless Chromium for the explorer's browser tests (Debian's package; Playwright drives it and
# never downloads a browser of its own). Skipped when already installed.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

demo: setup
	$(VENV)/bin/proofcast demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The documentation site (mkdocs.yml, docs/): strict, so a broken link or anchor, or a page left
# out of the nav, fails. NO_MKDOCS_2_WARNING silences Material's banner about MkDocs 2.0.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

forge-test: setup
	cd contracts && ../$(FORGE) test --offline

# pytest exits 5 when it collects nothing: that is a failure here, not a pass.
pytest: setup
	@$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$status

test: lint docs forge-test pytest

clean:
	rm -rf build results contracts/out contracts/cache
