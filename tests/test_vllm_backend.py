"""vLLM (the CPU build, in the environment `make vllm-env` builds) against the HF backend on the same model.

Tolerance: both engines run fp32 and see the same token ids; they differ only in kernels (vLLM's CPU attention
and GEMM blocking against torch's), i.e. in summation order, ~1e-7 relative per logit. Summed over a
continuation of up to ~30 tokens of log-probability magnitude ~log(vocab) that is ~1e-5; 1e-3 leaves room for
an unlucky log-sum-exp. Measured on the tiny model: 2e-6.
"""

import pytest

from bench.models.requests import GenerationRequest as G
from bench.models.vllm_backend import vllm_python

pytestmark = pytest.mark.skipif(vllm_python() is None, reason="no vLLM: run `make vllm-env` (.venv-vllm)")
TOLERANCE = 1e-3


def bbq_requests(n=8):
    from bench.data import store
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    docs = store.load(task.spec, None, sample=True).docs[:n]
    return [task.requests(d) for d in docs]


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
    finally:
        vllm.close()
    assert max(abs(g.logprob - w.logprob) for g, w in zip(got, want, strict=True)) < TOLERANCE
    k = 0
    for rs in items:
        g, w = got[k:k + len(rs)], want[k:k + len(rs)]
        assert max(range(len(rs)), key=lambda i: g[i].logprob) == max(range(len(rs)), key=lambda i: w[i].logprob)
        k += len(rs)
