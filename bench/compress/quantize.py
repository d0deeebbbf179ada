"""Quantize with llm-compressor (GPTQ, AWQ, SmoothQuant+GPTQ, RTN, FP8-dynamic) and save compressed-tensors.

The output folders load with plain `AutoModelForCausalLM.from_pretrained` (and in vLLM). On a CPU a reloaded
model is decompressed to floating point when it runs, so there we measure the accuracy effect of quantization;
file sizes and saved dtypes show the compression itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from bench.compress.recipes import Recipe
from bench.errors import UserError


def _import_llmcompressor():
    try:
        import llmcompressor  # noqa: F401
        from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme  # noqa: F401
    except ImportError as e:
        raise UserError(f"quantization needs llm-compressor and compressed-tensors ({e}); install them with "
                        "`pip install 'qdbench[compress]'`") from None


def scheme(recipe: Recipe):
    """The compressed-tensors scheme for the recipe's bits, group size and symmetry."""
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    if recipe.method == "fp8-dynamic":
        return "FP8_DYNAMIC"
    g = recipe.group_size
    weights = QuantizationArgs(num_bits=recipe.weight_bits, type="int", symmetric=recipe.symmetric,
                               strategy="group" if g else "channel", group_size=g)
    acts = None
    if recipe.activation_bits == 8:  # dynamic per-token int8, as SmoothQuant W8A8 runs in vLLM
        acts = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="token", dynamic=True)
    return QuantizationScheme(targets=["Linear"], weights=weights, input_activations=acts)


def modifiers(recipe: Recipe) -> list:
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier

    s = scheme(recipe)
    quant = {"scheme": s} if isinstance(s, str) else {"config_groups": {"group_0": s}}
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


def quantize(base_path: str, recipe: Recipe, out: Path, tokenizer, texts: list[str] | None,
             revision: str | None = None) -> None:
    """Run one-shot quantization of the base model and save it compressed into `out`."""
    _import_llmcompressor()
    import torch
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM

    from bench.compress.calibration import tokenized_dataset
    from bench.logs import route_libraries

    route_libraries()  # llm-compressor's loguru output into the run's log file, not the terminal
    model = AutoModelForCausalLM.from_pretrained(base_path, revision=revision, dtype="auto", use_safetensors=True)
    kwargs = {}
    if recipe.calibrated:
        dataset = tokenized_dataset(tokenizer, texts, recipe.calibration)
        kwargs = dict(dataset=dataset, num_calibration_samples=len(dataset), max_seq_length=recipe.calibration.seq_len,
                      shuffle_calibration_samples=False)
    with torch.random.fork_rng(devices=[]), _cpu_safe_pinning():
        torch.manual_seed(recipe.calibration.seed)
        try:
            oneshot(model=model, recipe=modifiers(recipe), output_dir=None, log_dir=None, **kwargs)
        except (ValueError, RuntimeError) as e:
            raise UserError(f"recipe '{recipe.name}' failed on model '{base_path}': {str(e).strip()[:500]}") from None
    model.save_pretrained(out, save_compressed=True)
    tokenizer.save_pretrained(out)
