"""Few-shot examples: a seeded split of the data held out from evaluation, and per-item draws from it.

Both depend only on the run seed and item ids (sha256), never on the model, the order of the data or the
`--limit` sample, so every variant of a family sees the same examples for the same item, in both modes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bench.errors import UserError


def _rank(*parts: object) -> bytes:
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()


def pool_size(n_docs: int, k: int) -> int:
    """A few-shot split of 8 examples per shot (at least 32), at most a quarter of the data."""
    return min(max(8 * k, 32), n_docs // 4)


def split(ids: Sequence[str], k: int, seed: int) -> tuple[list[int], list[int]]:
    """(few-shot split, evaluation split) as indices into `ids`, each in the data's order."""
    size = pool_size(len(ids), k)
    if size < k:
        raise UserError(f"--num-fewshot {k}: the data has {len(ids)} items, too few to hold out {k} examples "
                        "(a quarter of the data at most)")
    chosen = set(sorted(range(len(ids)), key=lambda i: _rank(seed, "fewshot-split", ids[i]))[:size])
    return sorted(chosen), [i for i in range(len(ids)) if i not in chosen]


def draw(pool_ids: Sequence[str], item_id: str, k: int, seed: int) -> list[int]:
    """Indices of the k examples of one item, drawn from the few-shot split."""
    return sorted(range(len(pool_ids)), key=lambda j: _rank(seed, "fewshot", item_id, pool_ids[j]))[:k]
