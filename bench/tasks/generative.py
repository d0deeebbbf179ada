"""Generative multiple choice (`qdbench run --mode generate`): the item as a question with lettered options and an
instruction to answer with a letter, sent as a chat (through the model's chat template where it has one) or as
a plain prompt; the answer letter is read back from the generated text (bench/tasks/answer_extraction.py).

A task's item comes from its prompt template and choices (the trailing "Answer:" dropped), or from a
`generative_item(task, doc) -> Item` hook where the log-likelihood form has no question (StereoSet, CrowS-Pairs,
DiscrimEval). Such a task also gives `generative_record(task, doc, choice) -> dict` (the row fields its
`GENERATIVE_METRICS`, declared Metrics, read) and may set `SHUFFLE_OPTIONS = True`: its options are then shown
in an order drawn per item from the run seed, identical for every variant. Unparseable answers are their own
category: they are left out of the task's metrics (denominator `n_parsed`) and counted in `parse_failure_rate`;
`accuracy_all_items` counts them as wrong over all items.

An item may also be put as it is (`Item.lettered = False`, DecodingTrust's stereotype prompts, which name the two
answers in their own words): the question goes to the model verbatim, under the item's own system prompt where
it has one, its plain form is the task's rendered template, and the answer is read by option text alone. A task
may add `GENERATIVE_ALL_ITEMS_METRICS` (declared Metrics over every item, unparseable ones included), and its
YAML `generation.max_new_tokens` sets the answer budget when `--max-new-tokens` is not given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import UserError
from bench.metrics import reasoning
from bench.metrics.declare import Metric, ratio
from bench.metrics.groups import metrics_doc
from bench.models.chat import render_messages
from bench.models.requests import ChatRequest, ChatResult
from bench.tasks.answer_extraction import LETTERS, extract_choice, extract_option_text

INSTRUCTION = "Answer with the letter of the correct option ({letters})."
DEFAULT_MAX_NEW_TOKENS = 32


@dataclass(frozen=True)
class Item:
    question: str
    options: list[str]  # in the task's own order; `choice` and `gold` index into it
    gold: int | None
    system: str | None = None  # the item's own system prompt, over --system-prompt
    lettered: bool = True  # False: the question as it is, no lettered options, read by option text


def chat_template_setting(value: str) -> str:
    """auto, none, or the text of a template file (so the run key follows the template's content)."""
    if value in ("auto", "none"):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise UserError(f"--chat-template {value}: expected auto, none or a template file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"--chat-template {value}: cannot read as UTF-8 text ({e})") from None
    if not text.strip():
        raise UserError(f"--chat-template {value}: the file is empty")
    return text


def check_prompt(backend, task, docs: list[dict], where: str | None = None) -> None:
    """Generate mode's dry run, before any folder is made: the first item's chat prompt rendered through the
    chat template the run will use, so a template that fails (a syntax error, an include, what the sandbox
    refuses, `raise_exception`, a runaway loop) or renders nothing is one error line naming `where`."""
    if not is_generative(task) or not docs:
        return
    for r in requests(task, docs[0]):
        template = backend.chat_template_for(r.chat_template) if r.messages else None
        if template is not None:
            render_messages(backend.tokenizer, template, r, where)


def check_context(max_new_tokens: int | None, max_think_tokens: int | None, context: int | None) -> None:
    """Generation budgets that do not fit the model's context (the longest sequence it takes) are refused."""
    need = (max_new_tokens or DEFAULT_MAX_NEW_TOKENS) + (max_think_tokens or 0)
    if context is not None and need >= context:
        given = "--max-new-tokens" + (" + --max-think-tokens" if max_think_tokens else "")
        raise UserError(f"{given}: {need:,} tokens to generate, but the model's context holds {context:,} tokens "
                        "(prompt included)")


def prompt_format() -> str:
    """A hash of how items are put to the model (instruction, lettering, shots): part of every generative run's
    key, so a change here never reuses an older run."""
    it = Item("Q?", ["x", "y"], 0)
    blob = question_text(it, [0, 1]) + "|Answer: B|\nAnswer:"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def is_generative(task) -> bool:
    return task.spec.options.get("mode") == "generate"


def check_task(task) -> None:
    """--mode generate applies to multiple-choice tasks and to tasks with a generative_item hook."""
    if task.spec.request == "generate_until":
        raise UserError(f"task '{task.name}' already generates text; --mode generate is for multiple-choice tasks")
    if task.spec.request != "multiple_choice" and task.hook.generative_item is None:
        raise UserError(f"task '{task.name}' has no generative form (no generative_item hook)")


def item(task, doc: dict) -> Item:
    if task.hook.generative_item is not None:
        return task.hook.generative_item(task, doc)
    question = re.sub(r"\s*Answer:\s*$", "", task.render(doc)).strip()
    gold = task.spec.prompt.gold
    return Item(question, task.choices(doc), int(doc[gold]) if gold else None)


def option_order(task, doc: dict, n: int) -> list[int]:
    """Display position -> option index: the task's order, or a per-item seeded shuffle."""
    order = list(range(n))
    if task.hook.SHUFFLE_OPTIONS:
        key = f"{task.spec.options.get('run_seed', 0)}\x00options\x00{task.item_id(doc)}".encode()
        random.Random(hashlib.sha256(key).digest()).shuffle(order)
    return order


def question_text(it: Item, order: list[int]) -> str:
    letters = LETTERS[:len(order)]
    lines = [f"{letters[k]}. {it.options[i]}" for k, i in enumerate(order)]
    shown = ", ".join(letters[:-1]) + f" or {letters[-1]}" if len(letters) > 1 else letters
    return f"{it.question}\n\n" + "\n".join(lines) + "\n\n" + INSTRUCTION.format(letters=shown)


def _shots(task, doc: dict) -> list[tuple[str, str]]:
    out = []
    for shot in doc.get("__fewshot__", []):
        it = item(task, shot)
        order = option_order(task, shot, len(it.options))
        out.append((question_text(it, order), f"Answer: {LETTERS[order.index(it.gold)]}"))
    return out


def requests(task, doc: dict) -> list[ChatRequest]:
    opts = task.spec.options
    it = item(task, doc)
    system = it.system or opts.get("system_prompt")
    if it.lettered:
        user = question_text(it, option_order(task, doc, len(it.options)))
        shots = _shots(task, doc)
        plain = "".join(f"{q}\n{a}\n\n" for q, a in shots) + f"{user}\nAnswer:"
        if system:
            plain = f"{system}\n\n{plain}"
    else:
        user, shots, plain = it.question, [], task.render(doc)
    messages = ([("system", system)] if system else []) + \
        [turn for q, a in shots for turn in (("user", q), ("assistant", a))] + [("user", user)]
    budget = task.spec.generation.max_new_tokens if task.spec.generation else DEFAULT_MAX_NEW_TOKENS
    return [ChatRequest(
        prompt=plain, messages=tuple(messages), chat_template=opts.get("chat_template", "auto"),
        enable_thinking=opts.get("enable_thinking"),
        max_new_tokens=int(opts.get("max_new_tokens") or budget),
        max_think_tokens=opts.get("max_think_tokens"), seed=item_seed(task, doc))]


def item_seed(task, doc: dict) -> int:
    """The item's random stream (used only if sampling is asked for): the same for every variant."""
    key = f"{task.spec.options.get('run_seed', 0)}\x00generate\x00{task.item_id(doc)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1


def answer_text(result: ChatResult) -> str:
    """What the extractor reads: a plain prompt's answer ends at the first blank line (a base model goes on
    to invent the next question), as lm-eval's generate_until stops there."""
    text = result.text
    if not result.template_used and "</think>" not in text:
        text = text.lstrip().split("\n\n")[0]
    return text


def record(task, doc: dict, results: list[ChatResult]) -> dict:
    (res,) = results
    it = item(task, doc)
    order = option_order(task, doc, len(it.options))
    read = extract_choice if it.lettered else extract_option_text
    ex = read(answer_text(res), [it.options[i] for i in order])
    choice = order[ex.choice] if ex.choice is not None else None
    row = task.base_row(doc)
    row.update({
        "generation": res.text,
        "extracted": None if ex.choice is None else LETTERS[ex.choice] if it.lettered else it.options[choice],
        "choice": -1 if choice is None else choice,
        "parsed": choice is not None,
        "parse_status": ex.status,
        "parse_method": ex.method,
        "option_order": order,
        "template_used": res.template_used,
        "prompt_tokens": res.prompt_tokens,
        "new_tokens": res.new_tokens,
        **reasoning.item_stats(res.text, res.think_tokens, res.think_forced_close, res.hit_max_new_tokens),
    })
    if task.hook.generative_record is not None:
        row.update(task.hook.generative_record(task, doc, choice))
    else:
        pred = -1 if choice is None else choice
        row.update({"pred": pred, "pred_norm": pred, "gold": it.gold})
        row.update(task.hook.item_fields(doc))
    return row


def parsed_only(metric: Metric) -> Metric:
    """The metric over parsed answers: each per-item statistic is zeroed where no option could be read, so its
    sums (and the metric, its intervals and tests) are those of the parsed items alone."""
    def columns(records: pd.DataFrame) -> dict[str, np.ndarray]:
        keep = records["parsed"].to_numpy(bool)
        return {k: np.where(keep, np.asarray(v, dtype=np.float64), 0.0) for k, v in metric.columns(records).items()}
    return dataclasses.replace(metric, columns=columns)


def _all_items_correct(records: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"correct": records["choice"].to_numpy() == records["gold"].to_numpy(), "n": np.ones(len(records))}


ACCURACY_ALL_ITEMS = Metric("accuracy_all_items", _all_items_correct, lambda s: ratio(s["correct"], s["n"]),
                            test="mcnemar", outcome=("correct", "n"),
                            description="accuracy over all items, an unparseable answer counted wrong")


def declared_metrics(hooks) -> list[Metric]:
    """A task's metrics in generate mode: its `GENERATIVE_METRICS` (or, for rows with pred/gold, its METRICS)
    over parsed answers, accuracy over all items where there is a gold answer, then the parse and reasoning
    statistics (bench/metrics/reasoning.py) over all items."""
    from bench.tasks.hooks import declared, hooks_of

    hook = hooks_of(hooks)
    own = hook.GENERATIVE_METRICS
    out = [parsed_only(m) for m in (declared(hook) if own is None else own)]
    if hook.generative_record is None:
        out.append(ACCURACY_ALL_ITEMS)
    return out + list(hook.GENERATIVE_ALL_ITEMS_METRICS) + list(reasoning.METRICS)


def metrics(task, records: pd.DataFrame) -> dict:
    doc = metrics_doc(task.name, records, task.declared_metrics, task.spec.group_by)
    doc["mode"] = "generate"
    doc["unparseable"] = ("left out of the task metrics (denominator n_parsed); counted in parse_failure_rate; "
                          "wrong in accuracy_all_items")
    doc["parse_status_counts"] = {str(k): int(v) for k, v in records["parse_status"].value_counts().items()}
    return doc


def provenance(backend, task) -> dict:
    """Which chat template a generative run used, by hash (empty for log-likelihood runs)."""
    if not is_generative(task):
        return {}
    setting = task.spec.options.get("chat_template", "auto")
    template = backend.chat_template_for(setting)
    source = "none" if template is None else ("tokenizer" if setting == "auto" else "given")
    return {"chat_template": source, "chat_template_sha256":
            hashlib.sha256(template.encode()).hexdigest() if template else None}
