"""`--limit N` draws a seeded sample stratified by group, the same for every variant of a family."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence


def stratified_sample(docs: Sequence[dict], n: int | None, keys: Sequence[str], seed: int = 0,
                      unit: str | None = None) -> list[int]:
    """Indices of up to `n` docs, drawn at random within each stratum with `seed`, in the data's own order.

    When `n` covers every stratum, each gets one item first; the rest is allocated in proportion to the
    strata's sizes (largest remainder), so small groups are never dropped from a breakdown. With `unit` (a doc
    field), `n` counts units: n units are drawn (each stratified by its first doc) and all their docs kept, for
    tasks whose metric compares units made of several items (HolisticBias: a descriptor's sentences)."""
    if unit is not None:
        first: dict = {}
        for i, d in enumerate(docs):
            first.setdefault(d.get(unit), i)
        reps = list(first.values())
        chosen = {docs[reps[j]].get(unit) for j in stratified_sample([docs[i] for i in reps], n, keys, seed)}
        return [i for i, d in enumerate(docs) if d.get(unit) in chosen]
    if n is None or n >= len(docs):
        return list(range(len(docs)))
    strata: dict[tuple, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        strata[tuple(str(d.get(k)) for k in keys)].append(i)
    names = sorted(strata)
    floor = 1 if n >= len(names) else 0
    spare = {s: len(strata[s]) - floor for s in names}
    total = sum(spare.values())
    quotas = {s: (n - floor * len(names)) * spare[s] / total for s in names}
    alloc = {s: floor + int(quotas[s]) for s in names}
    for s in sorted(names, key=lambda s: (-(quotas[s] % 1), s))[: n - sum(alloc.values())]:
        alloc[s] += 1
    rng = random.Random(seed)
    chosen = []
    for s in names:
        chosen.extend(rng.sample(strata[s], alloc[s]))
    return sorted(chosen)


def n_units(docs: Sequence[dict], unit: str | None) -> int:
    """How many items (or, with `unit`, distinct units) `--limit` counts in `docs`."""
    return len(docs) if unit is None else len({d.get(unit) for d in docs})
