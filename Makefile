# Two commands do all the set-up on a fresh machine: `make demo` and `make test` (the demo, then the full suite);
# `make app` serves the web demo.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo app

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/simtrack demo --output-dir outputs

app: install
	$(VENV)/bin/simtrack app

test: demo
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q
