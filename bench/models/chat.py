"""Chat answers (`--mode generate`), defined once for every engine that can generate from token ids.

A backend mixes in `ChatMixin` and supplies `tokenizer`, `_prefix` (the start token of an empty prompt) and
`_generate_batched(prompts, specs, progress) -> [(text, new token ids, ended)]`, which honours each spec's
stop strings (keeping the stop string where `keep_stop` is set: the thinking budget's `</think>`). Rendering,
the thinking budget and the result's token counts then come out the same whichever engine generated, so HF
and vLLM answers differ only where their tokens do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jinja2

from bench import templates
from bench.errors import UserError
from bench.models.requests import ChatRequest, ChatResult


@dataclass(frozen=True)
class Spec:
    """How one prompt is continued."""

    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop: tuple[str, ...]
    keep_stop: bool = False  # keep the stop string in the text (a closing think tag)


def stop_at(text: str, stop: Sequence[str]) -> str | None:
    """`text` cut before the earliest stop string in it, or None when none occurs."""
    hits = [text.find(s) for s in stop if s and s in text]
    return text[:min(hits)] if hits else None


def tokens_covering(tokenizer, toks: list[int], n_chars: int) -> list[int]:
    """The shortest prefix of `toks` whose text reaches `n_chars` characters."""
    for k in range(1, len(toks) + 1):
        if len(tokenizer.decode(toks[:k], skip_special_tokens=True)) >= n_chars:
            return toks[:k]
    return toks


def finish(tokenizer, toks: list[int], spec: Spec, eos: bool) -> tuple[str, list[int], bool]:
    """(text, token ids, ended) of one generated row (EOS already removed from `toks`; `eos`: it ended there):
    the text is cut at the earliest stop string (kept, with the tokens that make it, under `keep_stop`)."""
    text = tokenizer.decode(toks, skip_special_tokens=True)
    cut = stop_at(text, spec.stop)
    if cut is None:
        return text, toks, eos or len(toks) < spec.max_new_tokens
    if spec.keep_stop:
        stop = min((s for s in spec.stop if s and s in text), key=text.find)
        cut = text[:text.find(stop) + len(stop)]
        toks = tokens_covering(tokenizer, toks, len(cut))
    return cut, toks, True


def check_chat(requests: Sequence[ChatRequest]) -> None:
    for r in requests:
        if r.max_new_tokens <= 0 or (r.max_think_tokens is not None and r.max_think_tokens <= 0) \
                or r.temperature < 0 or not 0 < r.top_p <= 1:
            raise ValueError(f"bad generation settings: {r}")


class ChatMixin:
    """generate_chat / render_chat / chat_template_for over the backend's `_generate_batched`."""

    tokenizer: object
    _prefix: int

    def _generate_batched(self, prompts: list[list[int]], specs: list[Spec],
                          progress: Callable[[int], None] | None = None) -> list[tuple[str, list[int], bool]]:
        raise NotImplementedError

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=True)["input_ids"]

    def generate_chat(self, requests: Sequence[ChatRequest],
                      progress: Callable[[int], None] | None = None) -> list[ChatResult]:
        """Answers to chat requests: rendered through a chat template where there is one, with an optional
        thinking budget (a block still open when it runs out is closed with `think_end` before the answer).
        Where the template itself opens the block (the prompt ends with `<think>`), the text starts with it."""
        check_chat(requests)
        rendered = [self.render_chat(r) for r in requests]
        think = [i for i, r in enumerate(requests) if r.max_think_tokens is not None]
        specs = [Spec(requests[i].max_think_tokens, requests[i].temperature, requests[i].top_p, requests[i].seed,
                      (requests[i].think_end,), keep_stop=True) for i in think]
        first = dict(zip(think, self._generate_batched([rendered[i][0] for i in think], specs), strict=True))
        answer_rows, answer_prompts, answer_specs = [], [], []
        closing: dict[int, list[int]] = {}
        for i, r in enumerate(requests):
            ids = list(rendered[i][0])
            if i in first:
                text, toks, ended = first[i]
                if ended and r.think_end not in text:
                    continue  # it answered without a reasoning block, within the budget
                if r.think_end not in text:
                    closing[i] = self.tokenizer(f"\n{r.think_end}\n\n", add_special_tokens=False)["input_ids"]
                ids += toks + closing.get(i, [])
            answer_rows.append(i)
            answer_prompts.append(ids)
            answer_specs.append(Spec(r.max_new_tokens, r.temperature, r.top_p, r.seed + (i in first), ()))
        answers = dict(zip(answer_rows, self._generate_batched(answer_prompts, answer_specs), strict=True))
        out = []
        for i, r in enumerate(requests):
            head, head_toks = ("", []) if i not in first or i not in answers else first[i][:2]
            if i in closing:
                head += f"\n{r.think_end}\n\n"
            tail, tail_toks, ended = answers.get(i) or first[i]
            text = ("<think>\n" if rendered[i][2] else "") + head + tail
            if i in first and i in answers:
                think_tokens = len(head_toks)
            else:
                think_tokens = self._think_tokens(text, r.think_end, tail_toks)
            out.append(ChatResult(text=text, prompt_tokens=len(rendered[i][0]),
                                  new_tokens=len(head_toks) + len(tail_toks), think_tokens=think_tokens,
                                  think_forced_close=i in closing, hit_max_new_tokens=not ended,
                                  template_used=rendered[i][1]))
        if progress:
            progress(len(requests))
        return out

    def chat_template_for(self, setting: str) -> str | None:
        """The template text a request's `chat_template` setting selects (None: plain prompt)."""
        return template_for(self.tokenizer, setting)

    def render_chat(self, r: ChatRequest) -> tuple[list[int], bool, bool]:
        """Prompt token ids, whether a chat template made them, and whether it opened a reasoning block."""
        template = self.chat_template_for(r.chat_template) if r.messages else None
        if template is None:
            return (self._encode(r.prompt) if r.prompt else [self._prefix]), False, False
        text = render_messages(self.tokenizer, template, r)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids, True, text.rstrip().endswith("<think>")

    def _think_tokens(self, text: str, think_end: str, toks: list[int]) -> int:
        """Generated tokens of the reasoning block: up to its closing tag, or all when it never closed."""
        if think_end in text:
            return len(tokens_covering(self.tokenizer, toks, len(text[:text.rindex(think_end)])))
        return len(toks) if "<think>" in text else 0


