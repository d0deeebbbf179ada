"""Check a task file against its first documents before any folder is made.

A task YAML can pass the schema and still be wrong: a template naming a field the data lacks, a template
syntax error, `prompt.gold` or `group_by` naming a missing field, no `choices`, a metric its scorer never
computes. Each would surface mid-run as a traceback with a half-made `.work/`; here the first documents go
through the whole path (templates, requests, a record from stand-in model answers, the metrics) and a
mistake is one line naming the task file and field.
"""

from __future__ import annotations

import pandas as pd

from bench.errors import UserError
from bench.models.requests import ChatRequest, ChatResult, GenerationRequest, LoglikelihoodResult
from bench.tasks import generative
from bench.tasks.base import Task

N_DOCS = 3


def _where(task: Task, field: str) -> str:
    return f"task file {task.path}: field '{field}'"


def _render(task: Task, field: str, docs: list[dict]) -> None:
    for doc in docs:
        task.render_field(field, doc)


def _stand_in(request):
    if isinstance(request, ChatRequest):  # generate mode: an answer the extractor reads as option A
        return ChatResult("Answer: A", prompt_tokens=1, new_tokens=2, think_tokens=0, think_forced_close=False,
                          hit_max_new_tokens=False, template_used=False)
    return "a stand-in continuation" if isinstance(request, GenerationRequest) else LoglikelihoodResult(-1.0, False, 1)


def check_task(task: Task, docs: list[dict]) -> None:
    """A UserError naming the task file and field where `task` cannot run on `docs` (its first few are used)."""
    spec, first = task.spec, docs[:N_DOCS]
    if not first:
        return
    _render(task, "item_id", first)
    custom_requests = task.hook.defines("requests")
    if not custom_requests:
        for field in task.template_fields:
            _render(task, field, first)
        if spec.request == "multiple_choice" and not spec.prompt.choices:
            raise UserError(f"{_where(task, 'prompt.choices')}: a multiple_choice task needs at least one choice")
    if not task.hook.defines("record") and spec.request == "multiple_choice":
        missing = [d for d in first if spec.prompt.gold not in d]
        if spec.prompt.gold is None or missing:
            raise UserError(f"{_where(task, 'prompt.gold')}: {spec.prompt.gold!r} is not a field of the data "
                            f"(fields: {', '.join(sorted(first[0]))})")
    missing = sorted({f for f in spec.stratify_by for d in first if f not in d})
    if missing:
        raise UserError(f"{_where(task, 'stratify_by')}: {', '.join(missing)} not a field of the data (fields: "
                        f"{', '.join(sorted(first[0]))})")
    rows = [task.record(d, [_stand_in(r) for r in task.requests(d)]) for d in first]
    missing = sorted({f for f in spec.group_by for row in rows if f not in row})
    if missing:
        raise UserError(f"{_where(task, 'group_by')}: {', '.join(missing)} is not a field of the data or of the "
                        f"task's item rows (add it to `fields`; rows have: {', '.join(sorted(rows[0]))})")
    if generative.is_generative(task):  # its metrics are the generative form's (e.g. StereoSet: no *_sum)
        return
    declared = [m.name for m in task.declared_metrics]
    # Strict: the YAML's `metrics:` must name declared metrics (METRICS of the hooks module); only a task that
    # declares none (a `compute` hook) is checked by computing its values, and an error there is not hidden.
    computed = set(declared) if declared else set(task.metrics(pd.DataFrame(rows))["metrics"])
    unknown = [m for m in spec.metrics if m not in computed]
    if unknown:
        raise UserError(f"{_where(task, 'metrics')}: {', '.join(unknown)} not declared by scorer "
                        f"'{spec.scorer}' (its METRICS: {', '.join(sorted(computed))})")
