"""Which option a generated answer names, without guessing.

The answer is read after the last closing `</think>` when there is one; an opened think block that never closed
leaves no answer (a letter inside the reasoning is not an answer). In the answer, in order of precedence:
an explicit statement ("Answer: B", "the answer is (B)", "\\boxed{B}"), then a lettered form ("(B)", "B)", "B.",
"B:" at a line start, or the letter alone), then the text of one option. Several different candidates at the
first level that has any, or none at all, make the answer unparseable: it is never replaced by a random or a
default option. Text is NFKC-normalized first, so full-width and circled letters read as plain ones.
`extract_option_text` reads an answer to a prompt that showed no letters by the option text alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bench.metrics.reasoning import THINK_CLOSE, THINK_OPEN

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

OK, EMPTY, NO_ANSWER, AMBIGUOUS, INVALID_LETTER, UNCLOSED_THINK = (
    "ok", "empty", "no_answer", "ambiguous", "invalid_letter", "unclosed_think")
STATUSES = (OK, EMPTY, NO_ANSWER, AMBIGUOUS, INVALID_LETTER, UNCLOSED_THINK)


@dataclass(frozen=True)
class Reasoning:
    """A generation split into its reasoning block and its answer."""

    reasoning: str
    answer: str
    has_block: bool  # a think block was opened or closed
    closed: bool  # ... and it was closed


@dataclass(frozen=True)
class Extraction:
    choice: int | None  # index of the named option (display order), None when unparseable
    status: str  # one of STATUSES
    method: str | None  # answer_statement | lettered | option_text
    candidates: tuple[str, ...]  # the distinct letters (or option indices as text) that were found


def split_reasoning(text: str, open_tag: str = THINK_OPEN, close_tag: str = THINK_CLOSE) -> Reasoning:
    """Reasoning before the last closing tag (templates that open the block in the prompt leave no opening
    tag in the output), the answer after it."""
    if close_tag in text:
        head, _, tail = text.rpartition(close_tag)
        return Reasoning(head.replace(open_tag, "", 1).strip(), tail.strip(), True, True)
    if open_tag in text:
        before, _, inside = text.partition(open_tag)
        return Reasoning(inside.strip(), "", True, False) if not before.strip() else \
            Reasoning(inside.strip(), before.strip(), True, False)
    return Reasoning("", text.strip(), False, False)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[*_`]+", "", text)


_STATEMENT = re.compile(
    r"(?i:\banswer\b(?:\s+(?:is|would\s+be|will\s+be))?|\bi\s+(?:choose|pick|select))"
    r"\s*(?i:is\s*)?[:=\-]?\s*\(?\s*([A-Z])\s*\)?(?![A-Za-z0-9'])(?!\s+(?:think|believe|am|would|guess)\b)")
_ALSO = re.compile(r"\s*(?:,|/|\bor\b|\band\b)\s*\(?([A-Z])\)?(?![A-Za-z0-9'])")
_STATEMENT_LOWER = re.compile(r"(?i:\banswer\b)\s*:\s*\(?([a-z])\)?\s*[.!]?\s*$", re.MULTILINE)
_BOXED = re.compile(r"\\boxed\{\s*\(?([A-Za-z])\)?\s*\}")
_PAREN = re.compile(r"(?<![A-Za-z0-9])\(([A-Z])\)")
_CLOSING = re.compile(r"(?:^|(?<=\s))([A-Z])\)")
_LINE_START = re.compile(r"^\s*([A-Z])\s*[.:\-](?:\s|$)", re.MULTILINE)
_ALONE = re.compile(r"^\s*\(?([A-Z])\)?\s*[.!]?\s*$", re.MULTILINE)
_LIST = re.compile(r"^\s*\(?[A-Z]\)?(?:\s*(?:,|/|\bor\b|\band\b)\s*\(?[A-Z]\)?)+\s*[.!?]?\s*$")


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", normalize(text).lower()))


def _decide(found: list[str], letters: str, method: str) -> Extraction | None:
    distinct = tuple(dict.fromkeys(f.upper() for f in found))
    if not distinct:
        return None
    if len(distinct) > 1:
        return Extraction(None, AMBIGUOUS, method, distinct)
    if distinct[0] not in letters:
        return Extraction(None, INVALID_LETTER, method, distinct)
    return Extraction(letters.index(distinct[0]), OK, method, distinct)


def by_option_text(answer: str, options: list[str]) -> Extraction | None:
    """The one option whose words occur in the answer; an option contained in another matching one yields."""
    said = f" {_words(answer)} "
    texts = [_words(o) for o in options]
    hits = [i for i, t in enumerate(texts) if t and f" {t} " in said]
    hits = [i for i in hits if not any(j != i and f" {texts[i]} " in f" {texts[j]} " for j in hits)]
    if not hits:
        return None
    if len(hits) > 1:
        return Extraction(None, AMBIGUOUS, "option_text", tuple(str(i) for i in hits))
    return Extraction(hits[0], OK, "option_text", (str(hits[0]),))


def extract_choice(text: str, options: list[str]) -> Extraction:
    """The option the generation names (see the module docstring for the rules)."""
    letters = LETTERS[:len(options)]
    parts = split_reasoning(text or "")
    if parts.has_block and not parts.closed and not parts.answer:
        return Extraction(None, UNCLOSED_THINK, None, ())
    answer = normalize(parts.answer).strip()
    if not answer:
        return Extraction(None, EMPTY, None, ())
    statement = [m.group(1) for rx in (_STATEMENT, _STATEMENT_LOWER, _BOXED) for m in rx.finditer(answer)]
    statement += [m.group(1) for s in _STATEMENT.finditer(answer) if (m := _ALSO.match(answer, s.end()))]
    found = _decide(statement, letters, "answer_statement")
    if found is not None:
        return found
    first_line = answer.splitlines()[0]
    if _LIST.match(first_line):
        return Extraction(None, AMBIGUOUS, "lettered", tuple(dict.fromkeys(re.findall(r"[A-Z]", first_line))))
    lettered = [m.group(1) for rx in (_PAREN, _CLOSING, _LINE_START, _ALONE) for m in rx.finditer(answer)]
    found = _decide(lettered, letters, "lettered")
    if found is not None:
        return found
    return by_option_text(answer, options) or Extraction(None, NO_ANSWER, None, ())


def extract_option_text(text: str, options: list[str]) -> Extraction:
    """The one option whose words the answer says, for prompts that show no letters (a letter there is not an
    answer): after the reasoning block as above; none or several options make it unparseable."""
    parts = split_reasoning(text or "")
    if parts.has_block and not parts.closed and not parts.answer:
        return Extraction(None, UNCLOSED_THINK, None, ())
    answer = normalize(parts.answer).strip()
    if not answer:
        return Extraction(None, EMPTY, None, ())
    return by_option_text(answer, options) or Extraction(None, NO_ANSWER, None, ())
