#!/usr/bin/env bash
# The GPU measurement in one device call (issue 24): benchmarks/gpu/run.sh [--dry-run] [--stage] [measure.py flags]
#
# What `benchmarks/gpu/prepare.py` wrote under .whl/ (carried by the device call) is copied into a stash that
# stays while the machine is warm, so the SmolLM2 GGUF can arrive in two calls (64 MiB each at most):
#   call 1: carry .whl/gpu and .whl/gguf/part-1, run `benchmarks/gpu/run.sh --stage` (copies, installs, smoke test)
#   call 2: carry .whl/gguf/part-2, run `benchmarks/gpu/run.sh` (joins the GGUF, measures; about 7 minutes)
# A call on a fresh machine that carries .whl/gpu alone measures SmolLM2's shape with random weights instead.
# --dry-run runs the same script on this CPU with small sizes, in a venv that mimics the device image
# (benchmarks/gpu/mimic-venv.sh: Python 3.12, torch 2.11.0, transformers 5.17.0, no pydantic/lm-eval/gguf).
set -uo pipefail
cd "$(dirname "$0")/../.."
DRY=0; STAGE=0; ARGS=()
for a in "$@"; do
  case "$a" in --dry-run) DRY=1; ARGS+=("$a");; --stage) STAGE=1;; *) ARGS+=("$a");; esac
done
if [ "$DRY" = 1 ]; then
  PY=${QDBENCH_GPU_PYTHON:-.venv-gpu-mimic/bin/python}
  [ -x "$PY" ] || bash benchmarks/gpu/mimic-venv.sh || exit 2
  STASH=${QDBENCH_GPU_STASH:-/tmp/qdbench-gpu-dry}
  export OUT=${OUT:-/tmp/qdbench-gpu-dry-out}
else
  PY=${QDBENCH_GPU_PYTHON:-python3}
  STASH=${QDBENCH_GPU_STASH:-/tmp/qdbench-gpu}
  export OUT=${OUT:-/tmp/qdbench-gpu-out}
fi
mkdir -p "$STASH" "$OUT"
[ -d .whl/gpu ] && cp -r .whl/gpu/. "$STASH"/
for part in .whl/gguf/part-*; do [ -f "$part" ] && cp "$part" "$STASH"/; done
if [ ! -d "$STASH/wheels" ] || [ ! -d "$STASH/data" ]; then
  echo "run.sh: $STASH lacks wheels/ and data/: run benchmarks/gpu/prepare.py here and carry .whl/gpu" >&2
  exit 2
fi
if [ ! -d "$STASH/site" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$STASH/site" \
    "$STASH"/wheels/*.whl || exit 2
fi
export PYTHONPATH="$STASH/site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export QDBENCH_HOME="$STASH/home"
GGUF=()
if [ -f "$STASH/part-1" ] && [ -f "$STASH/part-2" ]; then
  cat "$STASH/part-1" "$STASH/part-2" > "$STASH/SmolLM2-135M-Instruct.Q4_1.gguf"
  GGUF=(--gguf "$STASH/SmolLM2-135M-Instruct.Q4_1.gguf")
fi
nvidia-smi --query-gpu=name,memory.total,clocks.sm,driver_version --format=csv 2>/dev/null
if [ "$STAGE" = 1 ]; then  # the first call: prove the whole path on small sizes while the parts arrive
  "$PY" -c "import pydantic, gguf, lm_eval, llmcompressor, torch, transformers; print('imports ok', torch.__version__, transformers.__version__, torch.cuda.is_available())"
  exec "$PY" benchmarks/gpu/measure.py --data "$STASH/data" --small --items 64 --budget-s 150 ${ARGS[@]+"${ARGS[@]}"}
fi
exec "$PY" benchmarks/gpu/measure.py --data "$STASH/data" ${GGUF[@]+"${GGUF[@]}"} ${ARGS[@]+"${ARGS[@]}"}
