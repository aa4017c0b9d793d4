# callpulse: the obvious targets. `make test` is what CI runs (see README).
PYTHON ?= python3

.PHONY: install test lint typecheck format demo rules dashboards docs check

install:
	$(PYTHON) -m pip install -e '.[dev]'

test: install
	$(PYTHON) -m pytest

lint:
	ruff check .
	ruff format --check callpulse processors streams exporters

typecheck:
	mypy

format:
	ruff format callpulse processors streams exporters tests
	ruff check --fix .

demo: install
	callpulse demo

rules:
	callpulse rules generate
	$(PYTHON) -m callpulse.k8sgen

dashboards:
	$(PYTHON) -m callpulse.dashboards generate

docs:
	$(PYTHON) -m exporters.catalog > docs/metrics.md

check: lint typecheck test
