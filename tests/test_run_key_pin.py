"""Run keys and settings keys of existing runs must not change when the run options are refactored: both are
pinned here for fixed inputs (a stand-in task and data, so the pins do not move when a task file is edited)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from bench.exec.local import Prepared, RunOptions, run_key, run_settings, settings_key


def prepared(options: dict) -> Prepared:
    spec = SimpleNamespace(options=options)
    task = SimpleNamespace(name="bbq", spec=spec, file_sha256=lambda: "f" * 64)
    dataset = SimpleNamespace(files={"Age.jsonl": "a" * 64})
    return Prepared(task, dataset, [{}, {}], ["i1", "i2"], [])  # type: ignore[arg-type]


REF = SimpleNamespace(slug="tiny-llama")
MODEL = {"sha256": "0" * 64}


def test_the_default_run_s_keys_are_pinned():
    opts = RunOptions()
    p = prepared({"run_seed": opts.seed})
    assert run_key(REF, MODEL, p, opts) == "b516cebdc9c6f996afaceceedf25c60d5a1c2b3507f91e227464224699821d49"
    assert settings_key(run_settings(p, opts)) == "e5dae9a1bd"


def test_a_changed_option_s_keys_are_pinned():
    opts = RunOptions(out=Path("elsewhere"), limit=2, seed=7, dtype="float32", mode="generate", max_new_tokens=8,
                      num_fewshot=1, backend="vllm", batch_size=4, request_cache=False,
                      variant={"family": "f", "name": "rtn", "recipe": "rtn-w8a16", "recipe_hash": "r"})
    p = prepared({"run_seed": 7, **opts.generation_options()})
    assert run_key(REF, MODEL, p, opts) == "4465a2dd3ec61ee340ff8bbbf4651b0575cdbf6dc59ae3aff7e45866629b21ae"
    assert settings_key(run_settings(p, opts)) == "75d4c79d9b"
