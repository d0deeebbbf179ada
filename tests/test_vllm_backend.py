"""vLLM (the CPU build, in the environment `make vllm-env` builds) against the HF backend on the same model.

Tolerance: both engines run fp32 and see the same token ids; they differ only in kernels (vLLM's CPU attention
and GEMM blocking against torch's), i.e. in summation order, ~1e-7 relative per logit. Summed over a
continuation of up to ~30 tokens of log-probability magnitude ~log(vocab) that is ~1e-5; 1e-3 leaves room for
an unlucky log-sum-exp. Measured on the tiny model: 2e-6.

Chat answers (`--mode generate`) go through the same rendering and thinking-budget code on both engines
(bench/models/chat.py); with greedy decoding in fp32 they must agree token for token, EOS and stop strings
included.
"""

import dataclasses

import pytest

from bench.models.chat import Spec
from bench.models.requests import ChatRequest
from bench.models.requests import GenerationRequest as G
from bench.models.vllm_backend import vllm_python

pytestmark = pytest.mark.skipif(vllm_python() is None, reason="no vLLM: run `make vllm-env` (.venv-vllm)")
TOLERANCE = 1e-3


def bbq_docs(n=8):
    from bench.data import store
    from bench.tasks.registry import get_task

    return store.load(get_task("bbq").spec, None, sample=True).docs[:n]


def bbq_requests(n=8):
    from bench.tasks.registry import get_task

    return [get_task("bbq").requests(d) for d in bbq_docs(n)]


def generative_requests(doc):
    """The ChatRequests `--mode generate` puts for a BBQ item (its model's own chat template)."""
    from bench.tasks import generative
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    task = dataclasses.replace(task, spec=task.spec.model_copy(update={"options": {
        **task.spec.options, "mode": "generate", "max_new_tokens": 24}}))
    return generative.requests(task, doc)


@pytest.fixture(scope="module")
def engines(tiny_backend):
    from bench.models.loading import resolve
    from bench.models.vllm_backend import VLLMBackend

    vllm = VLLMBackend(resolve("builtin:tiny-llama"), device="cpu", dtype="float32", seed=0)
    yield vllm, tiny_backend
    vllm.close()


def test_vllm_loglikelihoods_match_hf(engines):
    vllm, hf = engines
    items = bbq_requests()
    flat = [r for rs in items for r in rs]
    got, want = vllm.loglikelihood(flat), hf.loglikelihood(flat)
    assert [g.n_tokens for g in got] == [w.n_tokens for w in want]
    assert max(abs(g.logprob - w.logprob) for g, w in zip(got, want, strict=True)) < TOLERANCE
    k = 0
    for rs in items:  # same predicted option on every item
        g, w = got[k:k + len(rs)], want[k:k + len(rs)]
        assert max(range(len(rs)), key=lambda i: g[i].logprob) == max(range(len(rs)), key=lambda i: w[i].logprob)
        k += len(rs)


def test_vllm_generation_seeded_and_greedy_equal_to_hf(engines):
    vllm, hf = engines
    sampled = [G("Once upon a time", 8, 1.0, 0.9, (), seed) for seed in (11, 12)]
    first = vllm.generate(sampled)
    assert vllm.generate(sampled[::-1]) == first[::-1]  # a request's text does not depend on its batch
    assert vllm.generate(sampled[:1]) == first[:1]
    greedy = [G("The cat sat", 6), G("Question: who?\nAnswer:", 5)]
    assert vllm.generate(greedy) == hf.generate(greedy)


TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% if enable_thinking %}<think>\n{% endif %}{% endif %}")


def test_vllm_chat_answers_equal_hf_plain_and_templated(engines, monkeypatch):
    vllm, hf = engines
    plain = [ChatRequest("Question: who?\nAnswer:", (("user", "who?"),), max_new_tokens=6),
             ChatRequest("The cat sat", max_new_tokens=4)]
    assert vllm.generate_chat(plain) == hf.generate_chat(plain)  # no template: plain prompts
    for backend in engines:
        monkeypatch.setattr(backend.tokenizer, "chat_template", TEMPLATE, raising=False)
    chat = [ChatRequest("x", (("system", "Be brief."), ("user", "Pick A or B.")), max_new_tokens=5),
            ChatRequest("x", (("user", "Think first."),), enable_thinking=True, max_new_tokens=4, max_think_tokens=3)]
    got, want = vllm.generate_chat(chat), hf.generate_chat(chat)
    assert got == want and all(r.template_used for r in got) and got[1].think_forced_close


