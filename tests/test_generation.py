"""Generation in the HF backend: seeded, batch-independent, greedy = step-by-step argmax, stop strings."""

from __future__ import annotations

import pytest
import torch

from bench.models.chat import stop_at
from bench.models.hf import next_token
from bench.models.requests import GenerationRequest

PROMPTS = ["The cat sat on", "A much longer prompt about the weather in the mountains, which", "Hi", "Once upon a"]


def sampled(seed: int, prompt: str = "The cat sat on", n: int = 12) -> GenerationRequest:
    return GenerationRequest(prompt, max_new_tokens=n, temperature=1.0, top_p=0.9, seed=seed)


def test_same_text_whatever_the_batch(tiny_backend):
    reqs = [sampled(100 + i, p, n=8 + 2 * i) for i, p in enumerate(PROMPTS)]
    reqs.append(GenerationRequest("Hi there", max_new_tokens=10))  # greedy mixed into a sampled batch
    together = tiny_backend.generate(reqs)
    alone = [tiny_backend.generate([r])[0] for r in reqs]
    old = tiny_backend.max_batch_size
    try:
        tiny_backend.max_batch_size = 2
        in_pairs = tiny_backend.generate(list(reversed(reqs)))[::-1]
    finally:
        tiny_backend.max_batch_size = old
    assert together == alone == in_pairs
    assert all(t for t in together)


def test_rows_drawn_in_parallel_draw_what_one_thread_draws():
    """SeededSampler draws its rows on several threads on a CPU: each row's tokens are its own generator's."""
    from bench.models.chat import Spec
    from bench.models.sampling import SeededSampler

    specs = [Spec(8, 1.0, 0.9, seed, ()) for seed in range(6)] + [Spec(8, 0.0, 1.0, 0, ())]
    scores = torch.randn(7, 49152, generator=torch.Generator().manual_seed(3)) * 3

    def steps(workers: int) -> list[list[int]]:
        sampler = SeededSampler(specs, "cpu")
        sampler.workers = workers
        return [sampler(None, scores.clone()).argmax(-1).tolist() for _ in range(3)]

    parallel = steps(3)
    assert parallel == steps(1)
    assert len({tuple(s[:6]) for s in parallel}) == 3  # the streams move on step by step


def test_seed_fixes_the_stream(tiny_backend):
    a, b, c = tiny_backend.generate([sampled(1), sampled(1), sampled(2)])
    assert a == b
    assert a != c


def test_greedy_is_argmax_step_by_step(tiny_backend):
    prompt, n = "The quick brown fox", 10
    got = tiny_backend.generate([GenerationRequest(prompt, max_new_tokens=n)])[0]
    ids = tiny_backend.tokenizer(prompt)["input_ids"]
    tokens = []
    with torch.inference_mode():
        for _ in range(n):
            logits = tiny_backend.model(input_ids=torch.tensor([ids + tokens])).logits[0, -1]
            tok = int(logits.argmax())
            if tok == tiny_backend.tokenizer.eos_token_id:
                break
            tokens.append(tok)
    assert got == tiny_backend.tokenizer.decode(tokens, skip_special_tokens=True)


def test_stop_string_truncates_at_first_occurrence(tiny_backend):
    prompt = "Once upon a"
    full = tiny_backend.generate([GenerationRequest(prompt, max_new_tokens=12)])[0]
    clean = full.replace("\ufffd", "")
    assert len(clean) >= 4
    stop = clean[2:4]
    cut = tiny_backend.generate([GenerationRequest(prompt, max_new_tokens=12, stop=("never-there", stop))])[0]
    assert cut == full[:full.find(stop)]
    assert stop not in cut


def test_stop_at_takes_the_earliest():
    assert stop_at("abc. def\nxyz", ["\n", "."]) == "abc"
    assert stop_at("abc", ["x"]) is None
    assert stop_at("abc", [""]) is None


def test_top_p_keeps_the_nucleus_only():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    gen = torch.Generator().manual_seed(0)
    draws = [next_token(logits, 1.0, 0.6, gen) for _ in range(400)]
    assert set(draws) == {0, 1}  # 0.5 < 0.6, so the nucleus is {0, 1}
    assert 0.5 < draws.count(0) / len(draws) < 0.75  # renormalized: 0.5 / 0.8 = 0.625
    assert {next_token(logits, 1.0, 1e-6, gen) for _ in range(20)} == {0}
    assert next_token(logits, 0.0, 0.9, gen) == 0


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0, 8.0])
def test_nucleus_without_sorting_draws_what_sort_and_multinomial_draw(scale):
    """The fast sampler (top-k search for the nucleus, multinomial's exponential draws over it) against the plain
    one on a 49k vocabulary: peaked and flat distributions (nucleus from 1 token to past the top-k tries, which
    falls back to the sort), equal logits at the top, several temperatures and top-p, a stream of draws."""
    from bench.models.sampling import NUCLEUS_TRIES, nucleus, reference_next_token

    g = torch.Generator().manual_seed(int(scale * 10))
    sizes = []
    for case in range(12):
        logits = torch.randn(49152, generator=g) * scale
        if case % 4 == 0:
            logits[:40] = logits.max()  # ties at the top, straddling some nuclei's edge
        for temperature, top_p in [(1.0, 0.9), (0.7, 0.95), (1.3, 0.5), (1.0, 1.0)]:
            a, b = torch.Generator().manual_seed(case), torch.Generator().manual_seed(case)
            draws = [next_token(logits, temperature, top_p, a) for _ in range(4)]
            assert draws == [reference_next_token(logits, temperature, top_p, b) for _ in range(4)]
            found = nucleus(torch.softmax(logits / temperature, -1), top_p) if top_p < 1 else None
            sizes.append(-1 if found is None else len(found))
    if scale >= 3.0:
        assert any(0 < s <= NUCLEUS_TRIES[0] for s in sizes)  # the fast path was taken
    if scale == 0.3:
        assert -1 in sizes  # a nucleus past the tries: the sort decided


def test_sampling_a_nan_fails_as_multinomial_does():
    logits = torch.zeros(49152)
    logits[7] = float("nan")
    with pytest.raises(RuntimeError):
        next_token(logits, 1.0, 0.9, torch.Generator().manual_seed(0))


def test_bad_settings_are_refused(tiny_backend):
    with pytest.raises(ValueError):
        tiny_backend.generate([GenerationRequest("x", max_new_tokens=0)])
    with pytest.raises(ValueError):
        tiny_backend.generate([GenerationRequest("x", top_p=0.0, temperature=1.0)])


def test_samples_of_one_prompt_share_one_prefill(tiny_backend, monkeypatch):
    """k samples of a prompt: its prompt goes through the model once (one prefill row per distinct prompt),
    and every sample's text is the one it has when generated alone."""
    reqs = [sampled(7 + j, "The cat sat on", 10) for j in range(4)] + [sampled(50, "Hi", 6), sampled(51, "Hi", 6)]
    alone = [tiny_backend.generate([r])[0] for r in reqs]
    prefill_rows = []
    forward = tiny_backend.model.forward

    def spy(*args, **kwargs):
        if kwargs.get("past_key_values") is None:
            prefill_rows.append(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    monkeypatch.setattr(tiny_backend.model, "forward", spy)
    together = tiny_backend.generate(reqs)
    assert prefill_rows == [2]
    assert together == alone
    assert len(set(together[:4])) > 1  # the samples differ from each other
