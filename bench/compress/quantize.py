"""Quantize with llm-compressor (GPTQ, AWQ, SmoothQuant+GPTQ, RTN, FP8-dynamic) and save compressed-tensors.

The output folders load with plain `AutoModelForCausalLM.from_pretrained` (and in vLLM). On a CPU a reloaded
model is decompressed to floating point when it runs, so there we measure the accuracy effect of quantization;
file sizes and saved dtypes show the compression itself.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from bench.compress.recipes import Recipe, group_sizes
from bench.errors import UserError


def _import_llmcompressor():
    try:
        import llmcompressor  # noqa: F401
        from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme  # noqa: F401
    except ImportError as e:
        raise UserError(f"quantization needs llm-compressor and compressed-tensors ({e}); install them with "
                        "`pip install 'qdbench[compress]'`") from None


def scheme(recipe: Recipe, group_size: int | None | str = "recipe", targets: list[str] | None = None):
    """The compressed-tensors scheme for the recipe's bits and symmetry, with the recipe's group size or the
    one given (None: one scale per output channel)."""
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    if recipe.method == "fp8-dynamic":
        return "FP8_DYNAMIC"
    g = recipe.group_size if group_size == "recipe" else group_size
    weights = QuantizationArgs(num_bits=recipe.weight_bits, type="int", symmetric=recipe.symmetric,
                               strategy="group" if g else "channel", group_size=g)
    acts = None
    if recipe.activation_bits == 8:  # dynamic per-token int8, as SmoothQuant W8A8 runs in vLLM
        acts = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="token", dynamic=True)
    return QuantizationScheme(targets=targets or ["Linear"], weights=weights, input_activations=acts)


def layer_inputs(model, recipe: Recipe) -> dict[str, int]:
    """Input size of every Linear layer the recipe quantizes (its `ignore` list left out)."""
    from compressed_tensors.utils import match_named_modules

    return {name: int(m.in_features) for name, m in match_named_modules(model, ["Linear"], recipe.ignore)}


def _pattern(name: str) -> str:
    """A regex target matching `name` in every block (any number where `name` has a block number)."""
    return "re:^" + r"\.".join(r"\d+" if part.isdigit() else re.escape(part) for part in name.split(".")) + "$"


def config_groups(recipe: Recipe, sizes: dict[str, int | None]) -> dict:
    """One compressed-tensors config group per group size used; a single group targeting every Linear layer
    when the recipe's size fits them all."""
    distinct = sorted(set(sizes.values()), key=lambda g: -(g or 0))
    if len(distinct) <= 1:
        return {"group_0": scheme(recipe, distinct[0] if distinct else "recipe")}
    by_pattern: dict[str, set] = {}
    for name, g in sizes.items():
        by_pattern.setdefault(_pattern(name), set()).add(g)
    targets: dict[int | None, list[str]] = {g: [] for g in distinct}
    for name, g in sizes.items():
        pat = _pattern(name)
        target = pat if len(by_pattern[pat]) == 1 else name
        if target not in targets[g]:
            targets[g].append(target)
    return {f"group_{i}": scheme(recipe, g, targets[g]) for i, g in enumerate(distinct)}


def group_summary(model, sizes: dict[str, int | None]) -> dict:
    """For the variant's provenance: which group size each kind of layer got, and its input size."""
    out: dict[str, dict] = {}
    for name, g in sizes.items():
        key = re.sub(r"\.\d+\.", ".N.", name)
        entry = out.setdefault(key, {"in_features": model.get_submodule(name).in_features, "group_size": g,
                                     "layers": 0})
        entry["layers"] += 1
        if entry["group_size"] != g:
            entry["group_size"] = "mixed"
    return out


def modifiers(recipe: Recipe, sizes: dict[str, int | None] | None = None) -> list:
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier

    s = scheme(recipe)
    quant = {"scheme": s} if isinstance(s, str) else {"config_groups": config_groups(recipe, sizes or {})}
    quant["ignore"] = list(recipe.ignore)
    if recipe.method in ("rtn", "fp8-dynamic"):
        return [QuantizationModifier(**quant)]
    if recipe.method == "gptq":
        return [GPTQModifier(**quant)]
    if recipe.method == "awq":
        from llmcompressor.modifiers.transform import AWQModifier

        return [AWQModifier(), QuantizationModifier(**quant)]
    if recipe.method == "smoothquant-gptq":
        from llmcompressor.modifiers.transform.smoothquant import SmoothQuantModifier

        return [SmoothQuantModifier(smoothing_strength=recipe.smoothing_strength), GPTQModifier(**quant)]
    raise ValueError(f"not an llm-compressor method: {recipe.method}")


