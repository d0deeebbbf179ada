"""The HF backend's batched log-likelihoods equal a direct, unbatched sum of token log-probabilities."""

import pytest
import torch

from bench.models.requests import LoglikelihoodRequest as R

REQUESTS = [
    R("The cat sat on the", " mat"),
    R("Question: who was late?\nAnswer:", " The grandfather"),
    R("Trailing space moves to the continuation ", "here"),
    R("", "A whole sentence, scored from the start token."),
    R("Short", " x"),
]


def direct(backend, context, continuation):
    ctx, cont = backend.encode_pair(context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(backend.model(ids).logits.float(), -1)[0]
    return sum(logp[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont)), len(cont)


def test_batched_equals_unbatched(tiny_backend):
    results = tiny_backend.loglikelihood(REQUESTS * 2)
    for req, res in zip(REQUESTS * 2, results, strict=True):
        want, n = direct(tiny_backend, req.context, req.continuation)
        assert res.n_tokens == n
        assert res.logprob == pytest.approx(want, abs=1e-5)


def test_batch_size_does_not_change_answers(tiny_backend):
    full = tiny_backend.loglikelihood(REQUESTS)
    old = tiny_backend.max_batch_size
    tiny_backend.max_batch_size = 1
    try:
        single = tiny_backend.loglikelihood(REQUESTS)
    finally:
        tiny_backend.max_batch_size = old
    assert [r.logprob for r in single] == pytest.approx([r.logprob for r in full], abs=1e-5)


def test_boundary_follows_lm_eval(tiny_backend):
    ctx, cont = tiny_backend.encode_pair("Answer: ", "yes")
    ctx2, cont2 = tiny_backend.encode_pair("Answer:", " yes")
    assert (ctx, cont) == (ctx2, cont2)
    assert ctx[0] == tiny_backend.tokenizer.bos_token_id
    empty_ctx, _ = tiny_backend.encode_pair("", "hello")
    assert empty_ctx == [tiny_backend.tokenizer.bos_token_id]


def test_packed_shared_context_equals_one_sequence_per_option(tiny_backend):
    options = [R("Q: who was it?\nA:", f" option {k}{' long tail' * k}") for k in range(4)]
    mixed = options + REQUESTS
    tiny_backend.pack = False
    try:
        single = tiny_backend.loglikelihood(mixed)
    finally:
        tiny_backend.pack = True
    packed = tiny_backend.loglikelihood(mixed)
    assert [r.n_tokens for r in packed] == [r.n_tokens for r in single]
    assert [r.logprob for r in packed] == pytest.approx([r.logprob for r in single], abs=1e-5)
    assert [r.is_greedy for r in packed] == [r.is_greedy for r in single]


def test_packed_equals_one_sequence_per_option_on_smollm2(smollm2_backend):
    """The real tokenizer and 49k vocabulary: the packed path (continuation-only output projection, boolean
    block mask) stays within 1e-4 of one sequence per option in fp32."""
    from bench.data import store
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    flat = [r for d in store.load(task.spec, None, sample=True).docs[:3] for r in task.requests(d)]
    packed = smollm2_backend.loglikelihood(flat)
    smollm2_backend.pack = False
    try:
        single = smollm2_backend.loglikelihood(flat)
    finally:
        smollm2_backend.pack = True
    assert [r.logprob for r in packed] == pytest.approx([r.logprob for r in single], abs=1e-4)
    assert [r.is_greedy for r in packed] == [r.is_greedy for r in single]
