# Every target creates .venv when it is missing and installs what it needs (pinned in constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint typecheck package clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(BIN)/python demo.py

# Interleaved, side-by-side measurements reported as ratios; the table goes in the README.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The Lambda artifact (the same one `sam build` makes, as a zip for other deployment tools), the
# wheel and the sdist, all in dist/.
include packaging/target.mk
LAMBDA_ZIP := dist/logstream-lambda-$(LAMBDA_ARCH)-python$(LAMBDA_PYTHON_VERSION).zip
package: $(STAMP)
	rm -rf dist
	$(BIN)/python packaging/build_lambda.py --arch $(LAMBDA_ARCH) --python-version $(LAMBDA_PYTHON_VERSION) --zip $(LAMBDA_ZIP) dist/lambda
	rm -rf dist/lambda
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*.whl dist/*.tar.gz

# mypy --strict on logstream/, handlers/ and the command's launcher (settings in pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/mypy

SOURCES := logstream handlers _logstream_cli.py tests benchmarks demo.py packaging
lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check --quiet $(SOURCES)

clean:
	rm -rf $(VENV) build dist .aws-sam *.egg-info
