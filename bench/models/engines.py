"""`--backend NAME`: which engine answers a run's requests."""

from __future__ import annotations

from bench.errors import UserError
from bench.models.loading import ModelRef, check_config


def check_backend(name: str) -> None:
    """A wrong or unavailable backend is refused before any run folder is written."""
    if name in ("hf", "vllm", "vllm+hf") or (name.startswith("lm-eval:") and len(name) > len("lm-eval:")):
        if name.startswith("vllm"):
            from bench.models.vllm_backend import vllm_python

            if vllm_python() is None:
                raise UserError(f"--backend {name}: vLLM is not installed; run `make vllm-env` (CPU build in "
                                ".venv-vllm), `pip install vllm` on a GPU machine, or set QDBENCH_VLLM_PYTHON")
        if name.startswith("lm-eval:"):
            import importlib.util

            if importlib.util.find_spec("lm_eval") is None:
                raise UserError(f"--backend {name} needs lm-eval: pip install -c requirements/constraints.txt "
                                "'.[lmeval]'")
        return
    raise UserError(f"--backend '{name}': expected hf, vllm, vllm+hf or lm-eval:NAME (e.g. lm-eval:hf)")


def build_backend(name: str, ref: ModelRef, *, device: str = "auto", dtype: str = "auto", batch_tokens: int = 16384,
                  batch_size: int | str | None = None, trust_remote_code: bool = False, seed: int = 0,
                  device_map: str | None = None, tensor_parallel_size: int = 1):
    """hf (transformers), vllm (vLLM, in this environment or the one `make vllm-env` builds), vllm+hf (vLLM
    generates, the packed HF scorer scores: vLLM's prompt log-probabilities skip its prefix cache), or
    lm-eval:NAME (any model lm-eval registers, API models included)."""
    if name != "hf":  # the HF loader checks the folder itself
        check_config(ref, trust_remote_code)
    if name == "hf":
        from bench.models.hf import HFBackend

        return HFBackend(ref, device=device, dtype=dtype, batch_tokens=batch_tokens, batch_size=batch_size,
                         trust_remote_code=trust_remote_code, device_map=device_map)
    if name in ("vllm", "vllm+hf"):  # vllm+hf: log-likelihoods by the packed HF scorer, generation by vLLM
        from bench.models.vllm_backend import VLLMBackend

        return VLLMBackend(ref, dtype=dtype, device=device, seed=seed, tensor_parallel_size=tensor_parallel_size,
                           trust_remote_code=trust_remote_code, scoring="hf" if name == "vllm+hf" else "vllm")
    if name.startswith("lm-eval:") and len(name) > len("lm-eval:"):
        from bench.models.lmeval_backend import LMEvalBackend

        return LMEvalBackend(name.removeprefix("lm-eval:"), ref, device=device, dtype=dtype, batch_size=batch_size,
                             trust_remote_code=trust_remote_code)
    check_backend(name)
    raise AssertionError(name)
