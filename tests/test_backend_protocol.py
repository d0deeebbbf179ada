"""The Backend protocol: a new backend is one class and one registry line, and the executor runs a task
through it; the built-in backends and the request-cache wrapper implement the protocol."""

from __future__ import annotations

import json

import pytest

from bench.errors import UserError
from bench.models import engines
from bench.models.backend import Backend, BackendDefaults, as_backend
from bench.models.requests import GenerationRequest, LoglikelihoodRequest, LoglikelihoodResult


class LengthBackend(BackendDefaults):
    """A toy engine: an option's log-likelihood is minus its length in characters, so the shortest option wins."""

    name = "toy"
    kinds = frozenset({LoglikelihoodRequest})
    device, dtype = "cpu", "float32"

    def __init__(self, ref, options):
        self.ref, self.asked = ref, 0

    def describe(self) -> dict:
        return {"backend": self.name, "device": self.device, "dtype": self.dtype, "parameters": 0,
                "config_commit": None}

    def loglikelihood(self, requests, progress=None):
        self.asked += len(requests)
        return [LoglikelihoodResult(-float(len(r.continuation)), False, len(r.continuation)) for r in requests]


def test_a_new_backend_is_one_class_and_one_registry_line(tmp_path, monkeypatch, tiny_model_dir):
    from bench.exec.local import RunOptions, evaluate
    from bench.models.loading import resolve
    from bench.tasks.registry import get_task

    monkeypatch.setitem(engines.BACKENDS, "toy", engines.Engine(lambda name, ref, o: LengthBackend(ref, o)))
    (run_dir,) = evaluate(resolve("builtin:tiny-llama"), [get_task("bbq")],
                          RunOptions(out=tmp_path, limit=6, quiet=True, backend="toy", request_cache=False))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "toy" and manifest["settings"]["backend"] == "toy"
    import pandas as pd

    items = pd.read_parquet(run_dir / "items.parquet")
    shortest = [min(range(len(ll)), key=lambda i: (-ll[i], i)) for ll in items["ll"]]
    assert len(items) == 6 and list(items["pred"]) == shortest


def test_unknown_and_refused_kinds_are_user_errors():
    with pytest.raises(UserError, match="expected hf, vllm, vllm\\+hf or lm-eval:NAME"):
        engines.check_backend("nope")
    backend = LengthBackend(None, None)
    with pytest.raises(UserError, match="backend 'toy' cannot answer GenerationRequests"):
        from bench.models.backend import answer

        answer(backend, [GenerationRequest("x")])


def test_builtin_backends_and_the_cache_implement_the_protocol(tiny_backend, tmp_path):
    from bench.models.cached_backend import CachedBackend
    from bench.models.lmeval_backend import LMEvalBackend
    from bench.models.vllm_backend import VLLMBackend
    from bench.store.request_cache import RequestCache

    assert isinstance(tiny_backend, Backend) and tiny_backend.describe()["backend"] == "hf"
    for cls in (LMEvalBackend, VLLMBackend, CachedBackend):
        assert issubclass(cls, BackendDefaults)
    cached = CachedBackend(lambda: tiny_backend, RequestCache("m", tmp_path), name="hf")
    assert cached.kinds >= tiny_backend.kinds and cached.describe() == tiny_backend.describe()
    assert set(engines.BACKENDS) >= {"hf", "vllm", "vllm+hf", "lm-eval:"}


def test_a_partial_backend_is_seen_through_the_protocol():
    class OnlyScores:
        name = "partial"

        def loglikelihood(self, requests):
            return [LoglikelihoodResult(-1.0, True, 1) for _ in requests]

    seen = as_backend(OnlyScores())
    assert seen.kinds == {LoglikelihoodRequest} and not seen.covers([]) and seen.chat_template_for("auto") is None
    with pytest.raises(UserError, match="cannot answer ChatRequests"):
        seen.generate_chat([])
