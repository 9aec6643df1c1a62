# The two commands a new user needs: `make run` (the default study) and `make test`.
# Layer a config over the default with CONFIG, e.g. `make run CONFIG=sweep.yaml`; the same
# CONFIG then reaches `make report` and `make unlock`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SNAKEMAKE := $(BIN)/snakemake
CONFIG ?=
CONFIGFILE := $(if $(CONFIG),--configfile $(CONFIG),)
# The study's name (config.yaml, overridden by CONFIG): its results live in results/<study>/.
STUDY = $(shell $(BIN)/python -c 'import sys, yaml; \
	names = [(yaml.safe_load(open(f)) or {}).get("study") for f in sys.argv[1:]]; \
	print(["default", *(n for n in names if n)][-1])' config.yaml $(CONFIG))

.PHONY: run report unlock test test-fast lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,slurm]'
	touch $@

# Runs the study with the local profile, then writes the HTML report if any result is newer
# than it (so a second `make run` does no work).
run: $(STAMP)
	$(SNAKEMAKE) --profile profiles/local $(CONFIGFILE)
	$(MAKE) --no-print-directory report CONFIG=$(CONFIG)

report: $(STAMP)
	@out=results/$(STUDY); \
	if [ ! -f $$out/report.html ] || \
	   [ -n "$$(find $$out/tables $$out/figures -newer $$out/report.html -print -quit)" ]; then \
	  $(SNAKEMAKE) --profile profiles/local $(CONFIGFILE) --report $$out/report.html; \
	else echo "$$out/report.html is up to date"; fi

# After a killed run: release Snakemake's lock on the study's outputs.
unlock: $(STAMP)
	$(SNAKEMAKE) --unlock $(CONFIGFILE)

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests benchmarks scripts
	$(BIN)/python -m ruff format --check src tests benchmarks scripts
	$(BIN)/snakefmt --check Snakefile workflow
	$(SNAKEMAKE) --lint

# The inner loop, about a minute: the library's unit tests only (no script, no Snakemake, no
# SLURM), spread test by test over two pytest-xdist workers.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist load -m "not workflow and not slurm and not slow and not scripts" -q

test: lint
	$(BIN)/python -m pytest
