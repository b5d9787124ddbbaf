# pointdet: the two commands of the README and a few helpers.
#   make demo   run the main job on the embedded demo data (creates .venv on first use)
#   make test   run the whole test suite (creates .venv on first use)
VENV ?= .venv
PY := $(VENV)/bin/python
export DETECTRON2_DATASETS ?= $(CURDIR)/datasets

.PHONY: env data demo test clean-venv

env:
	@bash tools/install/bootstrap_env.sh

DEMO := $(DETECTRON2_DATASETS)/pointdet_demo

# the demo data, ImageNet weights, the demo splits' seeded coarse points and the trees' hard
# sparse set (Co-mining) and Keep1 set (SIOD) (all cached)
data: env
	@$(PY) tools/prepare_demo_data.py
	@for s in trees nuclei; do \
	  f=$(DEMO)/$$s/annotations/$${s}_train_coarse_points_s0.json; \
	  [ -f $$f ] || $(PY) tools/make_weak_annotations.py coarse-points --seed 0 \
	    --input $(DEMO)/$$s/annotations/$${s}_train.json --output $$f; \
	done
	@f=$(DEMO)/trees/annotations/trees_train_sparse_hard_s0.json; [ -f $$f ] || $(PY) tools/make_weak_annotations.py \
	  sparse --level hard --seed 0 --input $(DEMO)/trees/annotations/trees_train.json --output $$f
	@f=$(DEMO)/trees/annotations/trees_train_keep1_s0.json; [ -f $$f ] || $(PY) tools/make_weak_annotations.py \
	  keep1 --seed 0 --input $(DEMO)/trees/annotations/trees_train.json --output $$f

demo: data
	@$(PY) tools/run_demo.py

test: data
	@$(PY) -m pytest tests

clean-venv:
	rm -rf $(VENV)
