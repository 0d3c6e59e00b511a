# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --quiet

.PHONY: run test lint install screenshots

run: $(VENV)/.installed
	exec $(PY) manage.py run

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The README's pictures, from the real pages in Chromium (see tests/docs/test_screenshots.py).
screenshots: $(VENV)/.installed-test
	SCREENSHOTS_DIR=$(CURDIR)/docs $(PY) -m pytest tests/docs/test_screenshots.py -q -p no:cacheprovider

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# Loading the settings starts and writes nothing, so the type checker needs no stand-ins.
	$(VENV)/bin/mypy .

install: $(VENV)/.installed

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: with it in place pip keeps the CPU build instead of pulling CUDA packages.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -e ".[test]"
	@touch $@