def test_vllm_stop_strings_and_kept_stop_equal_hf(engines):
    """The thinking budget's first stage keeps its stop string (`</think>`) and the tokens that make it."""
    vllm, hf = engines
    prompt = vllm._encode("Once upon a time")
    (text, _, _), = hf._generate_batched([prompt], [Spec(12, 0.0, 1.0, 0, ())])
    stop = text[len(text) // 2:len(text) // 2 + 2]  # a string the greedy continuation reaches
    specs = [Spec(12, 0.0, 1.0, 0, (stop,)), Spec(12, 0.0, 1.0, 0, (stop,), keep_stop=True)]
    got, want = vllm._generate_batched([prompt] * 2, specs), hf._generate_batched([prompt] * 2, specs)
    assert got == want
    assert got[1][0].endswith(stop) and got[1][2] and not got[0][0].endswith(stop)


def test_generate_mode_run_through_vllm(engines, tmp_path, monkeypatch):
    """`qdbench run --backend vllm --mode generate` end to end (on this module's engine: one start per module)."""
    import json

    from bench.cli.main import main
    from bench.models import engines as engine_module
    from bench.store import request_cache

    vllm, hf = engines
    monkeypatch.setattr(request_cache.paths, "home", lambda: tmp_path / "home")
    monkeypatch.setattr(engine_module, "build_backend", lambda name, ref, **kw: vllm if name == "vllm" else hf)
    args = ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--mode", "generate", "--limit", "8",
            "--sample-data", "--quiet", "--max-new-tokens", "6"]
    assert main([*args, "--backend", "vllm", "--out", str(tmp_path / "v")]) == 0
    assert main([*args, "--out", str(tmp_path / "h")]) == 0
    (v,), (h,) = (list((tmp_path / x / "tiny-llama" / "bbq").iterdir()) for x in "vh")
    manifest = json.loads((v / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "vllm" and manifest["settings"]["mode"] == "generate"
    import pandas as pd

    gv, gh = (pd.read_parquet(x / "items.parquet").set_index("item_id").sort_index() for x in (v, h))
    assert list(gv["generation"]) == list(gh["generation"]) and len(gv) == 8


def test_vllm_matches_hf_on_smollm2(smollm2_backend):
    """The real model: a 49k BPE vocabulary and 30 layers, where kernel differences have more room."""
    from bench.models.loading import resolve
    from bench.models.vllm_backend import VLLMBackend

    vllm = VLLMBackend(resolve("builtin:smollm2-135m"), device="cpu", dtype="float32", seed=0)
    try:
        items = bbq_requests(4)
        flat = [r for rs in items for r in rs]
        got, want = vllm.loglikelihood(flat), smollm2_backend.loglikelihood(flat)
        greedy = [G("The capital of France is", 5)]
        assert vllm.generate(greedy) == smollm2_backend.generate(greedy)
        chat = [r for d in bbq_docs(3) for r in generative_requests(d)]
        chat.append(dataclasses.replace(chat[0], max_think_tokens=8))  # answers within the budget, no block
        chat.append(dataclasses.replace(chat[1], max_new_tokens=3))  # runs out of budget
        got_chat, want_chat = vllm.generate_chat(chat), smollm2_backend.generate_chat(chat)
    finally:
        vllm.close()
    assert got_chat == want_chat  # its own template, EOS (<|im_end|>) included
    assert all(r.template_used for r in got_chat) and not got_chat[0].hit_max_new_tokens
    assert got_chat[-1].hit_max_new_tokens
    assert max(abs(g.logprob - w.logprob) for g, w in zip(got, want, strict=True)) < TOLERANCE
    k = 0
    for rs in items:
        g, w = got[k:k + len(rs)], want[k:k + len(rs)]
        assert max(range(len(rs)), key=lambda i: g[i].logprob) == max(range(len(rs)), key=lambda i: w[i].logprob)
        k += len(rs)
