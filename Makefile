# Klaxon: `make run` serves the dashboard with its worker; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test test-fast lint format migrate demo bench-ingest bench-compare bench-paging bench-paging-soak bench-pages bench-patterns screenshots clean

$(VENV)/.installed-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-base
	$(PIP) install --quiet -e ".[dev]"
	touch $@

migrate: $(VENV)/.installed-base
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py seed_demo --history

run: demo
	$(PY) manage.py serve

# The main suite, then the fault tests (they kill and restart real processes; slow).
test: $(VENV)/.installed-dev
	$(PY) -m pytest
	$(PY) -m pytest -m fault tests/faults

test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench-ingest: $(VENV)/.installed-dev
	$(PY) bench/ingest.py

# Klaxon beside the one-INSERT ceiling and Alerta (made in bench/.alerta-venv on first use).
bench-compare: $(VENV)/.installed-dev
	$(PY) bench/compare.py

bench-paging: $(VENV)/.installed-dev
	$(PY) bench/paging_latency.py

# Issue 15's paging target: 100 incidents/s for 5 minutes, with the workers' memory.
bench-paging-soak: $(VENV)/.installed-dev
	$(PY) bench/paging_latency.py --rate 100 --seconds 300

bench-pages: $(VENV)/.installed-dev
	$(PY) bench/pages.py

# The filter-pattern engine: the detection pack over one CloudTrail record (no database).
bench-patterns: $(VENV)/.installed-base
	$(PY) bench/filter_patterns.py

# Refresh docs/screenshots/ (needs Debian's chromium).
screenshots: $(VENV)/.installed-dev
	KLAXON_SCREENSHOTS=docs $(PY) -m pytest tests/browser -q -k "not loop"

clean:
	rm -rf $(VENV) var
