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


def test_batched_split_equals_one_call_per_text(tiny_backend):
    """split_pairs encodes each distinct text once in one call per kind; lm-eval's split calls the tokenizer per
    request (context, then context + continuation): the ids must not differ."""
    from bench.models.tokens import split_pairs

    tok, bos = tiny_backend.tokenizer, tiny_backend.tokenizer.bos_token_id
    pairs = [(r.context, r.continuation) for r in REQUESTS] + [("Answer: ", "yes"), ("Answer:", " yes"),
                                                                 ("  ", "only space"), ("", "hello")] * 2

    def one_call_each(context, continuation):
        stripped = context.rstrip()
        continuation = context[len(stripped):] + continuation
        if not stripped:
            return [bos], tok(continuation, add_special_tokens=False)["input_ids"]
        ctx = tok(stripped, add_special_tokens=True)["input_ids"]
        return ctx, tok(stripped + continuation, add_special_tokens=True)["input_ids"][len(ctx):]

    assert split_pairs(tok, bos, pairs) == [one_call_each(c, t) for c, t in pairs]


def assert_packed_equals_single(backend, requests, tol: float) -> None:
    """The packed scorer, both ways (trees end to end without padding, and padded rows), against one sequence
    per option on the same requests."""
    assert backend.flat  # a llama: the unpadded path is taken by default
    backend.pack = False
    try:
        single = backend.loglikelihood(requests)
    finally:
        backend.pack = True
    for flat in (True, False):
        backend.flat = flat
        try:
            packed = backend.loglikelihood(requests)
        finally:
            backend.flat = True
        assert [r.n_tokens for r in packed] == [r.n_tokens for r in single]
        assert [r.logprob for r in packed] == pytest.approx([r.logprob for r in single], abs=tol)
        assert [r.is_greedy for r in packed] == [r.is_greedy for r in single]
    assert backend.model.config._attn_implementation == "sdpa"  # the tree attention was only borrowed


def test_packed_shared_context_equals_one_sequence_per_option(tiny_backend):
    options = [R("Q: who was it?\nA:", f" option {k}{' long tail' * k}") for k in range(4)]
    assert_packed_equals_single(tiny_backend, options + REQUESTS, 1e-5)


def test_packed_equals_one_sequence_per_option_on_smollm2(smollm2_backend):
    """The real tokenizer and 49k vocabulary: the packed path (continuation-only output projection, boolean
    block mask) stays within 1e-4 of one sequence per option in fp32."""
    from bench.data import store
    from bench.data.written_bbq import FOLDER
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    # the first 8 written Age items: ambiguous and disambiguated contexts sharing their first sentence, so
    # several contexts go into one prefix tree
    flat = [r for d in store.load(task.spec, FOLDER).docs[:8] for r in task.requests(d)]
    assert_packed_equals_single(smollm2_backend, flat, 1e-4)


SHARED = [R("The cat sat on the mat. Question: who sat?\nAnswer:", " the cat"),
          R("The cat sat on the mat. Question: who sat?\nAnswer:", " nobody"),
          R("The cat sat on the mat. Then it left. Question: who sat?\nAnswer:", " the cat"),
          R("The cat sat on the mat. Then it left. Question: who left?\nAnswer:", " the cat did"),
          R("The cat sat on the mat. Question: who sat?", "\nAnswer: the cat"),  # a context inside another's
          R("Something else entirely.", " yes")]


def test_contexts_sharing_a_prefix_are_one_tree_and_score_as_apart(tiny_backend):
    from bench.models.prefix_tree import PrefixTree, rows_sharing_prefixes

    encoded = [tiny_backend.encode_pair(r.context, r.continuation) for r in SHARED]
    rows = rows_sharing_prefixes(encoded, range(len(encoded)), 512)
    assert sorted(len(r) for r in rows) == [1, 5]  # the unrelated context is a row of its own
    tree = PrefixTree(encoded, next(r for r in rows if len(r) == 5))
    distinct = {tuple(c[:j]) for c, _ in encoded[:5] for j in range(1, len(c) + 1)}
    distinct |= {tuple(c + t[:j]) for c, t in encoded[:5] for j in range(len(t))}  # last tokens not input
    assert tree.size == len(distinct) < sum(len(c) + len(t) - 1 for c, t in encoded[:5])
    assert all(tree.parent[i] < i for i in range(tree.size))
    for nodes, _ in tree.scored:
        assert all(n >= tree.n_shared for n in nodes)
    assert_packed_equals_single(tiny_backend, SHARED, 1e-5)


def test_sentences_sharing_their_beginning_are_one_tree(tiny_backend):
    """StereoSet's intrasentence candidates (empty context) differ only from the blank on: one tree per
    cluster, never one tree of every sentence that shares the start token (which padded every row of the batch
    to its width and made StereoSet 6.5x slower per sentence than CrowS-Pairs)."""
    from bench.models.prefix_tree import rows_sharing_prefixes

    clusters = [[f"The {who} was {w} and everyone in the town knew it." for w in ("kind", "rude", "blue")]
                for who in ("chess player", "nurse", "software developer", "baker")]
    requests = [R("", s) for c in clusters for s in c]
    encoded = [tiny_backend.encode_pair(r.context, r.continuation) for r in requests]
    rows = rows_sharing_prefixes(encoded, range(len(encoded)), 512)
    assert sorted(sorted(r) for r in rows) == [[3 * k, 3 * k + 1, 3 * k + 2] for k in range(4)]
    assert_packed_equals_single(tiny_backend, requests, 1e-5)


def test_unpadded_path_only_for_plain_causal_attention(tiny_backend):
    from bench.models import varlen

    assert varlen.supports(tiny_backend.model)
    config = tiny_backend.model.config
    config.sliding_window = 4
    try:
        assert not varlen.supports(tiny_backend.model)
    finally:
        del config.sliding_window
    assert varlen.supports(tiny_backend.model)
