"""Prefix trees scored without padding: every tree of a batch laid end to end in one row, attention per tree.

The layers' matrices (most of the compute) then see exactly the batch's tokens, however different the trees'
sizes, and attention costs Σ size² instead of rows × width². Each tree's tokens sit at their depth (position)
and attend to their ancestors only, so every token has exactly the hidden state it has in its own sequence.
The attention is registered with transformers' `AttentionInterface` and takes effect only for a forward that
passes a layout; the output projection and the fp32 log-softmax run on the distinct scored positions only (a node
shared by several candidates once), in chunks, so a batch of sentences (every token scored) never holds a
tokens × vocabulary matrix.

Only model types whose attention is plain causal self-attention through that interface (no sliding window, no
soft-capping, no attention sinks) and whose logits are the plain output projection of the last hidden state are
taken; others keep the padded path in hf.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.models.prefix_tree import PrefixTree
from bench.models.requests import LoglikelihoodResult

NAME = "qdbench_tree"
TYPES = frozenset({"llama", "qwen2", "qwen3", "mistral", "phi3", "olmo2"})
BUCKET_SLACK = 1.5  # padded attention area a bucket may reach, over its trees' own
LOGIT_CHUNK = 1024  # scored positions per output-projection chunk: 1024 × 49k vocabulary × 4 bytes ≈ 200 MB


def supports(model) -> bool:
    """Whether `model` can be scored flat: a listed type, no sliding window, logits = lm_head(last hidden)."""
    cfg = model.config
    if getattr(cfg, "model_type", None) not in TYPES or getattr(cfg, "_attn_implementation", None) not in (
            "sdpa", "eager", NAME):
        return False
    window = getattr(cfg, "sliding_window", None)
    if window is not None and getattr(cfg, "use_sliding_window", True):
        return False
    if any(getattr(cfg, k, None) for k in ("attn_logit_softcapping", "final_logit_softcapping")):
        return False
    return model.get_output_embeddings() is not None


@dataclass
class Bucket:
    """Trees of similar size that go through attention as one padded batch (padding in attention only).

    index: (n, w) flat position of each slot (padding points at position 0, masked out); mask: (n, 1, w, w)
    bool, True where a query may attend a key; real: (n·w,) which slots hold a token; flat: their positions."""

    index: object
    mask: object
    real: object
    flat: object


@dataclass
class Layout:
    buckets: list[Bucket]


def buckets(trees: Sequence[PrefixTree], starts: Sequence[int], device: str, slack: float = BUCKET_SLACK) -> Layout:
    """Trees (largest first) cut into buckets whose padded attention area n·w² stays within `slack` times
    the trees' own Σ size², so a few attention calls per layer cover the batch."""
    import numpy as np
    import torch

    order = sorted(range(len(trees)), key=lambda i: -trees[i].size)
    groups: list[list[int]] = []
    area = 0
    for i in order:
        s = trees[i].size
        if groups and (len(groups[-1]) + 1) * trees[groups[-1][0]].size ** 2 <= slack * (area + s * s):
            groups[-1].append(i)
            area += s * s
        else:
            groups.append([i])
            area = s * s
    out = []
    for g in groups:
        w = trees[g[0]].size
        index = np.zeros((len(g), w), dtype=np.int64)
        mask = np.zeros((len(g), 1, w, w), dtype=bool)
        mask[:, 0, np.arange(w), np.arange(w)] = True  # padding attends to itself: no empty rows
        real = np.zeros((len(g), w), dtype=bool)
        for row, i in enumerate(g):
            t = trees[i]
            index[row, :t.size] = np.arange(starts[i], starts[i] + t.size)
            mask[row, 0, :t.size, :t.size] = t.ancestors()
            real[row, :t.size] = True
        real_t = torch.from_numpy(real.reshape(-1))
        out.append(Bucket(torch.from_numpy(index).to(device), torch.from_numpy(mask).to(device),
                          real_t.to(device), torch.from_numpy(index.reshape(-1)[real.reshape(-1)]).to(device)))
    return Layout(out)


def _register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, tree_attention)


def tree_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                   qdbench_layout: Layout | None = None, **kwargs):
    """Attention per tree of the flat row in `qdbench_layout`; without one, transformers' SDPA."""
    import torch
    import torch.nn.functional as F

    if qdbench_layout is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    q, k, v = query[0], key[0], value[0]  # (heads, tokens, head dim)
    out = torch.empty_like(q)
    heads, dim = q.shape[0], q.shape[-1]
    for b in qdbench_layout.buckets:
        n, w = b.index.shape
        got = F.scaled_dot_product_attention(q[:, b.index].transpose(0, 1), k[:, b.index].transpose(0, 1),
                                             v[:, b.index].transpose(0, 1), attn_mask=b.mask, scale=scaling)
        out[:, b.flat] = got.transpose(0, 1).reshape(heads, n * w, dim)[:, b.real]
    return out.transpose(0, 1)[None].contiguous(), None


