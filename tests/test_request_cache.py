"""The request cache: keyed by model and request (seed included), reused across --limit, safe when shared."""

import dataclasses
import json
import threading

import pandas as pd
import pytest

from bench.models.cached_backend import CachedBackend
from bench.models.requests import GenerationRequest as G
from bench.models.requests import LoglikelihoodRequest as R
from bench.store.request_cache import RequestCache, model_key, request_key


class Counting:
    """A fake backend that counts what it is asked."""

    name, device, dtype = "fake", "cpu", "float32"

    def __init__(self):
        self.asked = []

    def loglikelihood(self, reqs):
        from bench.models.requests import LoglikelihoodResult

        self.asked += reqs
        return [LoglikelihoodResult(-float(len(r.context + r.continuation)), False, 1) for r in reqs]

    def generate(self, reqs):
        self.asked += reqs
        return [f"{r.prompt}:{r.seed}" for r in reqs]

    def describe(self):
        return {"backend": "fake"}


def test_only_new_requests_are_computed(tmp_path):
    inner = Counting()
    cached = CachedBackend(lambda: inner, RequestCache("m", tmp_path))
    first = cached.loglikelihood([R("a", " b"), R("a", " c")])
    again = cached.loglikelihood([R("a", " c"), R("a", " b"), R("x", " y"), R("x", " y")])
    assert inner.asked == [R("a", " b"), R("a", " c"), R("x", " y")]
    assert [r.logprob for r in again[:2]] == [first[1].logprob, first[0].logprob]


def test_sampled_generations_are_cached_with_their_seed(tmp_path):
    inner = Counting()
    cached = CachedBackend(lambda: inner, RequestCache("m", tmp_path))
    assert cached.generate([G("p", 5, 1.0, 1.0, (), 1)]) == ["p:1"]
    assert cached.generate([G("p", 5, 1.0, 1.0, (), 1), G("p", 5, 1.0, 1.0, (), 2)]) == ["p:1", "p:2"]
    assert [r.seed for r in inner.asked] == [1, 2]


def test_a_fully_cached_run_never_builds_the_backend(tmp_path):
    RequestCache("m", tmp_path)  # same file, two handles
    CachedBackend(Counting, RequestCache("m", tmp_path), lambda b: b.describe()).loglikelihood([R("a", " b")])

    def refuse():
        raise AssertionError("built")

    cached = CachedBackend(refuse, RequestCache("m", tmp_path), lambda b: b.describe())
    assert cached.loglikelihood([R("a", " b")])[0].logprob == -3.0
    assert cached.describe() == {"backend": "fake"}


def test_the_key_changes_with_the_model():
    a = model_key({"sha256": "1"}, None, "hf", "float32")
    assert a != model_key({"sha256": "2"}, None, "hf", "float32")
    assert a != model_key({"sha256": "1"}, "recipe", "hf", "float32")
    assert a != model_key({"sha256": "1"}, None, "vllm", "float32")


def test_concurrent_writers_share_one_cache(tmp_path):
    errors = []

    def work(k):
        try:
            cached = CachedBackend(Counting, RequestCache("m", tmp_path))
            for i in range(20):
                cached.loglikelihood([R(f"c{i}", f" {k}"), R(f"c{i}", " shared")])
        except Exception as e:  # pragma: no cover - the assertion below shows it
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(RequestCache("m", tmp_path).get_many([f"x{i}" for i in range(3)])) == 0


