"""What a task asks of a backend, lm-eval style, and what the backend answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context), summed over the continuation's tokens."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    logprob: float
    is_greedy: bool
    n_tokens: int


@dataclass(frozen=True)
class GenerationRequest:
    """Sample or greedily decode up to `max_new_tokens` after `prompt`; `seed` fixes the random stream."""

    prompt: str
    max_new_tokens: int = 20
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int = 0


@dataclass(frozen=True)
class ChatRequest:
    """Generate an answer to chat `messages` ((role, content) pairs), through the model's chat template when
    `chat_template` is "auto" and the tokenizer has one, or through the template text given; with "none" (or no
    template) the plain `prompt` is used. With `max_think_tokens`, a reasoning block still open after that many
    tokens is closed with `think_end` and the answer gets its own `max_new_tokens`."""

    prompt: str
    messages: tuple[tuple[str, str], ...] = ()
    chat_template: str = "auto"
    enable_thinking: bool | None = None
    max_new_tokens: int = 64
    max_think_tokens: int | None = None
    think_end: str = "</think>"
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0


@dataclass(frozen=True)
class ChatResult:
    text: str  # everything generated: reasoning, a closing tag forced by the budget, the answer
    prompt_tokens: int
    new_tokens: int  # generated tokens (a forced closing tag not counted)
    think_tokens: int  # tokens of the reasoning block up to its closing tag (0: no block)
    think_forced_close: bool  # the thinking budget ran out and the block was closed for the model
    hit_max_new_tokens: bool  # the answer used its whole budget without ending
    template_used: bool  # the prompt went through a chat template
