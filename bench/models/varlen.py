"""Prefix trees scored without padding: every tree of a batch laid end to end in one row, attention per tree.

The layers' matrices (most of the compute) then see exactly the batch's tokens, however different the trees'
sizes, and attention costs Σ size² instead of rows × width². Each tree's tokens sit at their depth (position)
and attend to their ancestors only, so every token has exactly the hidden state it has in its own sequence.
The attention is registered with transformers' `AttentionInterface` and takes effect only for a forward that
passes a layout; the output projection and the fp32 log-softmax run on the scored positions only, in chunks, so
a batch of sentences (every token scored) never holds a tokens × vocabulary matrix.

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
class Layout:
    """Where each tree of a flat row lies, and its mask (None: a chain, plain causal attention)."""

    starts: list[int]
    sizes: list[int]
    masks: list


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
    out = torch.empty_like(query)
    for start, size, mask in zip(qdbench_layout.starts, qdbench_layout.sizes, qdbench_layout.masks, strict=True):
        span = slice(start, start + size)
        out[:, :, span] = F.scaled_dot_product_attention(query[:, :, span], key[:, :, span], value[:, :, span],
                                                         attn_mask=mask, is_causal=mask is None, scale=scaling)
    return out.transpose(1, 2).contiguous(), None


def score_trees(model, trees: Sequence[PrefixTree], device: str) -> list[list[LoglikelihoodResult]]:
    """Log-likelihoods of every request of `trees`, the trees laid end to end in one row."""
    import torch

    if NAME not in _registered:
        _register()
        _registered.add(NAME)
    ids, positions, starts, masks = [], [], [], []
    rows, targets, lengths = [], [], []
    at = 0
    for t in trees:
        ids += t.tokens
        positions += t.depth
        starts.append(at)
        masks.append(None if t.is_chain else torch.from_numpy(t.ancestors()).to(device))
        for nodes, cont in t.scored:
            rows += [at + n for n in nodes]
            targets += cont
            lengths.append(len(cont))
        at += t.size
    layout = Layout(starts, [t.size for t in trees], masks)
    cfg = model.config
    before = cfg._attn_implementation
    cfg._attn_implementation = NAME
    try:
        with torch.inference_mode():
            hidden = model.get_decoder()(
                input_ids=torch.tensor([ids], device=device), position_ids=torch.tensor([positions], device=device),
                attention_mask=torch.ones((1, 1, 1, 1), dtype=torch.bool, device=device),  # 4D: used as given
                use_cache=False, qdbench_layout=layout).last_hidden_state[0]
            head = model.get_output_embeddings()
            picked = torch.tensor(rows, device=hidden.device)
            flat = []
            for k in range(0, len(rows), LOGIT_CHUNK):
                sel = picked[k:k + LOGIT_CHUNK]
                logits = head(hidden[sel].to(head.weight.device))
                flat.append(token_parts(logits, torch.tensor(targets[k:k + len(sel)])))
    finally:
        cfg._attn_implementation = before
    token_lp = torch.cat([lp for lp, _ in flat])
    greedy = torch.cat([g for _, g in flat])
    results = per_request(token_lp, greedy, lengths)
    out, k = [], 0
    for t in trees:
        out.append(results[k:k + len(t.scored)])
        k += len(t.scored)
    return out


def token_parts(logits, targets):
    """(fp32 log-probability of each target, whether it is the argmax), on the CPU."""
    import torch

    lp = torch.log_softmax(logits.float(), dim=-1)
    targets = targets.to(lp.device)
    return (lp.gather(-1, targets[:, None]).squeeze(-1).double().cpu(), (lp.argmax(-1) == targets).cpu())


def per_request(token_lp, greedy, lengths: list[int]) -> list[LoglikelihoodResult]:
    """Consecutive runs of `lengths` tokens summed (in float64) into one result each."""
    out, k = [], 0
    for m in lengths:
        out.append(LoglikelihoodResult(float(token_lp[k:k + m].sum()), bool(greedy[k:k + m].all()), m))
        k += m
    return out


_registered: set[str] = set()
