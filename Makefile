# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Two stamps: `make demo` installs only what the demo runs (the package, no extras);
# `make test` adds the test extras on top, once (they are most of a fresh install's time).
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp
DEMO_DIR ?= demo-project
# The venv's tools (jupyter, jupyter-builder, jlpm, papermill) come first for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# Cache bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE=1 on these
# machines): otherwise every kernel, CLI call and test worker compiles jupyter_mlops again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install install-test demo test test-fast bench lab clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip

# Editable install of the package alone; builds the JupyterLab extension (jlpm) and links it.
# After `labextension develop`, share/jupyter/labextensions/jupyter-mlops is a link to the build
# folder, so pip's next editable install writes install.json through it into
# jupyter_mlops/labextension/, and the install after that fails ("a second file is being added
# to the wheel archive at the same path"): remove that copy before every install.
STRAY_INSTALL_JSON := jupyter_mlops/labextension/install.json
$(STAMP): $(PY) pyproject.toml labextension/package.json
	rm -f $(STRAY_INSTALL_JSON)
	$(PY) -m pip install -q -e .
	$(VENV)/bin/jupyter labextension develop --overwrite . >/dev/null
	touch $@

# Rebuild the panel when its TypeScript or CSS changed since the last build (pip's editable
# build skips it once a build exists). The install is order-only: pip has just built the
# panel on a fresh clone, and a second build would add ~40 s to `make demo`.
LABEXT_SRC := $(wildcard labextension/src/*) $(wildcard labextension/style/*) labextension/package.json
LABEXT_BUILT := jupyter_mlops/labextension/package.json
$(LABEXT_BUILT): $(LABEXT_SRC) | $(STAMP)
	cd labextension && jlpm build
	touch $@

install: $(STAMP) $(LABEXT_BUILT)

# The test extras (every optional feature, pytest, Playwright, moto) on top of `install`;
# redone whenever `install` was (pyproject.toml changed).
# --no-compile: pip would byte-compile every module the test extras bring (torch 2,300 files,
# sympy 1,500, moto 1,500, mlflow 1,300, ...: about 7 ms of CPU each here) one after another,
# 1-2 minutes of a fresh install, though the tests import a fraction of them. Those are
# compiled on first import and cached (the test runs write bytecode: see scripts/run-tests).
$(TEST_STAMP): $(STAMP)
	rm -f $(STRAY_INSTALL_JSON)
	$(PY) -m pip install -q --no-compile -e ".[test]"
	touch $@

install-test: install $(TEST_STAMP)

## demo: install, run the tutorials headless on the embedded store, summarise, say where to look
# The tutorials serve a model (the serve extra) and use the feature store (parquet): a third
# stamp adds those two extras on top of `install`, still without the test extras.
DEMO_STAMP := $(VENV)/.installed-demo-stamp
DEMO_ARGS ?=
$(DEMO_STAMP): $(STAMP)
	rm -f $(STRAY_INSTALL_JSON)
	$(PY) -m pip install -q -e ".[serve,parquet]"
	touch $@

# scripts/run-tutorials copies notebooks/0*.ipynb and pipeline.yaml into $(DEMO_DIR), runs
# them in order with papermill (01-03 a second time as the pipeline of 04, and again when
# 05's drift alert starts it), writes the executed copies to $(DEMO_DIR)/executed/ and ends
# with the summary. `make demo DEMO_ARGS=--quick` runs the reduced sizes CI runs.
demo: install $(DEMO_STAMP)
	$(PY) scripts/run-tutorials $(DEMO_DIR)/executed --project $(DEMO_DIR) $(DEMO_ARGS)
	@echo
	@echo "Done. Everything above lives in $(DEMO_DIR)/.mlops/ (SQLite + artifact blobs)."
	@echo "  Executed tutorials:  $(DEMO_DIR)/executed/0*.ipynb (with their outputs)"
	@echo "  Reports (HTML):      $(DEMO_DIR)/reports/"
	@echo "  From a terminal:     cd $(DEMO_DIR) && ../$(VENV)/bin/jupyter mlops runs list"
	@echo "  Browse in JupyterLab: make lab   (open 01-data.ipynb, and the MLOps panel in the left sidebar)"

lab: install $(DEMO_STAMP)
	mkdir -p $(DEMO_DIR)/.mlops
	cd $(DEMO_DIR) && ../$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,)

## test: install what the tests need (Debian chromium + PostgreSQL, Python deps), run the whole suite
# The Debian packages (apt) install while pip installs the Python side: neither waits for
# the other's downloads (about 2 of a fresh machine's 7 minutes of installing).
test:
	@scripts/install-system-deps & apt=$$!; \
	$(MAKE) --no-print-directory install-test; pip=$$?; \
	wait $$apt || { echo "scripts/install-system-deps failed" >&2; exit 1; }; exit $$pip
	scripts/run-tests

test-fast: install-test
	$(PY) -m pytest -q -m "not browser and not slow" -x -n 2 --dist loadfile --no-loadscope-reorder

bench: install-test
	scripts/install-system-deps --bench
	$(PY) benchmarks/run.py

## docs: the docs site (Sphinx + MyST-NB, pydata theme) into docs/_build/html, warnings as errors.
# The tutorials are executed once, here, by scripts/run-tutorials; docs/conf.py renders those
# executed copies (docs/_build/tutorials) and never executes a notebook itself. -E: a fresh
# environment, so screenshots the browser tests wrote since the last build are picked up.
# `make docs DOCS_ARGS=--quick` executes the tutorials at the reduced sizes CI runs.
.PHONY: docs
DOCS_ARGS ?=
docs: install-test
	if [ -f scripts/run-tutorials ]; then $(PY) scripts/run-tutorials docs/_build/tutorials $(DOCS_ARGS); fi
	$(VENV)/bin/sphinx-build -E -W --keep-going -q -b html -d docs/_build/doctrees docs docs/_build/html
	@echo "Built: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) $(DEMO_DIR) labextension/node_modules labextension/lib jupyter_mlops/labextension
