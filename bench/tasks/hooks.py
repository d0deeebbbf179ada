"""The task-hooks protocol: every name a task's Python module (`scorer:` in its YAML) may define, with its
signature, its default and when it is called, written down once.

A task module declares what it needs and nothing else; `hooks_of(module)` sees it through this protocol, so the
rest of qdbench reads `hooks_of(task.hooks).NAME` (or `task.hook.NAME`) and never asks whether a module defines a
name: the defaults below apply where it does not. This module is the only place that looks a hook up by name.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol


class TaskHooks(Protocol):
    """What a task module may define (all optional). Functions marked "None: ..." have no default function:
    None means qdbench's own behaviour applies (`hooks_of(m).defines(name)` says which)."""

    # -- metrics ----------------------------------------------------------------------------------------------------
    METRICS: list  # [Metric]: the task's metrics, declared once (bench/metrics/declare.py). Default [].
    # Used by the run's metrics.json, its intervals, the paired comparison, submission checks and the site.
    extra: Callable | None  # (records) -> dict[str, float]: values that are not declared metrics (no interval,
    # not compared), computed with the metrics at the end of a run. Default None: none.
    compute: Callable | None  # (records) -> dict: an undeclared task's metric values (no METRICS). Default None.
    # -- the run ----------------------------------------------------------------------------------------------------
    OPTIONS: tuple  # option names the hooks read from `task.spec.options` besides the YAML's; a run option
    # (--classifier, ...) that no task of the run reads is refused. Default ().
    setup: Callable  # (task) -> None: load or check what the hooks need (a classifier) before any work.
    # Called once per run, after the options are set. Default: nothing.
    SAMPLE_UNIT: str | None  # a doc field: `--limit N` draws N of its values (stratified) with all their docs.
    # Default None: --limit counts items.
    check_docs: Callable  # (docs) -> list[str]: notes about the data, printed before the run. Default [].
    run_notes: Callable  # (task) -> list[str]: notes about the run's settings, printed before it. Default [].
    requests: Callable | None  # (task, doc) -> list[request]: replaces one log-likelihood request per option;
    # called per item while the run works. Default None: the default requests. Such a task takes no few-shot.
    record: Callable | None  # (task, doc, results) -> dict: replaces the default multiple-choice row; called
    # per item with the backend's answers. Default None: the default row.
    item_fields: Callable  # (doc) -> dict: extra per-item columns computed from the item alone, named in
    # ITEM_FIELDS; called per item by the default row, the generative row and `cka`. Default {}.
    ITEM_FIELDS: tuple  # the names item_fields returns: a base and its variants must agree on them. Default ().
    # -- generate mode (--mode generate) ----------------------------------------------------------------------------
    generative_item: Callable | None  # (task, doc) -> generative.Item: the question and options shown when the
    # task is asked in generated text; needed by tasks that are not multiple choice. Default None: from the YAML.
    generative_record: Callable | None  # (task, doc, choice) -> dict: the row's pred/gold fields from the
    # option read in the answer. Default None: pred = the option, gold from the YAML.
    SHUFFLE_OPTIONS: bool  # show the options in a per-item seeded order. Default False.
    GENERATIVE_METRICS: list | None  # metrics over parsed answers in generate mode. Default None: METRICS.
    GENERATIVE_ALL_ITEMS_METRICS: list  # further metrics over all items in generate mode. Default [].
    # -- comparisons ------------------------------------------------------------------------------------------------
    answer_kinds: Callable | None  # (items) -> labels: answer labels for the transition matrices of a
    # comparison (with KIND_CATEGORIES). Default None: no matrices.
    KIND_CATEGORIES: tuple  # the labels answer_kinds gives, in display order. Default ().
    SUBSET_FIELD: str | None  # a field splitting items into subsets for the comparison's flip tables. Default None.
    biased_answers: Callable | None  # (items, pred=...) -> (eligible, biased): the items where an answer can be
    # biased and those answered in the biased way (compare --cka). Default None: the task is not probed.
    probe_subsets: Callable  # (frame) -> dict[str, bool array]: named item subsets for `cka`. Default {}.


def _none(*args: Any, **kwargs: Any) -> None:
    return None


def _empty_list(*args: Any, **kwargs: Any) -> list:
    return []


def _empty_dict(*args: Any, **kwargs: Any) -> dict:
    return {}


# Every hook's default, defined once (TaskHooks says what each is and when it is called).
DEFAULTS: dict[str, Any] = {
    "METRICS": [], "extra": None, "compute": None,
    "OPTIONS": (), "setup": _none, "SAMPLE_UNIT": None, "check_docs": _empty_list, "run_notes": _empty_list,
    "requests": None, "record": None, "item_fields": _empty_dict, "ITEM_FIELDS": (),
    "generative_item": None, "generative_record": None, "SHUFFLE_OPTIONS": False, "GENERATIVE_METRICS": None,
    "GENERATIVE_ALL_ITEMS_METRICS": [],
    "answer_kinds": None, "KIND_CATEGORIES": (), "SUBSET_FIELD": None, "biased_answers": None,
    "probe_subsets": _empty_dict,
}


class Hooks:
    """A task module seen through the protocol: each hook is the module's own, or its default."""

    METRICS: list
    extra: Callable | None
    compute: Callable | None
    OPTIONS: tuple
    setup: Callable
    SAMPLE_UNIT: str | None
    check_docs: Callable
    run_notes: Callable
    requests: Callable | None
    record: Callable | None
    item_fields: Callable
    ITEM_FIELDS: tuple
    generative_item: Callable | None
    generative_record: Callable | None
    SHUFFLE_OPTIONS: bool
    GENERATIVE_METRICS: list | None
    GENERATIVE_ALL_ITEMS_METRICS: list
    answer_kinds: Callable | None
    KIND_CATEGORIES: tuple
    SUBSET_FIELD: str | None
    biased_answers: Callable | None
    probe_subsets: Callable

    def __init__(self, module: ModuleType | None):
        self.module = module
        self._defined = frozenset(n for n in DEFAULTS if module is not None and hasattr(module, n))
        for name, default in DEFAULTS.items():
            setattr(self, name, getattr(module, name) if name in self._defined else default)

    def defines(self, name: str) -> bool:
        """Whether the module defines `name` itself (e.g. its own `requests` replaces the default ones)."""
        if name not in DEFAULTS:
            raise KeyError(f"'{name}' is not a task hook (bench/tasks/hooks.py)")
        return name in self._defined


def hooks_of(module: ModuleType | Hooks | None) -> Hooks:
    """`module` seen through the protocol (a Hooks is returned as it is). Built per call: a module's names can be
    patched (tests do), and building one is a couple of dozen lookups."""
    return module if isinstance(module, Hooks) else Hooks(module)


def declared(module: ModuleType | Hooks | None) -> list:
    """A task module's METRICS (empty when it declares none)."""
    return list(hooks_of(module).METRICS or [])
