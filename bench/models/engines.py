"""`--backend NAME`: which engine answers a run's requests, found in one registry of names → factories.

A new backend is one module implementing bench/models/backend.py's `Backend` and one line in `BACKENDS` (or a
`register` call); a name ending in ':' takes a model name after it (`lm-eval:hf`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from bench.errors import UserError
from bench.models.backend import Backend
from bench.models.loading import ModelRef, check_config


@dataclass(frozen=True)
class BackendOptions:
    """The run options a backend is built with (bench/exec/local.py's RunOptions carries them)."""

    device: str = "auto"
    dtype: str = "auto"
    batch_tokens: int = 16384
    batch_size: int | str | None = None
    trust_remote_code: bool = False
    seed: int = 0
    device_map: str | None = None
    tensor_parallel_size: int = 1


@dataclass(frozen=True)
class Engine:
    """How a backend name is built: `build(name, ref, options)`, after `check(name)` (is it available here?)
    has passed; `checks_folder`: the backend checks the model folder itself (else check_config does)."""

    build: Callable[[str, ModelRef, BackendOptions], Backend]
    check: Callable[[str], None] | None = None
    checks_folder: bool = False


def _hf(name: str, ref: ModelRef, o: BackendOptions) -> Backend:
    from bench.models.hf import HFBackend

    return HFBackend(ref, device=o.device, dtype=o.dtype, batch_tokens=o.batch_tokens, batch_size=o.batch_size,
                     trust_remote_code=o.trust_remote_code, device_map=o.device_map)


def _vllm(name: str, ref: ModelRef, o: BackendOptions) -> Backend:
    """vllm+hf: log-likelihoods by the packed HF scorer, generation by vLLM."""
    from bench.models.vllm_backend import VLLMBackend

    return VLLMBackend(ref, dtype=o.dtype, device=o.device, seed=o.seed, tensor_parallel_size=o.tensor_parallel_size,
                       trust_remote_code=o.trust_remote_code, scoring="hf" if name == "vllm+hf" else "vllm")


def _lmeval(name: str, ref: ModelRef, o: BackendOptions) -> Backend:
    from bench.models.lmeval_backend import LMEvalBackend

    return LMEvalBackend(name.removeprefix("lm-eval:"), ref, device=o.device, dtype=o.dtype, batch_size=o.batch_size,
                         trust_remote_code=o.trust_remote_code)


def _need_vllm(name: str) -> None:
    from bench.models.vllm_backend import vllm_python

    if vllm_python() is None:
        raise UserError(f"--backend {name}: vLLM is not installed; run `make vllm-env` (CPU build in "
                        ".venv-vllm), `pip install vllm` on a GPU machine, or set QDBENCH_VLLM_PYTHON")


def _need_lmeval(name: str) -> None:
    if importlib.util.find_spec("lm_eval") is None:
        raise UserError(f"--backend {name} needs lm-eval: pip install -c requirements/constraints.txt '.[lmeval]'")


BACKENDS: dict[str, Engine] = {
    "hf": Engine(_hf, checks_folder=True),  # transformers, the packed prefix-tree scorer
    "vllm": Engine(_vllm, _need_vllm),  # vLLM, here or in the environment `make vllm-env` builds
    "vllm+hf": Engine(_vllm, _need_vllm),  # vLLM generates, the HF scorer scores (prompt log-probs skip its cache)
    "lm-eval:": Engine(_lmeval, _need_lmeval),  # lm-eval:NAME, any model lm-eval registers (API models included)
}


def register(name: str, build: Callable[[str, ModelRef, BackendOptions], Backend],
             check: Callable[[str], None] | None = None) -> None:
    """Add a backend under `name` (ending in ':' for a family that takes a model name after it)."""
    BACKENDS[name] = Engine(build, check)


def engine_for(name: str) -> Engine:
    """The registry entry of `name`; an unknown name is a UserError listing the known ones."""
    if name in BACKENDS and not name.endswith(":"):
        return BACKENDS[name]
    for prefix, engine in BACKENDS.items():
        if prefix.endswith(":") and name.startswith(prefix) and len(name) > len(prefix):
            return engine
    names = [n + "NAME" if n.endswith(":") else n for n in BACKENDS]
    example = next((f" (e.g. {n}hf)" for n in BACKENDS if n.endswith(":")), "")
    raise UserError(f"--backend '{name}': expected {', '.join(names[:-1])} or {names[-1]}{example}")


def check_backend(name: str) -> None:
    """A wrong or unavailable backend is refused before any run folder is written."""
    engine = engine_for(name)
    if engine.check is not None:
        engine.check(name)


def build_backend(name: str, ref: ModelRef, options: BackendOptions | None = None, **kwargs) -> Backend:
    """The backend `name` for the model `ref` (options as BackendOptions or as keywords)."""
    engine = engine_for(name)
    options = options or BackendOptions(**kwargs)
    if not engine.checks_folder:
        check_config(ref, options.trust_remote_code)
    return engine.build(name, ref, options)
