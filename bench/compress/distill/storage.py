"""How a student is stored: the dtype of its saved weights and the bytes they take.

Equal-memory comparisons set a student against a quantized teacher of about the same weight bytes, so a student
must be storable as compactly as it can be used: a 15-of-30-layer SmolLM2 student is 329 MB in float32 and
about 165 MB in bfloat16, against 172 MB for the teacher's GPTQ int4. A bfloat16 student is its float32
student's weights rounded to bfloat16 once (round to nearest even), not a second training: training and its
cache key stay those of the float32 student, which is built (or reused) first. On a CPU the weights are read
back into float32 for scoring, as quantized variants are decompressed; what changes is the stored precision.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.store.atomic import staged_dir, write_json

DTYPES = ("float32", "bfloat16")
PROVENANCE = "qdbench_variant.json"


def weight_bytes(model) -> int:
    """Bytes of a loaded model's distinct parameters and buffers (tied weights counted once)."""
    seen, total = set(), 0
    for t in [*model.parameters(), *model.buffers()]:
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


def sizes(folder: Path, model) -> dict:
    """The size fields a variant's provenance carries, for a student as saved in `folder`."""
    return {"bytes_on_disk": sum(p.stat().st_size for p in folder.glob("*.safetensors")),
            "bytes_of_folder": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
            "weights_bytes_in_memory": weight_bytes(model),
            "save_dtype": str(next(model.parameters()).dtype).removeprefix("torch.")}


def cast_copy(source: Path, final: Path, dtype: str, key: str) -> Path:
    """`final`: the student in `source` with its weights stored as `dtype`, its provenance saying so."""
    import torch

    from bench.models.loading import ModelRef, load_causal_lm, load_tokenizer

    ref = ModelRef(str(source), str(source), None, "local")
    model = load_causal_lm(ref, dtype="float32").to(getattr(torch, dtype)).eval()
    record = json.loads((source / PROVENANCE).read_text())
    with staged_dir(final) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        load_tokenizer(ref).save_pretrained(tmp)
        for extra in source.iterdir():  # anything else the student folder holds (e.g. a generation config)
            if extra.is_file() and not (tmp / extra.name).exists() and extra.name != PROVENANCE:
                shutil.copy2(extra, tmp / extra.name)
        record.update(key=key, stored_from={"folder": str(source), "key": record.get("key"),
                                            "save_dtype": record.get("save_dtype", "float32")},
                      **sizes(tmp, model))
        record["config"] = {**record.get("config", {}), "save_dtype": dtype}
        if record.get("proof"):
            record["proof_measured_on"] = "float32 weights, before they were rounded for storage"
        write_json(tmp / PROVENANCE, record)
    return final
