"""The token boundary between a context and its continuation, as lm-eval draws it; every engine that scores
token ids (HF, vLLM) splits the same way, so they score exactly the same tokens."""

from __future__ import annotations

from collections.abc import Sequence


def _moved(context: str, continuation: str) -> tuple[str, str]:
    """Trailing whitespace of the context moved to the continuation."""
    n_space = len(context) - len(context.rstrip())
    return (context[:-n_space], context[-n_space:] + continuation) if n_space else (context, continuation)


def split_pair(tokenizer, prefix: int, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's split: trailing whitespace of the context moves to the continuation, the pair is encoded whole
    and the continuation is the tail past the context's own encoding; an empty context is the start token."""
    return split_pairs(tokenizer, prefix, [(context, continuation)])[0]


def split_pairs(tokenizer, prefix: int, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """`split_pair` of every pair, with each distinct text encoded once and all of them in one tokenizer call per
    kind: the options of a question share its context, and a call per text cost more host time than a small
    model's forward (3,000 BBQ items: 18,000 calls, a third of the packed path's time with a one-layer model)."""
    moved = [_moved(c, t) for c, t in pairs]
    special = list(dict.fromkeys([c for c, _ in moved if c] + [c + t for c, t in moved if c]))
    plain = list(dict.fromkeys(t for c, t in moved if not c))
    ids = dict(zip(special, _encode(tokenizer, special, True), strict=True))
    bare = dict(zip(plain, _encode(tokenizer, plain, False), strict=True))
    out = []
    for c, t in moved:
        if not c:
            out.append(([prefix], list(bare[t])))
        else:
            ctx = ids[c]
            out.append((list(ctx), list(ids[c + t][len(ctx):])))
    return out


def _encode(tokenizer, texts: list[str], special: bool) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=special)["input_ids"] if texts else []
