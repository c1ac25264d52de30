# The few commands people use. Each one sets up .venv/ on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint format sandbox bench proof clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## the main job on the embedded default (local sandbox)
	$(PY) -m deployments.cli demo

CHROMIUM := /usr/bin/chromium
$(CHROMIUM):  ## Debian's chromium for the browser tests (Playwright drives it; no browser download)
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	  || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

test: $(STAMP) $(CHROMIUM)  ## lint + the whole test suite (browser tests included)

	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -q


lint: $(STAMP)
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)  ## speed and memory figures, one table at the end (about 25 minutes)
	$(PY) bench/all.py


proof: $(STAMP)  ## the full campaigns: bad inputs, chaos, webhook abuse (tens of minutes)
	$(PY) -m proof.bad_inputs
	$(PY) -m proof.chaos --runs 50
	$(PY) -m proof.webhook_abuse --burst 10000

sandbox: $(STAMP)  ## a standalone sandbox on :8765
	$(PY) -m sandbox --port 8765 --db sandbox.db

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
