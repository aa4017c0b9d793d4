# callpulse: the obvious targets. `make test` is what CI runs (see README).
PYTHON ?= python3

.PHONY: install test lint typecheck format demo rules dashboards docs check bench

install:
	$(PYTHON) -m pip install -e '.[dev]'

test: install
	$(PYTHON) -m pytest

lint:
	ruff check .
	ruff format --check callpulse processors streams exporters bench

typecheck:
	mypy

format:
	ruff format callpulse processors streams exporters bench tests
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

# issue 7's benchmark at full size on the embedded stack (minutes); results in bench/results/
bench:
	$(PYTHON) bench/run.py --size full $(BENCH_ARGS)
