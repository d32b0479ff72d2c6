# Conv2D Clinic. Every target bootstraps .venv from requirements.txt when needed.
#   make lab     start JupyterLab on the course
#   make test    lint + the whole test suite (what CI runs)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# every nbgrader of the venv puts the venv's bin first on PATH (it runs `alembic`): docs/pitfalls.md
NBGRADER_VENV_CONFIG := $(VENV)/etc/jupyter/nbgrader_config.py
export PATH := $(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 3
# oneDNN on, on every CPU (it is on by default only on some): channels_first works on the CPU
# everywhere, as lesson 04 teaches (docs/pitfalls.md, "TensorFlow packaging").
export TF_ENABLE_ONEDNN_OPTS ?= 1
export PYTHONHASHSEED ?= 0
PORT ?= 8888
# Debian packages the tests need: a browser for the browser tests, bubblewrap for the grader's
# sandbox, graphviz for keras.utils.plot_model (lesson 06), postgresql for the gradebook on a
# database server (tests/grading/test_postgres.py; Debian keeps initdb off PATH, in
# /usr/lib/postgresql/<version>/bin, so it is looked for there).
APT_PACKAGES := chromium bubblewrap graphviz postgresql
APT_COMMANDS := chromium bwrap dot

.PHONY: help lab test test-fast lint bench release grade formgrader handouts playground system-deps clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Conv2D Clinic needs Python 3.11 (found " + sys.version.split()[0] + "). Set PYTHON=/path/to/python3.11.")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

$(NBGRADER_VENV_CONFIG): grader/venv_nbgrader_config.py $(STAMP)
	@mkdir -p $(dir $@)
	cp grader/venv_nbgrader_config.py $@

$(TEST_STAMP): $(STAMP) $(NBGRADER_VENV_CONFIG) requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	@touch $(TEST_STAMP)

system-deps: ## install Debian packages the tests need (chromium, bubblewrap, postgresql) when root
	@missing=""; for c in $(APT_COMMANDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing initdb"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages: $(APT_PACKAGES)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	  else \
	    echo "WARNING: missing$$missing. Install the Debian packages '$(APT_PACKAGES)' (sudo apt-get install $(APT_PACKAGES))"; \
	    echo "         or your system's equivalents; browser and sandbox tests fail without them."; \
	  fi; \
	fi

ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP) $(NBGRADER_VENV_CONFIG) ## start JupyterLab on the course (http://127.0.0.1:$(PORT))
	JUPYTER_CONFIG_PATH=$(CURDIR)/grader $(BIN)/jupyter lab $(ROOT_FLAG) --ip=127.0.0.1 --port=$(PORT) --ServerApp.root_dir=$(CURDIR) $(LAB_ARGS) notebooks/00-convolution-shapes.ipynb

lint: $(STAMP) ## ruff on the package, tests, benchmarks and notebooks
	$(BIN)/ruff check convclinic tests benchmarks notebooks solutions

test: $(TEST_STAMP) system-deps hub/node_modules/.installed lint ## lint, then the whole test suite (CI runs this)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) lint ## the inner loop: every test that needs no TensorFlow, browser or nbgrader run
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## measure and write the numbers into benchmarks/
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

release: $(STAMP) ## regenerate exercises/ from the masters in solutions/
	$(BIN)/convclinic release

.PHONY: feedback nbgrader
nbgrader: $(STAMP) $(NBGRADER_VENV_CONFIG) ## any nbgrader command, venv first on PATH: ARGS='collect NAME' [COURSE=dir]
	@test -n "$(ARGS)" || { echo "usage: make nbgrader ARGS='collect ASSIGNMENT' [COURSE=path]"; exit 2; }
	cd "$(or $(COURSE),.)" && $(BIN)/nbgrader $(ARGS)

feedback: $(STAMP) $(NBGRADER_VENV_CONFIG) ## pages after manual grading: COURSE=dir [ARGS='--zip DIR']
	@test -n "$(COURSE)" || { echo "usage: make feedback COURSE=path [ARGS='--assignment NAME --zip DIR']"; exit 2; }
	$(BIN)/convclinic feedback --course "$(COURSE)" $(ARGS)

grade: $(STAMP) $(NBGRADER_VENV_CONFIG) ## grade SUBMISSIONS=folder-or-zip into OUT=folder
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=path OUT=path"; exit 2; }
	$(BIN)/convclinic grade "$(SUBMISSIONS)" --out "$(or $(OUT),grades)"

formgrader: $(STAMP) ## nbgrader's formgrader on COURSE=folder (default grades/course) at http://127.0.0.1:$(PORT)/formgrader
	@test -f "$(or $(COURSE),grades/course)/nbgrader_config.py" || { echo "usage: make formgrader COURSE=OUT/course (a folder convclinic grade wrote)"; exit 2; }
	cd "$(or $(COURSE),grades/course)" && $(BIN)/jupyter server $(ROOT_FLAG) --ip=127.0.0.1 --port=$(PORT) --ServerApp.root_dir=. $(LAB_ARGS)

handouts: $(STAMP) system-deps ## executed HTML handouts + PDF of every lesson into build/handouts
	$(BIN)/python -m convclinic.handouts build/handouts

playground: $(STAMP) ## serve the Conv2D playground as a Voila app on 127.0.0.1
	$(BIN)/voila --no-browser $(ROOT_FLAG) --Voila.ip=127.0.0.1 --port=$(PORT) notebooks/playground.ipynb

.PHONY: hub
HUB_PORT ?= 8000
# configurable-http-proxy from the npm registry, installed in hub/node_modules (never globally)
hub/node_modules/.installed: hub/package.json hub/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages: nodejs npm"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	  else echo "make hub needs Node.js and npm: sudo apt-get install nodejs npm"; exit 2; fi; }
	npm ci --prefix hub --no-audit --no-fund --loglevel=error
	@touch $@

hub: $(STAMP) $(NBGRADER_VENV_CONFIG) hub/node_modules/.installed ## the course JupyterHub at http://127.0.0.1:$(HUB_PORT), as root: HUB_STUDENTS=file
	HUB_PORT=$(HUB_PORT) $(BIN)/python hub/start.py

clean: ## remove caches and build outputs (keeps .venv)
	rm -rf build artifacts .pytest_cache .ruff_cache .hypothesis
