# The two commands a new user needs: `make run` (the default study) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SNAKEMAKE := $(BIN)/snakemake

.PHONY: run report test lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,slurm]'
	touch $@

# Runs the default study with the local profile, then writes the HTML report if any result
# is newer than it (so a second `make run` does no work).
run: $(STAMP)
	$(SNAKEMAKE) --profile profiles/local
	$(MAKE) --no-print-directory report

report: $(STAMP)
	@if [ ! -f results/report.html ] || \
	   [ -n "$$(find results/tables results/figures -newer results/report.html -print -quit)" ]; then \
	  $(SNAKEMAKE) --profile profiles/local --report results/report.html; \
	else echo "results/report.html is up to date"; fi

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests benchmarks scripts
	$(BIN)/python -m ruff format --check src tests benchmarks scripts
	$(BIN)/snakefmt --check Snakefile workflow
	$(SNAKEMAKE) --lint

test: lint
	$(BIN)/python -m pytest
