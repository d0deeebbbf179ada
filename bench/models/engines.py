"""`--backend NAME`: which engine answers a run's requests."""

from __future__ import annotations

from bench.errors import UserError
from bench.models.loading import ModelRef


def build_backend(name: str, ref: ModelRef, *, device: str = "auto", dtype: str = "auto", batch_tokens: int = 16384,
                  batch_size: int | str | None = None, trust_remote_code: bool = False, seed: int = 0,
                  device_map: str | None = None, tensor_parallel_size: int = 1):
    """hf (transformers), vllm (vLLM, in this environment or the one `make vllm-env` builds), or lm-eval:NAME
    (any model lm-eval registers, API models included)."""
    if name == "hf":
        from bench.models.hf import HFBackend

        return HFBackend(ref, device=device, dtype=dtype, batch_tokens=batch_tokens, batch_size=batch_size,
                         trust_remote_code=trust_remote_code, device_map=device_map)
    if name == "vllm":
        from bench.models.vllm_backend import VLLMBackend

        return VLLMBackend(ref, dtype=dtype, device=device, seed=seed, tensor_parallel_size=tensor_parallel_size,
                           trust_remote_code=trust_remote_code)
    if name.startswith("lm-eval:") and len(name) > len("lm-eval:"):
        from bench.models.lmeval_backend import LMEvalBackend

        return LMEvalBackend(name.removeprefix("lm-eval:"), ref, device=device, dtype=dtype, batch_size=batch_size,
                             trust_remote_code=trust_remote_code)
    raise UserError(f"--backend '{name}': expected hf, vllm or lm-eval:NAME (an lm-eval model name, e.g. lm-eval:hf)")
