# Entry points for a fresh machine: `make demo` and `make test` set everything up themselves.
SHELL := /bin/bash
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export TF_CPP_MIN_LOG_LEVEL := 3
# One "planned" event per asset for a run over a range of days, not one per day (see runs.py).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS := true

.PHONY: setup demo drift-demo test test-all ui bench bench-fuzz bench-daily bench-text bench-factors bench-env lint clean

# uv itself comes from PyPI into a private folder; the environment is built from uv.lock,
# compiled to bytecode up front (imports of dagster, pandas, TensorFlow are seconds faster).
$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --compile-bytecode
	touch $@

$(DAGSTER_HOME)/dagster.yaml: instance/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp instance/dagster.yaml $@

setup: $(VENV)/.synced $(DAGSTER_HOME)/dagster.yaml

demo: setup
	$(VENV)/bin/profiling-assets demo

# After `make demo`: the demo's last seven days again, now with users drifting to other
# categories and dearer products, through the daily chain; the retrain sensors then ask for
# new fits. (The demo ends yesterday, UTC.)
DRIFT_FROM = $(shell date -u -d '7 days ago' +%F)
YESTERDAY = $(shell date -u -d '1 day ago' +%F)
drift-demo: setup
	$(VENV)/bin/profiling-assets generate --drift-from $(DRIFT_FROM)
	$(VENV)/bin/profiling-assets materialize --start $(DRIFT_FROM) --end $(YESTERDAY) --skip-snapshots

test: setup
	$(VENV)/bin/pytest

test-all: setup
	$(VENV)/bin/pytest -m "slow or not slow"

# `dg dev`, as Dagster recommends, from the project's environment (pyproject's [tool.dg])
ui: setup
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/dg dev

bench: setup
	$(VENV)/bin/python bench/ingest.py

# Hostile landing files of every format: prints the line and file accounting.
bench-fuzz: setup
	$(VENV)/bin/python bench/fuzz.py

# The daily chain at 1M events a day (about an hour: generation, a 6-day history, models).
bench-daily: setup
	$(VENV)/bin/python bench/daily.py

# Outside references for the benchmarks (sentence-transformers on PyTorch, implicit's ALS)
# live in their own environment: the project itself never installs torch.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.ready:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet torch==2.13.0 sentence-transformers implicit
	touch $@

bench-env: $(BENCH_VENV)/.ready

bench-text: setup bench-env
	$(VENV)/bin/python bench/text.py

bench-factors: setup bench-env
	$(VENV)/bin/python bench/factors.py

lint: setup
	$(VENV)/bin/ruff check profiling_assets tests bench

clean:
	rm -rf data .dagster_home
