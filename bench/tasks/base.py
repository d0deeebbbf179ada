"""A task: its declarative spec plus a small Python module of hooks.

A task module declares its metrics once as `METRICS: list[Metric]` (bench/metrics/declare.py); the run's
metrics.json, its intervals, the paired comparison and submission checks all use that list. Every other hook a
task module may define, with its signature, default and when it is called, is listed in bench/tasks/hooks.py;
`Task.hook` is the module seen through that protocol.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

import jinja2
import numpy as np
import pandas as pd

from bench import templates
from bench.errors import UserError
from bench.metrics.groups import metrics_doc
from bench.models.requests import GenerationRequest, LoglikelihoodRequest
from bench.store.provenance import ITEM_HASH
from bench.tasks import generative
from bench.tasks.hooks import Hooks, declared, hooks_of
from bench.tasks.spec import TaskSpec

MODEL_COLUMNS = ("ll", "n_tokens", "pred", "pred_norm", "nonfinite")  # the default row's columns from the model
_ENV = templates.task_environment()  # sandboxed: a task's YAML runs no code, only its hooks module does


@dataclass
class Task:
    spec: TaskSpec
    hooks: ModuleType
    path: Path

    @property
    def hook(self) -> Hooks:
        """The hooks module seen through the protocol: its hooks, or their defaults (bench/tasks/hooks.py)."""
        return hooks_of(self.hooks)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def template_fields(self) -> dict[str, str]:
        """Every Jinja template of the task file, by field: prompt.template, prompt.choices[i], item_id."""
        p = self.spec.prompt
        return {"prompt.template": p.template, **{f"prompt.choices[{i}]": c for i, c in enumerate(p.choices)},
                "item_id": self.spec.item_id}

    @cached_property
    def _templates(self) -> dict[str, jinja2.Template]:
        out = {}
        for field, text in self.template_fields.items():
            try:
                out[field] = _ENV.from_string(text)
            except jinja2.TemplateError as e:
                raise UserError(f"task file {self.path}: field '{field}': {templates.problem(e)}") from None
        return out

    def render_field(self, field: str, doc: dict) -> str:
        """One of `template_fields` rendered for `doc` in the sandbox; a UserError naming the task file and
        field where it fails (a field the data lacks, an unsafe expression, a runaway loop)."""
        try:
            return templates.render(self._templates[field], doc)
        except jinja2.TemplateError as e:
            where = f" in the data (fields: {', '.join(sorted(map(str, doc)))})" \
                if isinstance(e, jinja2.UndefinedError) else ""
            raise UserError(f"task file {self.path}: field '{field}': {templates.problem(e)}{where}") from None

    def file_sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def item_id(self, doc: dict) -> str:
        return self.render_field("item_id", doc)

    def render(self, doc: dict) -> str:
        return self.render_field("prompt.template", doc)

    def choices(self, doc: dict) -> list[str]:
        return [self.render_field(f"prompt.choices[{i}]", doc) for i in range(len(self.spec.prompt.choices))]

    def fewshot_context(self, doc: dict) -> str:
        """The rendered few-shot examples attached to `doc` (each answered with its gold option), or ""."""
        return "".join(f"{self.render(s)}{self.spec.prompt.delimiter}{self.choices(s)[int(s[self.spec.prompt.gold])]}"
                       "\n\n" for s in doc.get("__fewshot__", []))

    def requests(self, doc: dict) -> list[LoglikelihoodRequest | GenerationRequest]:
        """By default one log-likelihood request per answer option, sharing the rendered context."""
        if generative.is_generative(self):
            return generative.requests(self, doc)
        if self.hook.requests is not None:
            return self.hook.requests(self, doc)
        ctx = self.fewshot_context(doc) + self.render(doc)
        return [LoglikelihoodRequest(ctx, self.spec.prompt.delimiter + c) for c in self.choices(doc)]

    def record(self, doc: dict, results: list) -> dict:
        """One row of items.parquet: id, group fields, every option's log-likelihood, prediction, gold."""
        if generative.is_generative(self):
            return generative.record(self, doc, results)
        if self.hook.record is not None:
            return self.hook.record(self, doc, results)
        choices = self.choices(doc)
        ll = np.array([r.logprob for r in results])
        norm = ll / np.array([max(len(self.spec.prompt.delimiter + c), 1) for c in choices])
        row = {"item_id": self.item_id(doc)}
        row.update({f: doc.get(f) for f in self.spec.fields})
        row.update({
            "ll": ll.tolist(),
            "n_tokens": [r.n_tokens for r in results],
            "pred": int(ll.argmax()),
            "pred_norm": int(norm.argmax()),
            "gold": int(doc[self.spec.prompt.gold]),
        })
        row.update(self.hook.item_fields(doc))
        return row

    def item_columns(self) -> list[str]:
        """The columns of items.parquet that say what an item is, not what the model answered: its id and content
        hash, the data fields, group and stratification fields, the gold answer and the hooks' ITEM_FIELDS. A
        base and its variants must agree on every one, item by item (bench/compare/pairing.py)."""
        return list(dict.fromkeys(["item_id", ITEM_HASH, *self.spec.fields, *self.spec.group_by,
                                   *self.spec.stratify_by, "gold", *self.hook.ITEM_FIELDS]))

    def base_row(self, doc: dict) -> dict:
        """item_id and the declared fields, for hooks that build their own rows."""
        return {"item_id": self.item_id(doc), **{f: doc.get(f) for f in self.spec.fields}}

    @property
    def declared_metrics(self) -> list:
        """The task's METRICS (bench/metrics/declare.py); in generate mode its generative form's."""
        return generative.declared_metrics(self.hooks) if generative.is_generative(self) else declared(self.hooks)

    def metrics(self, records: pd.DataFrame) -> dict:
        if generative.is_generative(self):
            return generative.metrics(self, records)
        if not self.declared_metrics and self.hook.compute is not None:  # an undeclared task: values only
            return metrics_doc(self.name, records, self.hook.compute, self.spec.group_by)
        return metrics_doc(self.name, records, self.declared_metrics, self.spec.group_by, extra=self.hook.extra)

    def check_docs(self, docs: list[dict]) -> list[str]:
        """Notes printed before the run: the hooks' warnings about the data and about the run's settings."""
        return list(self.hook.check_docs(docs)) + list(self.hook.run_notes(self))
