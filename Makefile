# The two commands a newcomer needs: `make run` and `make test`. Both set up first.
# Everything runs from the project's own virtual environment in .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# Offline at run time: no model hub, no telemetry.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export SCARF_NO_ANALYTICS := 1

.PHONY: install run test lint bench models screenshots clean

install: $(STAMP)

# torch==2.13.0 first: here it resolves to a local CPU build; any other spec pulls several GB
# of CUDA packages. unstructured-inference goes in with --no-deps because its dependencies
# bring a CUDA torchvision that breaks sentence-transformers.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps unstructured-inference
	-$(BIN)/pip uninstall --quiet -y torchvision 2>/dev/null
	$(BIN)/python -c "import torch, sentence_transformers, faiss; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	$(BIN)/cited prepare
	touch $(STAMP)

run: install
	$(BIN)/cited ingest docs --collection default --if-empty
	$(BIN)/cited serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/support.py
	$(BIN)/python bench/docs.py
	$(BIN)/python bench/kinds.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/page.py

# Retrains the answer and support models into answer/weights/ (seeded; about an hour on two
# cores) and prints their evaluation table (docs/models.md). Needs ../shared/data.
models: install
	$(BIN)/python -m training all

# The README's picture, made by the browser tests' screenshot helper.
screenshots: install
	CITED_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/web/test_layout.py -k desktop_screenshot

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