@functools.lru_cache(maxsize=8)
def _compiled(text: str) -> jinja2.Template:
    return templates.chat_environment().from_string(text)


def render_messages(tokenizer, template: str, r: ChatRequest, where: str | None = None) -> str:
    """The prompt text of `r`'s messages through the chat template `template`, rendered in qdbench's sandbox
    with the variables `tokenizer.apply_chat_template` gives it (messages, add_generation_prompt, the special
    tokens, enable_thinking where set). A template that fails, or renders nothing, is a UserError naming it
    (`where`: the template's source)."""
    where = where or ("the model's chat template" if r.chat_template == "auto" else "the --chat-template file")
    context = {**getattr(tokenizer, "special_tokens_map", {}), "messages": [{"role": role, "content": c}
                                                                             for role, c in r.messages],
               "tools": None, "documents": None, "add_generation_prompt": True}
    if r.enable_thinking is not None:
        context["enable_thinking"] = r.enable_thinking
    try:
        text = templates.render(_compiled(template), context)
    except jinja2.TemplateError as e:
        raise UserError(f"{where}: {templates.problem(e)}") from None
    if not text.strip():
        raise UserError(f"{where}: it rendered an empty prompt (check its variables: messages, "
                        "add_generation_prompt)")
    return text


def template_for(tokenizer, setting: str) -> str | None:
    """auto: the tokenizer's own template (None where it has none); none: None; otherwise the text given."""
    if setting == "none":
        return None
    if setting == "auto":
        return getattr(tokenizer, "chat_template", None) or None
    return setting