def score_trees(model, trees: Sequence[PrefixTree], device: str) -> list[list[LoglikelihoodResult]]:
    """Log-likelihoods of every request of `trees`, the trees laid end to end in one row."""
    import torch

    if NAME not in _registered:
        _register()
        _registered.add(NAME)
    ids, positions, starts = [], [], []
    rows, targets, lengths = [], [], []
    at = 0
    for t in trees:
        ids += t.tokens
        positions += t.depth
        starts.append(at)
        for nodes, cont in t.scored:
            rows += [at + n for n in nodes]
            targets += cont
            lengths.append(len(cont))
        at += t.size
    layout = buckets(trees, starts, device)
    cfg = model.config
    before = cfg._attn_implementation
    cfg._attn_implementation = NAME
    try:
        with torch.inference_mode():
            hidden = model.get_decoder()(
                input_ids=torch.tensor([ids], device=device), position_ids=torch.tensor([positions], device=device),
                attention_mask=torch.ones((1, 1, 1, 1), dtype=torch.bool, device=device),  # 4D: used as given
                use_cache=False, qdbench_layout=layout).last_hidden_state[0]
            token_lp, greedy = target_logprobs(model.get_output_embeddings(), hidden, torch.tensor(rows),
                                               torch.tensor(targets))
    finally:
        cfg._attn_implementation = before
    results = per_request(token_lp, greedy, lengths)
    out, k = [], 0
    for t in trees:
        out.append(results[k:k + len(t.scored)])
        k += len(t.scored)
    return out


def target_logprobs(head, hidden, positions, targets, chunk: int = LOGIT_CHUNK):
    """`token_parts` of the logits `head` gives at `positions` (rows of `hidden`), each distinct position through
    the output projection once: the candidates of a StereoSet cluster or a CrowS-Pairs pair share their first
    tokens, and each shared node predicts the next token of every candidate through it (a third of the scored
    positions of StereoSet repeat one before them)."""
    import torch

    unique, inverse = torch.unique(positions, return_inverse=True)
    lp = torch.empty(len(positions), dtype=torch.float64)
    greedy = torch.empty(len(positions), dtype=torch.bool)
    for k in range(0, len(unique), chunk):
        sel = ((inverse >= k) & (inverse < k + chunk)).nonzero().squeeze(1)
        at = unique[k:k + chunk].to(hidden.device)
        logits = head(hidden[at].to(head.weight.device))
        lp[sel], greedy[sel] = token_parts(logits, targets[sel], inverse[sel] - k)
    return lp, greedy


def token_parts(logits, targets, rows=None):
    """(fp32 log-probability of each target, whether it is the argmax), on the CPU: the target's logit minus
    the log-sum-exp of its row (row `rows[i]` of `logits` for target i; row i without `rows`). The log-sum-exp
    is torch.logsumexp's own steps, done in place in `logits` (which it overwrites when it is fp32), so no
    second positions × vocabulary matrix is written; argmax runs only on rows whose target reaches the row's
    maximum (the others are not the argmax), which keeps argmax's first-index rule for ties."""
    import torch

    logits = logits.float()
    targets = targets.to(logits.device)
    rows = torch.arange(len(targets), device=logits.device) if rows is None else rows.to(logits.device)
    picked = logits[rows, targets]
    top = logits.amax(-1)
    greedy = picked >= top[rows]
    maybe = greedy.nonzero().squeeze(1)
    greedy[maybe] = logits[rows[maybe]].argmax(-1) == targets[maybe]
    top.masked_fill_(top.abs() == float("inf"), 0)
    lse = logits.sub_(top[:, None]).exp_().sum(-1).log_().add_(top)
    return (picked - lse[rows]).double().cpu(), greedy.cpu()


def per_request(token_lp, greedy, lengths: list[int]) -> list[LoglikelihoodResult]:
    """Consecutive runs of `lengths` tokens summed (in float64) into one result each."""
    out, k = [], 0
    for m in lengths:
        out.append(LoglikelihoodResult(float(token_lp[k:k + m].sum()), bool(greedy[k:k + m].all()), m))
        k += m
    return out


_registered: set[str] = set()
