"""bitsandbytes NF4 / INT8 as load-time recipes.

A 4-bit model saved after any forward pass reloaded wrong here (FACTS.md), so a bnb variant folder keeps the
base weights and records the quantization in `qdbench_variant.json`; every load quantizes afresh, the way
bitsandbytes is used in practice (bench/models/load_time.py turns the record into the loader's config).
"""

from __future__ import annotations

from bench.compress.recipes import Recipe


def load_spec(recipe: Recipe) -> dict:
    """What `qdbench_variant.json` records under `load_time_quantization`."""
    if recipe.method == "bnb-nf4":
        return {"library": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
                "bnb_4bit_use_double_quant": False, "skip_modules": list(recipe.ignore)}
    return {"library": "bitsandbytes", "load_in_8bit": True, "skip_modules": list(recipe.ignore)}
