# Every target creates .venv when it is missing and installs what it needs (pinned in constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(BIN)/python demo.py

# Interleaved, side-by-side measurements reported as ratios; the table goes in the README.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

SOURCES := logstream handlers tests benchmarks demo.py
lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check --quiet $(SOURCES)

clean:
	rm -rf $(VENV) build *.egg-info
