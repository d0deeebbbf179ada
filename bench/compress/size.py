"""A model's size, measured one way for `show`, compare (its tables and equal-memory pairing) and the leaderboard.

Two figures, as `qdbench_variant.json` defines them (bench/compress/variants.py `_measure`):
- `bytes_on_disk`: the bytes of the folder's *.safetensors weight files;
- `weights_in_memory`: the bytes of its weights as loaded for use (`weights_bytes_in_memory`): the measure of
  equal memory, and the one bits per parameter derive from. A bitsandbytes variant is quantized as it loads, so
  its files hold the base's full-precision weights while its memory holds 4 or 8 bits: the two differ most there.
A folder without that file (a base model) holds its weights as stored: both figures are its files' bytes.
A run records the figures in its manifest (`model.size`, `recorded`), so a run read where its model folder is not
(copied runs, a submission) still has them (`of_run`).

Linked weight files count by the size of what they link to, where the loader would read them: a Hugging Face
cache snapshot is nothing but symlinks into its blobs/, and a bitsandbytes variant's files are hard links to
its base's; they are the model's weights, and a rule that skipped them would call such a model zero bytes. The
cache stores a hard-linked file once, but this is the model's size, not the cache's use of the disk. A symlink
pointing anywhere else is not counted (the loader refuses such a folder: bench/models/loading.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.compress.variants import count_parameters, read_provenance
from bench.models.loading import weight_bytes_on_disk


@dataclass(frozen=True)
class ModelSize:
    bytes_on_disk: int | None
    weights_in_memory: int | None
    parameters: int | None  # of the model as it stands (a student's own), else of the base it quantizes
    bits_per_param: float | None  # 8 * weights_in_memory / parameters
    source: str  # where the figures came from, for a reader of the table


def measure(folder: str | Path, provenance: dict | None = None) -> ModelSize:
    """The size of the model in `folder`; `provenance`: its qdbench_variant.json already read (and checked, by
    the leaderboard), else read here. All None where the folder is not on this machine."""
    if not str(folder) or not Path(folder).is_dir():
        return ModelSize(None, None, None, None, "not measured (model folder not on this machine)")
    folder = Path(folder)
    prov = provenance if provenance is not None else (read_provenance(folder) or {})
    if prov:
        on_disk = prov.get("bytes_on_disk") or weight_bytes_on_disk(folder) or None
        in_memory = prov.get("weights_bytes_in_memory")
        source = "qdbench_variant.json"
        if not in_memory and not prov.get("load_time_quantization"):
            in_memory, source = on_disk, "qdbench_variant.json (no weights_bytes_in_memory: the files' bytes)"
        # a quantized variant's headers count packed elements: its parameters are its base's, recorded
        params = prov.get("student_parameters") or prov.get("parameters") or (None if "recipe" in prov else
                                                                                _count(folder))
    else:
        on_disk = weight_bytes_on_disk(folder) or None
        in_memory, params, source = on_disk, _count(folder), "size of the *.safetensors files"
    return ModelSize(on_disk and int(on_disk), in_memory and int(in_memory), params, _bits(in_memory, params), source)


def recorded(size: ModelSize) -> dict:
    """The figures a run manifest keeps as `model.size`."""
    return {"bytes_on_disk": size.bytes_on_disk, "weights_bytes_in_memory": size.weights_in_memory,
            "parameters": size.parameters}


def of_run(model: dict) -> ModelSize:
    """The size of a run's model (its manifest's `model`): measured where the folder is here, else as recorded
    when it ran; all None for a run made before runs recorded it."""
    path = str(model.get("path") or "")
    if path and Path(path).is_dir():
        return measure(path)
    size = model.get("size") if isinstance(model.get("size"), dict) else {}
    on_disk, in_memory, params = (_count_of(size.get(k)) for k in ("bytes_on_disk", "weights_bytes_in_memory",
                                                                   "parameters"))
    if not in_memory:
        return measure("")
    return ModelSize(on_disk, in_memory, params, _bits(in_memory, params),
                     "the run's manifest (model.size, measured when it ran)")


def _count_of(value) -> int | None:
    """A positive whole number from a manifest (untrusted where it came with a submission), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _bits(weight_bytes: int | None, params: int | None) -> float | None:
    return round(8 * weight_bytes / params, 3) if weight_bytes and params else None


def _count(folder: Path) -> int | None:
    """Parameters from the safetensors headers; None where a header cannot be read."""
    try:
        return count_parameters(folder) or None
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
