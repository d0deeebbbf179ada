"""What a variant is, for the table and plots: method, weight/activation bits, bytes of weights, parameters.

Method and bits come from the run manifest's recipe (what made the variant): `submit` records them and `build`
derives them again from the verified manifests, so an edited submission.json cannot change them. Bytes are
measured at submission time from the variant's own folder on the submitter's machine: its weights in memory,
by the one size measure of `show` and compare (bench/compress/size.py: `qdbench_variant.json`, else the
safetensors sizes), and only where that folder lies in one of qdbench's caches (built-in models,
variants): a manifest's `model.path` is the submitter's word, and submit opens no file at a path it merely names.
They are reported, not re-verifiable from the items, and the page says where each figure came from.
"""

from __future__ import annotations

from pathlib import Path

from bench.compress.size import measure as measure_size
from bench.leaderboard import schema
from bench.leaderboard.safety import read_json

METHODS = {"rtn": "RTN", "gptq": "GPTQ", "awq": "AWQ", "smoothquant-gptq": "SmoothQuant", "fp8-dynamic": "FP8",
           "bnb-nf4": "bitsandbytes", "bnb-int8": "bitsandbytes", "prequantized": "prequantized",
           "distill": "KD student", "nds": "NDS control", "published-distill": "published distill"}
DISTILLED = {"KD student", "NDS control", "published distill"}
DTYPE_BITS = {"float32": 32, "torch.float32": 32, "bfloat16": 16, "torch.bfloat16": 16, "float16": 16,
              "torch.float16": 16}


def describe(manifest: dict) -> dict:
    """method, kind (base | quantized | distilled), weight_bits, activation_bits, from the manifest alone."""
    variant, model = manifest["variant"], manifest["model"]
    recipe = variant.get("recipe") or {}
    dtype_bits = DTYPE_BITS.get(str(model.get("dtype")), 32)
    if variant["name"] == "base":
        return {"method": "base", "kind": "base", "weight_bits": dtype_bits, "activation_bits": dtype_bits}
    method = METHODS.get(str(recipe.get("method")), str(recipe.get("method") or "unknown"))
    kind = "distilled" if method in DISTILLED else "quantized"
    # A student stored in bf16 (save_dtype) holds 16-bit weights however a machine computes with them; a
    # quantized student's recipe names its bits.
    stored = min(dtype_bits, DTYPE_BITS.get(str(recipe.get("save_dtype")), 32))
    wbits = recipe.get("weight_bits") if kind == "quantized" else recipe.get("weight_bits") or stored
    # The recipe's activation bits (a16: 16), what the variant is; not the dtype one machine happened to compute
    # in (fp32 on CPU), which the manifest's model.dtype records.
    abits = recipe.get("activation_bits", 16) if kind == "quantized" else dtype_bits
    return {"method": method, "kind": kind, "weight_bits": wbits, "activation_bits": abits}


def cache_roots() -> list[Path]:
    """The folders whose model folders submit may read: this machine's built-in model and variant caches."""
    from bench.models.builtin import cache_root
    from bench.paths import home

    return [cache_root(), home() / "variants"]


def own_folder(path: object) -> Path | None:
    """`path` as a real folder inside one of `cache_roots()` (after resolving links), or None."""
    if not isinstance(path, str) or not path or not Path(path).is_absolute():
        return None
    folder = Path(path).resolve()
    for root in cache_roots():
        real_root = root.resolve()
        if folder != real_root and folder.is_relative_to(real_root) and folder.is_dir():
            return folder
    return None


def measure(manifest: dict) -> dict:
    """Bytes of weights (in memory, and on disk) and parameters from the variant's folder, where it lies in
    qdbench's caches here."""
    folder = own_folder(manifest["model"].get("path"))
    out = {"bytes": None, "bytes_source": "not measured (model folder not in qdbench's caches on this machine)",
           "parameters": manifest["model"].get("parameters")}
    if folder is None:
        return out
    prov = {}
    if (folder / "qdbench_variant.json").is_file():
        where = folder / "qdbench_variant.json"
        prov = schema.check(schema.VariantProvenance, read_json(where, 1 << 20), where).model_dump(exclude_unset=True)
    size = measure_size(folder, prov)  # the one measure, as `show` and compare take it
    if size.weights_in_memory:
        out.update(bytes=size.weights_in_memory, bytes_source=f"weights in memory, from {size.source}")
    if size.bits_per_param is not None:
        out["bits_per_param"] = size.bits_per_param
    if prov.get("student_parameters"):
        out["parameters"] = prov["student_parameters"]
    for key in ("wall_s", "load_s"):
        if prov.get(key) is not None:
            out[f"build_{key}"] = prov[key]
    from bench.compress.distill.proof import published

    proof = published(folder)
    if proof is not None:
        out["distillation"] = proof
    return out
