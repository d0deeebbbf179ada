"""Quantization at load time: the loader's config for what a variant folder's `qdbench_variant.json` records
under `load_time_quantization` (bitsandbytes NF4 / INT8; bench/compress/bnb.py writes the record).

It lives with the loader, not with the recipes, so that loading a model never imports bench/compress.
"""

from __future__ import annotations

from bench.errors import UserError


def quantization_config(spec: dict, compute_dtype):
    """The BitsAndBytesConfig for a recorded spec; `compute_dtype` is the dtype the model is loaded in."""
    import torch

    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as e:
        raise UserError(f"this variant is quantized at load time by bitsandbytes ({e}); install it with "
                        "`pip install 'qdbench[compress]'`") from None
    if spec.get("library") != "bitsandbytes":
        raise UserError(f"unknown load-time quantization {spec!r} in qdbench_variant.json")
    if not isinstance(compute_dtype, torch.dtype):
        compute_dtype = torch.float32
    if spec.get("load_in_4bit"):
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=spec["bnb_4bit_quant_type"],
                                  bnb_4bit_use_double_quant=spec.get("bnb_4bit_use_double_quant", False),
                                  bnb_4bit_compute_dtype=compute_dtype,
                                  llm_int8_skip_modules=spec.get("skip_modules") or None)
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=spec.get("skip_modules") or None)