def test_rerun_with_another_limit_scores_only_new_items(tmp_path, tiny_model_dir, monkeypatch):
    from bench.cli.main import main
    from bench.models import hf
    from bench.store import request_cache

    monkeypatch.setattr(request_cache.paths, "home", lambda: tmp_path / "home")  # a cache no other test filled
    calls = []
    original = hf.HFBackend.loglikelihood

    def counting(self, requests, progress=None):
        calls.append(len(requests))
        return original(self, requests, progress)

    monkeypatch.setattr(hf.HFBackend, "loglikelihood", counting)
    base = ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--sample-data", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "a"), "--limit", "4"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--limit", "4"]) == 0
    assert main([*base, "--out", str(tmp_path / "c"), "--limit", "8"]) == 0
    assert sum(calls) == 8 * 3  # 4 items computed once, then only the 4 new ones
    (a,), (b,) = (list((tmp_path / f"{x}/tiny-llama/bbq").iterdir()) for x in "ab")
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    manifest = json.loads((b / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "hf" and manifest["model"]["parameters"] > 0


def test_chat_answers_are_cached_by_request_and_template(tmp_path):
    from bench.models.requests import ChatRequest, ChatResult

    class Chatty(Counting):
        def __init__(self):
            super().__init__()
            self.tokenizer = type("T", (), {"chat_template": "T1"})()

        def chat_template_for(self, setting):
            return self.tokenizer.chat_template if setting == "auto" else None if setting == "none" else setting

        def generate_chat(self, reqs):
            self.asked += reqs
            return [ChatResult(f"{r.prompt}|{self.tokenizer.chat_template}", 3, 2, 0, False, False, True)
                    for r in reqs]

    inner = Chatty()
    tok = type("T", (), {"chat_template": "T1"})()
    cached = CachedBackend(lambda: inner, RequestCache("m", tmp_path), tokenizer=lambda: tok)
    q = ChatRequest("p", (("user", "p"),))
    assert cached.generate_chat([q])[0].text == "p|T1"
    fresh = CachedBackend(lambda: inner, RequestCache("m", tmp_path), tokenizer=lambda: tok)
    assert fresh.covers([q]) and fresh._inner is None  # answered from the cache; the model never built
    assert fresh.generate_chat([q, ChatRequest("r", (("user", "r"),))])[1].text == "r|T1"
    assert [r.prompt for r in inner.asked] == ["p", "r"]
    tok.chat_template = inner.tokenizer.chat_template = "T2"  # the tokenizer's template changed: a miss
    assert CachedBackend(lambda: inner, RequestCache("m", tmp_path), tokenizer=lambda: tok).generate_chat([q])[0].text \
        == "p|T2"
    for other in (dataclasses.replace(q, chat_template="none"), dataclasses.replace(q, max_new_tokens=5),
                  dataclasses.replace(q, enable_thinking=True), dataclasses.replace(q, seed=3)):
        assert request_key(other, "h") != request_key(q, "h")
    assert request_key(q, "h") != request_key(q, "g")


def test_rerun_of_a_generative_task_with_a_larger_limit_answers_only_new_items(tmp_path, tiny_model_dir,
                                                                                monkeypatch):
    from bench.cli.main import main
    from bench.models import hf
    from bench.store import request_cache

    monkeypatch.setattr(request_cache.paths, "home", lambda: tmp_path / "home")
    calls = []
    original = hf.HFBackend.generate_chat

    def counting(self, requests, progress=None):
        calls.append(len(requests))
        return original(self, requests, progress)

    monkeypatch.setattr(hf.HFBackend, "generate_chat", counting)
    base = ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--sample-data", "--quiet", "--mode", "generate",
            "--max-new-tokens", "4"]
    assert main([*base, "--out", str(tmp_path / "a"), "--limit", "4"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--limit", "8"]) == 0
    assert main([*base, "--out", str(tmp_path / "c"), "--limit", "8"]) == 0
    assert sum(calls) == 8  # 4 items, then only the 4 new ones, then none
    (b,), (c,) = (list((tmp_path / f"{x}/tiny-llama/bbq").iterdir()) for x in "bc")
    assert json.loads((b / "metrics.json").read_text()) == json.loads((c / "metrics.json").read_text())
    a_items = pd.read_parquet(next((tmp_path / "a/tiny-llama/bbq").iterdir()) / "items.parquet")
    b_items = pd.read_parquet(b / "items.parquet").set_index("item_id")
    assert (b_items.loc[a_items["item_id"], "generation"].to_numpy() == a_items["generation"].to_numpy()).all()
    assert json.loads((c / "manifest.json").read_text())["settings"]["chat_template"] == "none"


def test_setting_up_a_cache_waits_for_another_connection_that_holds_it(tmp_path):
    """SQLite can answer "database is locked" without a busy wait (a connection with timeout 0 stands for it)."""
    import sqlite3

    from bench.store.request_cache import _set_up

    path = tmp_path / "c.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    waiting = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _set_up(waiting, deadline_s=0)
    _set_up(waiting)
    assert waiting.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert waiting.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
