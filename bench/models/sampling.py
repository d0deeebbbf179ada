"""Sampling for `model.generate`: each row drawn from its own generator seeded with its request's seed (so a
row's text does not depend on its batch), nucleus sampling, and per-row stopping on budgets and stop strings."""

from __future__ import annotations

import functools

from bench.models.chat import Spec


class SeededSampler:
    """Logits processor: rows with temperature > 0 are sampled with `next_token` from their own generator and
    every other token is masked, so greedy selection returns the drawn token; greedy rows pass through.

    On a CPU with several threads the rows are drawn in parallel (each row's draw is a serial 49k-element
    exponential fill from its own generator, so the order rows are drawn in changes nothing)."""

    def __init__(self, specs: list[Spec], device: str):
        import torch

        self.specs = specs
        self.gens = [torch.Generator(device=device).manual_seed(s.seed) if s.temperature > 0 else None
                     for s in specs]
        self.workers = torch.get_num_threads() if device == "cpu" else 1

    def __call__(self, input_ids, scores):
        scores = scores.float()
        rows = [row for row, gen in enumerate(self.gens) if gen is not None]

        def draw(row: int) -> int:
            return next_token(scores[row], self.specs[row].temperature, self.specs[row].top_p, self.gens[row])

        if self.workers > 1 and len(rows) > 1:
            tokens = list(_pool(self.workers).map(draw, rows))
        else:
            tokens = [draw(row) for row in rows]
        for row, tok in zip(rows, tokens, strict=True):
            scores[row] = float("-inf")
            scores[row, tok] = 0.0
        return scores


@functools.cache
def _pool(workers: int):
    """One thread pool per worker count for the process: a decoding step is milliseconds, too short to start
    threads for."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(workers, thread_name_prefix="qdbench-sampler")


class RowStop:
    """Stopping criterion per row: its own token budget, or one of its stop strings in the recent text (only
    the tail is decoded, so checking costs the same at every step)."""

    def __init__(self, specs: list[Spec], prompt_width: int, tokenizer):
        self.specs, self.start, self.tokenizer = specs, prompt_width, tokenizer
        self.tail = [max((len(s) for s in spec.stop), default=0) + 8 for spec in specs]

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        n = input_ids.shape[1] - self.start
        done = []
        for row, spec in enumerate(self.specs):
            hit = n >= spec.max_new_tokens
            if not hit and spec.stop:
                text = self.tokenizer.decode(input_ids[row, max(self.start, input_ids.shape[1] - self.tail[row]):],
                                             skip_special_tokens=True)
                hit = any(s and s in text for s in spec.stop)
            done.append(hit)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


NUCLEUS_TRIES = (256, 4096)  # top-k sizes searched for the nucleus before sorting the whole vocabulary
NUCLEUS_MARGIN = 1e-5  # mass before the k-th token must clear top_p by this much: float cumsums wobble by ~1e-7


def next_token(logits, temperature: float, top_p: float, generator) -> int:
    """Greedy when temperature is 0, else nucleus sampling (the smallest set of most likely tokens whose
    probability reaches top_p, as in Holtzman et al. 2020) with the request's own generator.

    The draw is torch.multinomial's own (argmax of p / q with q ~ Exp(1) drawn for the whole vocabulary), done
    over the nucleus only, which `nucleus` finds without sorting 49k probabilities when it is small: a sort and a
    multinomial per token were 43% of RealToxicityPrompts' generation time on SmolLM2. Same tokens as
    `reference_next_token` under the same generator on a CPU, whose cumsum is sequential so a prefix's sums do
    not depend on the length summed (tests/test_generation.py); CUDA's parallel cumsum may round differently,
    which can move the nucleus's edge by one token where the mass before it is within rounding of top_p."""
    import torch

    if temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / temperature, dim=-1)
    found = nucleus(probs, top_p) if top_p < 1 and bool(torch.isfinite(probs).all()) else None
    if found is None:
        return sort_and_draw(probs, top_p, generator)
    q = torch.empty_like(probs).exponential_(1, generator=generator)  # the draws multinomial makes
    idx = found.sort().values  # ascending: argmax keeps multinomial's first-index rule
    return int(idx[(probs[idx] / q[idx]).argmax()])


def nucleus(probs, top_p: float):
    """Token ids of the nucleus, the set `reference_next_token` keeps, from the top k probabilities for a growing
    k; None when only a full sort decides it (the nucleus is larger, or equal probabilities straddle its edge,
    whose order a sort leaves open)."""
    for k in NUCLEUS_TRIES:
        if k >= len(probs):
            return None
        top, idx = probs.topk(k)
        before = top.cumsum(-1) - top
        keep = before < top_p
        keep[0] = True
        n = int(keep.sum())
        if n == k or before[-1] < top_p + NUCLEUS_MARGIN:
            continue
        if not bool(keep[:n].all()) or top[n] == top[n - 1]:
            return None
        return idx[:n]
    return None


def reference_next_token(logits, temperature: float, top_p: float, generator) -> int:
    """Nucleus sampling the plain way: sort the vocabulary, keep the nucleus, torch.multinomial."""
    import torch

    if temperature == 0:
        return int(logits.argmax())
    return sort_and_draw(torch.softmax(logits / temperature, dim=-1), top_p, generator)


def sort_and_draw(probs, top_p: float, generator) -> int:
    import torch

    if top_p < 1:
        sorted_p, idx = probs.sort(descending=True)
        keep = (sorted_p.cumsum(-1) - sorted_p) < top_p
        keep[0] = True
        probs = torch.zeros_like(probs).scatter_(0, idx[keep], sorted_p[keep])
    return int(torch.multinomial(probs, 1, generator=generator))
