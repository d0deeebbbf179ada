"""The token boundary between a context and its continuation, as lm-eval draws it; every engine that scores
token ids (HF, vLLM) splits the same way, so they score exactly the same tokens."""

from __future__ import annotations


def split_pair(tokenizer, prefix: int, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's split: trailing whitespace of the context moves to the continuation, the pair is encoded whole
    and the continuation is the tail past the context's own encoding; an empty context is the start token."""
    n_space = len(context) - len(context.rstrip())
    if n_space:
        continuation = context[-n_space:] + continuation
        context = context[:-n_space]
    if not context:
        return [prefix], tokenizer(continuation, add_special_tokens=False)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=True)["input_ids"]
    ctx = tokenizer(context, add_special_tokens=True)["input_ids"]
    return ctx, whole[len(ctx):]
