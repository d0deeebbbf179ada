"""What a run records about the software and hardware it ran on."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

LIBRARIES = ("qdbench", "torch", "transformers", "tokenizers", "safetensors", "accelerate", "numpy", "pandas",
             "pyarrow", "llmcompressor", "compressed-tensors", "bitsandbytes", "detoxify", "fairlearn", "vllm")


def libraries() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def hardware(device: str) -> dict:
    import torch

    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "cpu_flags": cpu_flags(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_bytes=props.total_memory, cuda=torch.version.cuda)
    with contextlib.suppress(OSError):
        info["load_avg_1m"] = os.getloadavg()[0]
    return info


VECTOR_FLAGS = re.compile(r"^(avx2|avx512\w*|amx\w*|avx_vnni\w*)$")


def cpu_flags() -> list[str]:
    """The CPU's vector instruction sets (AVX2, AVX-512 and its extensions, AMX, AVX-VNNI) from /proc/cpuinfo:
    they decide which kernels torch, oneDNN and vLLM run, and so results' last bits and which formats run."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return sorted({x for x in line.split(":", 1)[1].split() if VECTOR_FLAGS.match(x)})
    return []


def _cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


ITEM_HASH = "item_hash"  # items.parquet column: what the item is, so a base and a variant can be checked to agree


def item_hash(doc: dict) -> str:
    """A short digest of an item's document (its data fields and few-shot examples): two runs that saw the same
    item give the same value on every machine."""
    return digest(doc)[:16]
