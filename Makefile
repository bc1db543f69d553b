# Two commands: `make run` (the whole pipeline, through Airflow) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export SODA_CORE_TELEMETRY_ENABLED := false

.PHONY: superset superset-venv bi-check run test report bench bench-build bench-airflow bench-analytics calibrate stop lint format airflow docs expectations clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "==> creating $(VENV) with $(PYTHON) and installing pinned packages (constraints.txt)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	@$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

SUPERSET_VENV := .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/.installed

superset-venv: $(SUPERSET_STAMP)

# Superset pins SQLAlchemy 1.4 and pandas 2.1: its own virtualenv, its own constraints.
$(SUPERSET_STAMP): bi/superset/requirements.txt bi/superset/constraints.txt
	@echo "==> creating $(SUPERSET_VENV) (Superset, pinned in bi/superset/constraints.txt)"
	@test -x $(SUPERSET_VENV)/bin/python || $(PYTHON) -m venv $(SUPERSET_VENV)
	@$(SUPERSET_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	@$(SUPERSET_VENV)/bin/uv pip install --python $(SUPERSET_VENV)/bin/python --quiet -c bi/superset/constraints.txt -r bi/superset/requirements.txt
	@touch $(SUPERSET_STAMP)

superset: venv superset-venv  ## Superset with the JSNA dashboard on http://127.0.0.1:8088 (bi_reader on the local warehouse)
	@$(BIN)/python -m warehouse.superset serve

bi-check: venv superset-venv  ## start Superset, fetch every chart's data through its API, stop; superset_charts_ok=n/m
	@$(BIN)/python -m warehouse.superset_check

run: venv  ## start the warehouse, generate data, run every DAG through Airflow, print a summary
	@$(BIN)/warehouse run

test: venv  ## unit + integration tests in two processes (they start and stop their own PostgreSQL)
	@./tests/system_packages.sh || true
	@$(BIN)/pytest -n $(or $(TEST_PROCESSES),2) --dist loadfile --durations=15

report: venv  ## every district's JSNA pack (HTML + PDF) from the local warehouse's marts
	@$(BIN)/warehouse db start >/dev/null
	@$(BIN)/warehouse report --all --period $(or $(PERIOD),2008-09)

bench: venv  ## validated ingestion vs plain COPY at scale 1 and 4 -> BENCHMARKS.md
	@$(BIN)/python -m warehouse.bench

bench-airflow: venv  ## the transform DAG through Airflow vs the same dbt build + Soda bare, scale 1 and 4 -> BENCHMARKS.md
	@$(BIN)/python -m warehouse.bench_airflow $(SCALES)

bench-build: venv  ## dbt build time, full vs incremental, at scale 1 -> BENCHMARKS.md (SCALES="1 16" for more)
	@$(BIN)/python -m warehouse.bench_build $(SCALES)

bench-analytics: venv  ## analytics vs the generator's planted truth on the default dataset -> BENCHMARKS.md
	@$(BIN)/python -m warehouse.bench_analytics $(ARGS)

stop: venv  ## stop the local warehouse PostgreSQL (data kept in .warehouse/)
	@$(BIN)/warehouse db stop

lint: venv  ## ruff (incl. complexity), function/module sizes, sqlfluff on the dbt project (CI runs it first)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/python scripts/check_sizes.py
	@$(BIN)/sqlfluff lint dbt_project --processes 2 --disable-progress-bar --nocolor

format: venv  ## ruff format + fix, sqlfluff fix on the dbt project
	@$(BIN)/ruff format . && $(BIN)/ruff check --fix .
	@$(BIN)/sqlfluff fix dbt_project --processes 2 --disable-progress-bar --nocolor

expectations: venv  ## rewrite the GX suites (from the feed declarations) and the Soda contracts (from the marts' dbt contracts + expectations/soda/overlay.yml)
	@$(BIN)/warehouse expectations

airflow: venv  ## the Airflow UI on http://localhost:8080 (airflow standalone, local SQLite)
	@eval "$$($(BIN)/python -m warehouse.airflow_local --exports)" && $(BIN)/airflow standalone

calibrate: venv  ## the calibration figures (target vs actual) from the local warehouse's marts
	@$(BIN)/warehouse calibrate

docs: venv  ## dbt docs on http://127.0.0.1:8080
	@$(BIN)/warehouse docs

clean:  ## stop the warehouse and remove all local state (data, Airflow home, venv)
	-@test -x $(BIN)/warehouse && $(BIN)/warehouse db stop
	rm -rf .warehouse $(VENV) $(SUPERSET_VENV) dbt_project/target dbt_project/logs
