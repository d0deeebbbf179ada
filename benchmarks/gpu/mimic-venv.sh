#!/usr/bin/env bash
# A venv that mimics the GPU machine's image for `run.sh --dry-run`: Python 3.12, torch 2.11.0 (PyPI's build,
# which runs on a CPU), transformers 5.17.0 and the image's other packages that qdbench imports, and none of
# what run.sh must carry (pydantic, gguf, lm-eval, llm-compressor): a missing wheel fails here, not there.
# Downloads about 4 GB once.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY312=${PY312:-$(command -v python3.12 || true)}
[ -n "$PY312" ] || { echo "mimic-venv.sh: python3.12 is needed (the device image's Python)" >&2; exit 2; }
"$PY312" -m venv .venv-gpu-mimic
.venv-gpu-mimic/bin/pip install -q torch==2.11.0 transformers==5.17.0 tokenizers==0.23.2 safetensors==0.8.0 \
  accelerate==1.15.0 huggingface_hub==1.33.0 numpy pandas pyarrow scipy statsmodels matplotlib jinja2 pyyaml rich \
  tqdm scikit-learn sacrebleu xxhash fsspec psutil requests nvidia-ml-py pillow
# the image has none of these; something above may have pulled them in
.venv-gpu-mimic/bin/pip uninstall -q -y pydantic pydantic-core gguf lm-eval datasets llmcompressor compressed-tensors \
  loguru 2>/dev/null || true