@contextlib.contextmanager
def _cpu_safe_pinning() -> Iterator[None]:
    """llm-compressor's IntermediatesCache pins CPU tensors for faster host-to-device copies; on a CPU-only
    torch pinning raises "Cannot access accelerator device when none is available" (seen with AWQ). With no
    accelerator there is no copy to speed up, so pinning becomes a no-op for the duration of the call only."""
    import torch
    from llmcompressor.pipelines.cache import IntermediatesCache

    if torch.accelerator.is_available():
        yield
        return
    original = IntermediatesCache.pin_memory
    IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        IntermediatesCache.pin_memory = original


@contextlib.contextmanager
def _one_thread_on_cpu() -> Iterator[None]:
    """GPTQ's (and AWQ's, SmoothQuant's) result depends on float summation order, so on a CPU the weights it
    writes depend on the thread count (measured: tiny-llama GPTQ int4 weights differ between 1 and 2 threads
    and are identical at a fixed count; SmolLM2 GPTQ int4 then flipped 69 vs 94 of 384 BBQ answers). One
    thread makes a variant the same on every CPU machine whatever its core count."""
    import torch

    if torch.accelerator.is_available():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _float64_on_cpu(model, recipe: Recipe) -> Iterator[None]:
    """A calibrated recipe on a CPU calibrates in float64 (the model, and GPTQ's Hessian and updates), and the
    model goes back to its own dtype before it is saved: last-bit differences between CPUs' kernels then stay
    far below GPTQ's rounding decisions (bench/compress/portable.py has the measurements). On an accelerator
    nothing changes."""
    import torch

    if not recipe.calibrated or torch.accelerator.is_available():
        yield
        return
    import llmcompressor.modifiers.gptq.gptq_quantize as gptq_quantize
    import llmcompressor.modifiers.gptq.helpers as gptq_helpers

    dtype, before = model.dtype, (gptq_helpers.GPTQ_PRECISION, gptq_quantize.GPTQ_PRECISION)
    model.to(torch.float64)
    gptq_helpers.GPTQ_PRECISION = gptq_quantize.GPTQ_PRECISION = torch.float64
    try:
        yield
    finally:
        gptq_helpers.GPTQ_PRECISION, gptq_quantize.GPTQ_PRECISION = before
        model.to(dtype)
        model.config.dtype = dtype


def quantize(base_path: str, recipe: Recipe, out: Path, tokenizer, texts: list[str] | None,
             revision: str | None = None) -> dict:
    """Run one-shot quantization of the base model and save it compressed into `out`; returns the group sizes
    applied per kind of layer (see `recipes.group_sizes`). On a CPU a calibrated recipe runs in a child process
    with torch's plain C++ kernels (bench/compress/portable.py), so the variant is the same on every CPU."""
    _import_llmcompressor()
    import torch

    if recipe.calibrated and not torch.accelerator.is_available():
        from bench.compress import portable

        if not portable.active():
            return portable.build(base_path, recipe, out, texts, revision)
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM

    from bench.compress.calibration import tokenized_dataset
    from bench.logs import route_libraries
    from bench.models.loading import save_tokenizer

    route_libraries()  # llm-compressor's loguru output into the run's log file, not the terminal
    model = AutoModelForCausalLM.from_pretrained(base_path, revision=revision, dtype="auto", use_safetensors=True)
    sizes = group_sizes(recipe, layer_inputs(model, recipe))
    kwargs = {}
    if recipe.calibrated:
        dataset = tokenized_dataset(tokenizer, texts, recipe.calibration)
        kwargs = dict(dataset=dataset, num_calibration_samples=len(dataset), max_seq_length=recipe.calibration.seq_len,
                      shuffle_calibration_samples=False)
    with torch.random.fork_rng(devices=[]), _cpu_safe_pinning(), _one_thread_on_cpu(), _float64_on_cpu(model, recipe):
        torch.manual_seed(recipe.calibration.seed)
        try:
            oneshot(model=model, recipe=modifiers(recipe, sizes), output_dir=None, log_dir=None, **kwargs)
        except (ValueError, RuntimeError) as e:
            raise UserError(f"recipe '{recipe.name}' failed on model '{base_path}': {str(e).strip()[:500]}") from None
    model.save_pretrained(out, save_compressed=True)
    save_tokenizer(tokenizer, out)
    on_cpu = not torch.accelerator.is_available()
    return {"recipe_group_size": recipe.group_size, "layers": group_summary(model, sizes),
            "cpu_threads": 1 if on_cpu else None,
            "calibration_dtype": ("float64" if on_cpu else str(model.dtype).removeprefix("torch."))
            if recipe.calibrated else None}
