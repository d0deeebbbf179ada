"""A backend wrapped in the request cache (bench/store/request_cache.py): answers come from the cache where it
has them, and the wrapped backend is built (the model loaded) only for what is missing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from bench.models.backend import ALL_KINDS, BackendDefaults
from bench.models.requests import ChatRequest, ChatResult, LoglikelihoodResult
from bench.store.request_cache import RequestCache, request_key, text_sha256


class CachedBackend(BackendDefaults):
    """A backend whose answers come from the cache where it has them; the wrapped backend is built only when
    some request is missing (a fully cached run never loads the model: chat templates are read from the
    tokenizer that `tokenizer` loads). It implements bench/models/backend.py's `Backend`; it takes every kind of
    request, and one its wrapped backend does not answer is refused by that backend when it is computed."""

    kinds = ALL_KINDS

    def __init__(self, make_backend: Callable[[], object], cache: RequestCache,
                 describe: Callable[[object], dict] | None = None, tokenizer: Callable[[], object] | None = None,
                 name: str = "cached"):
        self.name = name
        self._make = make_backend
        self._describe = describe
        self._load_tokenizer = tokenizer
        self._tokenizer = None
        self._inner = None
        self._templates: dict[str, str | None] = {}
        self.cache = cache
        self.hits = self.misses = 0

    @property
    def inner(self):
        if self._inner is None:
            self._inner = self._make()
            if self._describe:
                self.cache.set_meta(self._describe(self._inner))
        return self._inner

    def load(self) -> None:
        """Build the wrapped backend now (so that its errors come before anything is written)."""
        _ = self.inner

    def covers(self, requests) -> bool:
        """Whether every request is answered already (then the wrapped backend need not be built)."""
        keys = [self._key(r) for r in requests]
        return len(self.cache.get_many(keys)) == len(set(keys))

    @property
    def tokenizer(self):
        """The wrapped backend's tokenizer once it is built; before, one loaded alone (the model need not load)."""
        if self._inner is not None or self._load_tokenizer is None:
            return self.inner.tokenizer
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    def chat_template_for(self, setting: str) -> str | None:
        """The wrapped backend's answer once it is built; before, the tokenizer's (the model need not load)."""
        if self._inner is not None or self._load_tokenizer is None:
            return self.inner.chat_template_for(setting)
        if setting not in self._templates:
            from bench.models.chat import template_for

            self._templates[setting] = template_for(self.tokenizer if setting == "auto" else None, setting)
        return self._templates[setting]

    def _key(self, r) -> str:
        if isinstance(r, ChatRequest):
            return request_key(r, text_sha256(self.chat_template_for(r.chat_template)))
        return request_key(r)

    def describe(self) -> dict:
        """The wrapped backend's description, from the cache when the model was never loaded in this run."""
        known = None if self._inner is not None or not self._describe else self.cache.meta()
        if known is not None:
            return known
        return self._describe(self.inner) if self._describe else self.inner.describe()

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        self.cache.close()

    def loglikelihood(self, requests, progress=None) -> list[LoglikelihoodResult]:
        return self._answer(requests, self.inner_call("loglikelihood", progress),
                            lambda r: json.dumps(dataclasses.asdict(r)),
                            lambda s: LoglikelihoodResult(**json.loads(s)), progress)

    def generate(self, requests, progress=None) -> list[str]:
        return self._answer(requests, self.inner_call("generate", progress), json.dumps, json.loads, progress)

    def generate_chat(self, requests, progress=None) -> list[ChatResult]:
        return self._answer(requests, self.inner_call("generate_chat", progress),
                            lambda r: json.dumps(dataclasses.asdict(r)), lambda s: ChatResult(**json.loads(s)),
                            progress)

    def inner_call(self, method: str, progress):
        kwargs = {"progress": progress} if progress is not None else {}

        def call(reqs):
            return getattr(self.inner, method)(reqs, **kwargs)  # a kind it does not answer: it refuses
        return call

    def _answer(self, requests, compute, dump, load, progress=None) -> list:
        keys = [self._key(r) for r in requests]
        found = {}
        for k, v in self.cache.get_many(keys).items():
            try:
                load(v)
            except (ValueError, TypeError):  # hashes right but does not load: stored by hand, or by another schema
                self.cache.damaged_rows()
            else:
                found[k] = v
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        self.hits += len(keys) - sum(1 for k in keys if k not in found)
        self.misses += len(missing)
        if progress and len(keys) > len(missing):
            progress(len(keys) - len(missing))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            answers = compute([requests[first[k]] for k in missing])
            fresh = {k: dump(a) for k, a in zip(missing, answers, strict=True)}
            self.cache.put_many(fresh)
            found.update(fresh)
        return [load(found[k]) for k in keys]
