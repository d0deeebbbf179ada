"""Calibrated builds (GPTQ, AWQ, SmoothQuant) on a CPU run in a child process with torch's plain C++ kernels, so
that a variant is the same on every CPU.

The calibration's float rounding depends on the instruction set torch's vectorized kernels use (AVX2, AVX-512):
measured on an AMD EPYC with AVX-512 (2026-12-04), tiny-llama GPTQ int4 built in float32 under
ATEN_CPU_CAPABILITY=avx2 and =avx512 wrote 118,222 of 448,312 packed values differently (the demo's SmolLM2 GPTQ
flipped 105 and 95 of 384 BBQ answers on two machines). Calibrating in float64 (bench/compress/quantize.py) made
GPTQ identical across the two, but not AWQ or SmoothQuant (4,013 and 17,272 values differed): models keep float32
islands (rotary embeddings, RMSNorm) whose last bits reach their continuous smoothing scales. With torch's kernels
pinned to plain C++ (`ATEN_CPU_CAPABILITY=default`, the same instructions on every x86-64 CPU) all three were
identical whatever the caller's capability; BLAS products (MKL) keep their own dispatch, in float64.
The setting is read when torch starts, hence the child (portable_child.py): the job goes in as a JSON file, the
result comes back as one, and a UserError in the child comes back as the same one-line error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.errors import UserError

ENV = {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}


def active() -> bool:
    """Whether this process runs torch's plain C++ kernels already (the child does)."""
    import torch

    return torch.backends.cpu.get_cpu_capability() == "DEFAULT"


def build(base_path: str, recipe, out: Path, texts: list[str] | None, revision: str | None) -> dict:
    """bench.compress.quantize.quantize(...) in a child process with portable kernels; its result."""
    from bench import logs
    from bench.paths import repo_root

    with tempfile.TemporaryDirectory(prefix="qdbench-build-") as tmp:
        job, result = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job.write_text(json.dumps({"base_path": base_path, "revision": revision, "recipe": recipe.model_dump(),
                                   "out": str(out), "texts": texts, "log": logs.current_log()}))
        env = {**os.environ, **ENV,
               "PYTHONPATH": os.pathsep.join([str(repo_root()), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, "-m", "bench.compress.portable_child", str(job), str(result)], env=env,
                              capture_output=True, text=True, errors="replace")
        if done.returncode == 2 and result.with_suffix(".error").is_file():
            raise UserError(result.with_suffix(".error").read_text())
        if done.returncode != 0 or not result.is_file():
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"recipe '{recipe.name}': the build process failed (exit {done.returncode}):\n{tail}")
        return json.loads(result.read_text())
