# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the project when missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-catalog

.PHONY: install demo test lint format bench bench-quick clean

# constraints.txt pins the versions CI was green with: installs are reproducible and pip does not
# spend minutes backtracking through boto3/botocore releases (s3fs and moto both pin them).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	rm -rf $(DEMO_DIR)
	$(PY) -m example_pipelines.demo --storage $(DEMO_DIR)

test: install
	$(PY) -m pytest -n 2 --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The LaminDB side needs its own venv (benchmarks/.venv-lamindb): created once, ~2 min.
bench: install
	bash benchmarks/lamindb_setup.sh
	$(PY) -m benchmarks.run --full

bench-quick: install
	bash benchmarks/lamindb_setup.sh
	$(PY) -m benchmarks.run --quick

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
