"""Cutting a sorted list of work units (prefix trees, requests, prompts) into batches that fit a token budget:
padded (rows × widest row) or laid end to end (the sum of sizes)."""

from __future__ import annotations

from collections.abc import Callable


def by_budget(units: list, width: Callable, batch_tokens: int, max_batch_size: int):
    """Consecutive batches whose padded size (rows × widest row) stays within the token budget."""
    batch: list = []
    widest = 0
    for u in units:
        w = width(u)
        if batch and (max(widest, w) * (len(batch) + 1) > batch_tokens or len(batch) >= max_batch_size):
            yield batch
            batch, widest = [], 0
        batch.append(u)
        widest = max(widest, w)
    if batch:
        yield batch


def by_sum(units: list, size: Callable, batch_tokens: int, max_batch_size: int):
    """Consecutive batches whose total size stays within the token budget (no padding: laid end to end)."""
    batch: list = []
    total = 0
    for u in units:
        w = size(u)
        if batch and (total + w > batch_tokens or len(batch) >= max_batch_size):
            yield batch
            batch, total = [], 0
        batch.append(u)
        total += w
    if batch:
        yield batch
