# Two commands do all set-up: `make run` and `make test`. Both are idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

# pytest-xdist workers of `make test` (two cores: 2); the isolated tests run one at a time on one of them.
TEST_WORKERS ?= 2

.PHONY: run test test-durations test-fast lint bench setup setup-dev demo-models corpus base-model clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime
	@bash scripts/install_system_deps.sh

setup-dev: $(VENV)/.dev
	@bash scripts/install_system_deps.sh --test

run: setup
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT)

lint: setup-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# --no-loadscope-reorder keeps the order of tests/ordering.py (longest groups first) instead of xdist's own.
XDIST := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

test: setup-dev lint
	$(PY) -m pytest $(XDIST)

# Runs the whole suite and writes each xdist group's time to tests/durations.json (commit it when it moved).
test-durations: setup-dev
	$(PY) -m pytest $(XDIST) --record-durations

test-fast: setup-dev
	$(PY) -m pytest -m "not slow"

bench: setup-dev
	$(PY) -m benchmarks

demo-models: setup
	$(PY) -m musegen train --preset demo --arch wavenet --runs-dir assets/models
	$(PY) -m musegen train --preset demo --arch lstm --runs-dir assets/models
	$(PY) -m musegen train --preset demo --arch transformer --runs-dir assets/models

# The pretraining corpus (issue 31): music21's core corpus and the built-in chorales in the base vocabulary,
# as a token store in $(CORPUS_DIR) (no download; about 20 CPU-minutes, 10 minutes on 2 idle cores). Rebuilt from scratch every time.
CORPUS_DIR ?= .cache/corpus
CORPUS_WORKERS ?= 2

corpus: setup
	$(PY) -m musegen corpus build $(CORPUS_DIR) --workers $(CORPUS_WORKERS) --overwrite

# The base model (issue 31): pretrains on the corpus store into assets/models/musegen-base (the store is built
# first when it is missing). Resumable: a second call goes on from last.keras for BASE_MINUTES more.
BASE_MINUTES ?= 120

base-model: setup
	test -f $(CORPUS_DIR)/manifest.json || $(MAKE) corpus
	$(PY) -m musegen pretrain --store $(CORPUS_DIR) --minutes $(BASE_MINUTES)

clean:
	rm -rf .cache .pytest_cache .ruff_cache
