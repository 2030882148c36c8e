# Two commands do everything (see README "Getting started"):
#   make report   set up the environment, then run the quick report (notebooks -> reports/*.html)
#   make test     set up the environment, then run the test suite
#   make readme   rewrite the README's result tables from runs/ and benchmarks/results/
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= quick
STAMP  := $(VENV)/.installed

.PHONY: setup test report readme benchmark clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[report,dev]"
	$(PY) -m ipykernel install --sys-prefix --name contrastive-thesis --display-name "Python (contrastive-thesis)" >/dev/null
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

report: setup
	$(PY) -m lib.report --profile $(PROFILE)

readme: setup
	$(PY) scripts/update_readme.py

benchmark: setup
	$(PY) benchmarks/throughput.py

clean-venv:
	rm -rf $(VENV)
