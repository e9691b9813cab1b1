# The README's two commands: `make demo` and `make test`.
# Everything else here is a step they call; each step is one command.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen --all-extras
PERSONS ?= 20000
SEED ?= 42
HOST ?= 127.0.0.1
PORT ?= 8501
LAB_PORT ?= 8888
SAMPLE := data/sample
# test workers (pytest-xdist); one module's tests stay on one worker, so its fixtures run once
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile
# Every step starts Python processes (the CLI, notebook kernels, the dashboard); without
# bytecode on disk each one compiles ibis, pandas and scipy from source again (seconds
# apiece), so bytecode is compiled at install and written for the project's own modules.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-slow test-all install system sample ingest build reports users dashboard lab lint bench clean

## demo: install, generate sample data, build the warehouse (training the churn model), run the reports, start the dashboard
demo: install sample ingest build reports users dashboard

## test: the default suite (what CI runs); built samples are kept in .pytest_cache/scrm-samples
test: install system
	$(RUN) pytest -m "not slow" -q $(XDIST)

## test-slow: the slow tests only
test-slow: install system
	$(RUN) pytest -m slow -q $(XDIST)

test-all: install system
	$(RUN) pytest -q $(XDIST)

install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q uv
	@$(UV) sync --frozen --all-extras --quiet --compile-bytecode

system:
	@bash scripts/setup-system.sh

sample:
	$(RUN) scrm generate --persons $(PERSONS) --seed $(SEED) --out $(SAMPLE)

ingest:
	$(RUN) scrm ingest $(SAMPLE)/exports

# the build trains the churn model on the sample and scores with it, so every page has scores
build:
	$(RUN) scrm build --train-churn
	$(RUN) scrm status

# every report in one process, two kernels at a time
reports:
	$(RUN) scrm report run-all

# demo logins (local demo only; change or remove them for real use)
users:
	@for u in admin marketer viewer; do \
		$(RUN) scrm users add $$u --role $$u --password "scrm-$$u-demo" >/dev/null || exit 1; done
	@echo "demo logins: admin / scrm-admin-demo, marketer / scrm-marketer-demo, viewer / scrm-viewer-demo"

dashboard:
	@echo "scrm dashboard: http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	@echo "log in as admin / scrm-admin-demo, marketer / scrm-marketer-demo or viewer / scrm-viewer-demo"
	$(RUN) streamlit run dashboard/app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

## lab: JupyterLab on the report notebooks (127.0.0.1 only; the token is in the log;
## a read-only extension manager, so the lab never calls PyPI)
lab: install
	$(RUN) jupyter lab --no-browser --ServerApp.ip=$(HOST) --ServerApp.port=$(LAB_PORT) \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks --LabApp.extension_manager=readonly \
		$(if $(filter 0,$(shell id -u)),--allow-root)

lint:
	$(RUN) ruff check .

bench:
	$(RUN) python bench/run.py
	$(RUN) python bench/table.py

clean:
	rm -rf data/warehouse data/reports $(SAMPLE)
