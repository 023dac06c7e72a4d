# Relance — `make demo` runs the main job on the embedded default, `make test` the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-scale install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,scale,pdf]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/relance demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check hub plugins tests
	$(BIN)/ruff format --check hub plugins tests || true

bench: $(STAMP)
	$(BIN)/python -m tests.bench

bench-scale: $(STAMP)  # needs the PostgreSQL and Redis on loopback
	$(BIN)/python -m tests.bench.scale

clean:
	rm -rf $(VENV) demo-workspace .bench
