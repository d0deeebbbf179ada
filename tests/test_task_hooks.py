"""The task-hooks protocol: every hook listed once with its default, and looked up nowhere else."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from bench.tasks.hooks import DEFAULTS, TaskHooks, declared, hooks_of

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_every_hook_is_documented_in_the_protocol_and_has_one_default():
    assert set(TaskHooks.__annotations__) == set(DEFAULTS)


def test_a_module_without_hooks_gets_the_defaults():
    hooks = hooks_of(types.ModuleType("empty"))
    assert hooks.OPTIONS == () and hooks.SAMPLE_UNIT is None and hooks.requests is None
    assert hooks.check_docs([{"a": 1}]) == [] and hooks.item_fields({}) == {} and hooks.setup(None) is None
    assert declared(hooks) == [] and not hooks.defines("requests")
    with pytest.raises(KeyError, match="not a task hook"):
        hooks.defines("reqests")


def test_a_module_s_own_hooks_win():
    module = types.ModuleType("own")
    module.OPTIONS = ("classifier",)
    module.item_fields = lambda doc: {"x": doc["a"]}
    hooks = hooks_of(module)
    assert hooks.OPTIONS == ("classifier",) and hooks.item_fields({"a": 2}) == {"x": 2}
    assert hooks.defines("item_fields") and hooks_of(hooks) is hooks


def test_no_hook_is_probed_outside_the_protocol():
    names = "|".join(map(re.escape, DEFAULTS))
    probe = re.compile(rf"""(hasattr|getattr)\([^()]*,\s*["']({names})["']""")
    found = [f"{p.relative_to(BENCH)}:{i}" for p in BENCH.rglob("*.py") if p.name != "hooks.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if probe.search(line)]
    assert found == []
