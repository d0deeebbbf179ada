"""Representation similarity of base and variant: pooled hidden states per layer, linear CKA per subset.

Both models read the same prompts (the task's rendered items), each through its own tokenizer; each
prompt becomes one vector per layer (mean over its tokens, or its last token), and linear CKA compares
the two models' (items x hidden) matrices layer by layer. Layer counts that differ (a distilled student)
are paired by relative depth (bench.stats.layer_map).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.stats import layer_map, linear_cka

SCHEMA = "qdbench.cka/1"
POOLS = ("mean", "last")
# Linear CKA over few items is biased towards 1 (two items always give exactly 1): smaller subsets are
# reported as undefined rather than as a reassuring number.
MIN_ITEMS = 10


def hidden_states(model, tokenizer, texts: Sequence[str], *, pool: str = "mean", batch_size: int = 8,
                  device: str = "cpu") -> list[np.ndarray]:
    """Per layer (embeddings first) an (n_texts, hidden) float32 array of pooled hidden states.

    Right padding with an attention mask: causal attention never lets a real token see padding, so the
    pooled vectors do not depend on the batch a text lands in.
    """
    import torch

    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    limit = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    encoded = [tokenizer(t, add_special_tokens=True)["input_ids"][-limit:] for t in texts]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    layers: list[np.ndarray | None] = []
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
            mask[row, :len(encoded[i])] = 1
        with torch.inference_mode():
            out = model(input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True,
                        use_cache=False)
        m = mask.to(device).unsqueeze(-1).float()
        last = mask.sum(1) - 1
        for k, h in enumerate(out.hidden_states):
            h = h.float()
            vec = (h * m).sum(1) / m.sum(1) if pool == "mean" else h[torch.arange(len(batch)), last.to(device)]
            vec = vec.cpu().numpy()
            if not layers:
                layers = [None] * len(out.hidden_states)
            if layers[k] is None:
                layers[k] = np.empty((len(texts), vec.shape[1]), np.float32)
            layers[k][batch] = vec
    return [x for x in layers if x is not None]


def student_layers(provenance: dict | None, base_fingerprint: str | None) -> list[int] | None:
    """The teacher layers a depth-pruned student was initialized from (its provenance `teacher_layers`), where
    its teacher is this base; for a student quantized afterwards, its student's. None otherwise (a chain's last
    teacher is not the base, a random-initialized student maps by depth)."""
    from bench.compress.variants import read_provenance

    prov = provenance or {}
    if "recipe" in prov:
        prov = read_provenance((prov.get("base") or {}).get("path") or "") or {}
    teacher = prov.get("teacher") or {}
    if prov.get("student_init") != "teacher_layers" or prov.get("chain") or not prov.get("teacher_layers"):
        return None
    if base_fingerprint and teacher.get("fingerprint") and teacher["fingerprint"] != base_fingerprint:
        return None
    return [int(i) for i in prov["teacher_layers"]]


def layer_pairs(n_base: int, n_variant: int, teacher_layers: list[int] | None = None
                ) -> tuple[list[tuple[int, int]], str]:
    """(base hidden state, variant hidden state) pairs, 0 being the embeddings, and how they were chosen:
    a student's layer k after the teacher layer it was copied from ("teacher_layers"), else one to one
    ("same depth"), else by relative depth (bench.stats.layer_map)."""
    if teacher_layers and len(teacher_layers) == n_variant and max(teacher_layers) < n_base:
        return [(0, 0)] + [(t + 1, k + 1) for k, t in enumerate(teacher_layers)], "teacher_layers"
    if n_base == n_variant:
        return [(i, i) for i in range(n_base + 1)], "same depth"
    return layer_map(n_base, n_variant), "relative depth"


def cka_by_layer(base: list[np.ndarray], variant: list[np.ndarray], subsets: dict[str, np.ndarray],
                 teacher_layers: list[int] | None = None) -> dict:
    """Layer pairs (a student's copied teacher layers, else by relative depth when counts differ) and CKA per
    subset; None where undefined: fewer than MIN_ITEMS items, or states that do not vary across items (e.g.
    last-token embeddings of prompts that all end in the same token). `depth`: the base layer's relative depth."""
    nb, nv = len(base) - 1, len(variant) - 1
    pairs, how = layer_pairs(nb, nv, teacher_layers)
    rows = []
    for i, j in pairs:
        cka = {}
        for name, mask in subsets.items():
            value = linear_cka(base[i][mask], variant[j][mask]) if mask.sum() >= MIN_ITEMS else float("nan")
            cka[name] = None if not np.isfinite(value) else value
        rows.append({"base_layer": i, "variant_layer": j, "depth": i / nb, "cka": cka})
    return {"mapped_by_relative_depth": how == "relative depth", "layer_mapping": how, "base_layers": nb,
            "variant_layers": nv, "layers": rows}
