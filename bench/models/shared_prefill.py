"""One prefill per distinct prompt of a generation batch: k samples of a prompt (RealToxicityPrompts' 25
continuations per prompt) share its computation, and only the k continuations are decoded separately.

Every row's prompt but its last token goes through the model once per distinct prompt; the key/value cache is
then copied out to the rows, and `model.generate` continues from the last prompt token. Rows are prefilled
this way whether or not their prompt repeats, so a row's numbers do not depend on whether its batch holds
another sample of the same prompt.
"""

from __future__ import annotations


def prefill(model, ids, mask, device: str):
    """The key/value cache of every row of the left-padded batch (ids, mask) up to its last column, computed
    once per distinct row; None where there is nothing before the last column."""
    import torch

    if ids.shape[1] < 2:
        return None
    first: dict[tuple, int] = {}
    rows, which = [], []
    for r, key in enumerate(zip(map(tuple, ids.tolist()), map(tuple, mask.tolist()), strict=True)):
        if key not in first:
            first[key] = len(rows)
            rows.append(r)
        which.append(first[key])
    head_ids, head_mask = ids[rows, :-1], mask[rows, :-1]
    positions = (head_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        cache = model(input_ids=head_ids.to(device), attention_mask=head_mask.to(device),
                      position_ids=positions.to(device), use_cache=True).past_key_values
    if len(rows) < len(which):
        cache.batch_select_indices(torch.tensor(which, device=device))
    return cache
