# Two commands do everything (see README "Getting started"):
#   make report   set up the environment, then run the quick report (notebooks -> reports/quick/*.html,
#                 indexed in reports/index.html), loading every run whose record is in runs/
#   make test     set up the environment, then run the test suite
#   make readme   rewrite the generated blocks of README.md and benchmarks/README.md from runs/ and benchmarks/results/
#   make report RUNS=runs-fresh   retrain everything: the runs go to (and are read from) another folder
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= quick
RUNS   ?=
STAMP  := $(VENV)/.installed
SHELL  := /bin/bash

# pip prints "WARNING: Location 'file:///...' is ignored: it is neither a file nor a directory" once
# per package that a local file index named in the machine's pip configuration (extra-index-url =
# file:///..., e.g. in ~/.config/pip/pip.conf) does not hold; pip then takes the package from the
# other indexes, so the line says nothing about this project. Exactly those lines are dropped: every
# other warning and error, and pip's exit status (pipefail), are kept, and what is installed is unchanged.
PIP_NOT_IN_LOCAL_INDEX := grep -v "^WARNING: Location 'file:.*' is ignored"

.PHONY: setup test report readme benchmark clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(PY) -m pip install -q -e ".[report,dev]" 2>&1 | { $(PIP_NOT_IN_LOCAL_INDEX) || true; }
	$(PY) -m ipykernel install --sys-prefix --name contrastive-thesis --display-name "Python (contrastive-thesis)" >/dev/null
	# git compares notebooks without what JupyterLab writes into them (outputs, the kernel's language_info)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then python3 scripts/clean_notebook.py --install; fi
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

report: setup
	$(if $(RUNS),THESIS_RUNS_DIR=$(abspath $(RUNS)) )$(PY) -m lib.report --profile $(PROFILE)

readme: setup
	$(PY) scripts/update_readme.py

benchmark: setup
	$(PY) benchmarks/throughput.py

clean-venv:
	rm -rf $(VENV)
