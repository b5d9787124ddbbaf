# pointdet: the two commands of the README and a few helpers.
#   make demo   run the main job on the embedded demo data (creates .venv on first use)
#   make test   run the whole test suite (creates .venv on first use)
VENV ?= .venv
PY := $(VENV)/bin/python
export DETECTRON2_DATASETS ?= $(CURDIR)/datasets

.PHONY: env data demo test clean-venv

env:
	@bash tools/install/bootstrap_env.sh

data: env
	@$(PY) tools/prepare_demo_data.py

demo: data
	@$(PY) tools/run_demo.py

test: data
	@$(PY) -m pytest tests

clean-venv:
	rm -rf $(VENV)
