"""What a variant is, for the table and plots: method, weight/activation bits, bytes of weights, parameters.

Method and bits come from the run manifest's recipe (what made the variant). Bytes are measured at submission
time from the variant's own folder on the submitter's machine (`qdbench_variant.json`, else the safetensors
sizes); they are reported, not re-verifiable from the items, and the page says where each figure came from.
"""

from __future__ import annotations

import json
from pathlib import Path

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
    wbits = recipe.get("weight_bits") if kind == "quantized" else dtype_bits
    abits = recipe.get("activation_bits", 16) if kind == "quantized" else dtype_bits
    if kind == "quantized" and abits == 16 and dtype_bits == 32:
        abits = 32  # activations run in the model's dtype, fp32 on CPU
    return {"method": method, "kind": kind, "weight_bits": wbits, "activation_bits": abits}


def measure(manifest: dict) -> dict:
    """Bytes of weights and parameters from the variant's folder, where it is still on this machine."""
    folder = Path(str(manifest["model"].get("path") or ""))
    out = {"bytes": None, "bytes_source": "not measured (model folder not on this machine)",
           "parameters": manifest["model"].get("parameters")}
    prov_path = folder / "qdbench_variant.json"
    prov = {}
    if prov_path.is_file() and not prov_path.is_symlink() and prov_path.stat().st_size < 1 << 20:
        try:
            prov = json.loads(prov_path.read_text())
        except (OSError, ValueError):
            prov = {}
    if prov.get("load_time_quantization") and prov.get("weights_bytes_in_memory"):
        out.update(bytes=int(prov["weights_bytes_in_memory"]),
                   bytes_source="qdbench_variant.json weights_bytes_in_memory (quantized at load time)")
    elif prov.get("bytes_on_disk"):
        out.update(bytes=int(prov["bytes_on_disk"]), bytes_source="qdbench_variant.json bytes_on_disk")
    elif folder.is_dir():
        weights = sum(p.stat().st_size for p in folder.glob("*.safetensors") if p.is_file())
        if weights:
            out.update(bytes=weights, bytes_source="size of the model folder's *.safetensors files")
    if prov.get("student_parameters"):
        out["parameters"] = int(prov["student_parameters"])
    for key in ("wall_s", "load_s", "bits_per_param"):
        if prov.get(key) is not None:
            out[f"build_{key}" if key != "bits_per_param" else key] = prov[key]
    return out
