"""The Backend protocol: what every engine that answers a run's requests provides, written down once.

Modelled on lm-eval's `LM` (`loglikelihood`, `generate_until`) and Inspect AI's `ModelAPI`: a backend answers
requests in bulk, in the order given, and says what it is. The executor (bench/exec/local.py) talks to a backend
through this protocol only: HF transformers (hf.py), vLLM (vllm_backend.py), any lm-eval model
(lmeval_backend.py) and the request-cache wrapper (cached_backend.py) implement it, and engines.py finds them by
name. A backend that does not answer some kind of request leaves it out of `kinds` and inherits the refusing
method of `BackendDefaults`, so the run stops with one `qdbench: error:` line naming the backend and the kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from bench.errors import UserError
from bench.models.requests import (
    ChatRequest,
    ChatResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
)

Progress = Callable[[int], None] | None
# Every request kind and the method that answers it, in the order the executor sends them.
METHODS: dict[type, str] = {LoglikelihoodRequest: "loglikelihood", GenerationRequest: "generate",
                            ChatRequest: "generate_chat"}
ALL_KINDS: frozenset[type] = frozenset(METHODS)


@runtime_checkable
class Backend(Protocol):
    """An engine that answers requests. Each answering method takes requests of one kind and returns one
    answer per request, in order; `progress(n)`, where given, is called as batches finish (n requests)."""

    name: str  # as --backend names it ("hf", "vllm", "lm-eval:hf", ...)
    kinds: frozenset[type]  # the request classes it answers (of METHODS' keys)
    tokenizer: Any  # the Hugging Face tokenizer chat prompts are rendered with (None: renders none)

    def describe(self) -> dict:
        """The manifest's account of the engine: backend, device, dtype, parameters, config_commit (and more)."""
        ...

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      progress: Progress = None) -> list[LoglikelihoodResult]: ...

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress = None) -> list[str]: ...

    def generate_chat(self, requests: Sequence[ChatRequest], progress: Progress = None) -> list[ChatResult]: ...

    def chat_template_for(self, setting: str) -> str | None:
        """The chat template text a ChatRequest's `chat_template` setting selects (None: the plain prompt)."""
        ...

    def covers(self, requests: Sequence) -> bool:
        """Whether every request is answered already without the model (a cache); then it need not load."""
        ...

    def load(self) -> None:
        """Load the model now, so its errors come before any run folder is written (no-op when loaded)."""
        ...

    def close(self) -> None:
        """Release what the backend holds beyond memory (a worker process); no-op for most."""
        ...


def cannot(backend: Any, kind: type) -> UserError:
    """The error for a request kind a backend does not answer."""
    return UserError(f"backend '{getattr(backend, 'name', type(backend).__name__)}' cannot answer "
                     f"{kind.__name__}s; use --backend hf for them")


class BackendDefaults:
    """The protocol's defaults, defined once: a backend subclasses this and overrides what it answers (and
    lists it in `kinds`). Methods it does not override refuse with `cannot`."""

    name: str = "backend"
    kinds: frozenset[type] = frozenset()
    tokenizer: Any = None

    def describe(self) -> dict:
        return {"backend": self.name, "device": getattr(self, "device", None), "dtype": getattr(self, "dtype", None),
                "parameters": None, "config_commit": None}

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      progress: Progress = None) -> list[LoglikelihoodResult]:
        raise cannot(self, LoglikelihoodRequest)

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress = None) -> list[str]:
        raise cannot(self, GenerationRequest)

    def generate_chat(self, requests: Sequence[ChatRequest], progress: Progress = None) -> list[ChatResult]:
        raise cannot(self, ChatRequest)

    def chat_template_for(self, setting: str) -> str | None:
        return None

    def covers(self, requests: Sequence) -> bool:
        return False

    def load(self) -> None:
        return None

    def close(self) -> None:
        return None


def answer(backend: Backend, requests: list, progress: Progress = None) -> list:
    """Send each kind of request to the backend method that answers it, keeping the order; `progress(n)` is
    called as the backend finishes batches (n in the backend's units, at most the number of requests)."""
    out: list = [None] * len(requests)
    for kind, method in METHODS.items():
        idx = [i for i, r in enumerate(requests) if isinstance(r, kind)]
        if not idx:
            continue
        if kind not in backend.kinds:
            raise cannot(backend, kind)
        kwargs = {"progress": progress} if progress is not None else {}
        for i, res in zip(idx, getattr(backend, method)([requests[i] for i in idx], **kwargs), strict=True):
            out[i] = res
    return out


class _Partial(BackendDefaults):
    """A duck-typed object that answers some of the protocol's methods (a test double wrapping a backend, or a
    backend written before the protocol), seen through the protocol: the kinds it answers are the methods it
    has, the rest take the defaults. The only place where a backend's methods are probed."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.device = getattr(inner, "device", None)
        self.dtype = getattr(inner, "dtype", None)
        self.tokenizer = getattr(inner, "tokenizer", None)
        self.kinds = frozenset(k for k, method in METHODS.items() if hasattr(inner, method))
        for method in (*METHODS.values(), "chat_template_for", "covers", "load", "close"):
            if hasattr(inner, method):
                setattr(self, method, getattr(inner, method))

    def describe(self) -> dict:
        if hasattr(self._inner, "describe"):
            return self._inner.describe()
        from bench.models.loading import defined_parameters

        config = getattr(getattr(self._inner, "model", None), "config", None)
        if config is None:
            return super().describe()
        return {**super().describe(), "config_commit": getattr(config, "_commit_hash", None),
                "parameters": defined_parameters(config, bool(getattr(config, "auto_map", None)))}


def as_backend(obj: Any) -> Backend:
    """`obj` as a Backend: itself when it implements the protocol, else seen through `_Partial`."""
    return obj if isinstance(obj, (BackendDefaults, Backend)) else _Partial(obj)
