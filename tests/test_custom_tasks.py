"""Tasks outside the package: --include-path and $QDBENCH_INCLUDE_PATH, hook modules beside the YAML, the
generic data format, and `qdbench tasks validate`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.data import generic
from bench.errors import UserError
from bench.tasks.spec import DataSpec
from tests.conftest import the_run
from tests.test_cli import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_task"

HOOKS = '''
import pandas as pd

def compute(df: pd.DataFrame) -> dict:
    return {"share_first": float((df["pred"] == 0).mean()) if len(df) else None}
'''

TASK = """name: pick_first
description: "a task whose metric comes from a hook module next to the YAML"
data: {format: generic, path: items.jsonl, fields: {question: q.text, label: gold}}
request: multiple_choice
prompt: {template: "{{ question }}", choices: ["{{ options[0] }}", "{{ options[1] }}"]}
item_id: "{{ id }}"
fields: [id, kind]
group_by: [kind]
scorer: pick_first_hooks
metrics: [share_first]
"""


@pytest.fixture
def task_dir(tmp_path) -> Path:
    d = tmp_path / "my_tasks"  # outside the repository
    d.mkdir()
    (d / "pick_first.yaml").write_text(TASK)
    (d / "pick_first_hooks.py").write_text(HOOKS)
    rows = [{"id": f"i{i}", "kind": "ab"[i % 2], "q": {"text": f"Question {i}?"}, "options": ["yes", "no"],
             "gold": i % 2} for i in range(6)]
    (d / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_a_task_in_an_outside_folder_runs_with_include_path(task_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "runs"
    result = cli("run", "--model", "builtin:tiny-llama", "--tasks", "pick_first", "--include-path", str(task_dir),
                 "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    run = the_run(out / "tiny-llama" / "pick_first")
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["by_group"]["kind"]) == {"a", "b"} and metrics["metrics"]["share_first"] is not None
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["data"]["origin"] == "task-path" and manifest["data"]["n_items"] == 6
    # without the folder the task is unknown again (the option holds for one command only)
    assert "unknown task 'pick_first'" in cli("run", "--model", "builtin:tiny-llama", "--tasks", "pick_first",
                                              "--out", str(out)).stderr


def test_the_environment_variable_and_tasks_list(task_dir, monkeypatch):
    monkeypatch.setenv("QDBENCH_INCLUDE_PATH", str(task_dir))
    listed = cli("tasks", "list")
    assert listed.returncode == 0 and "pick_first" in listed.stdout
    monkeypatch.setenv("QDBENCH_INCLUDE_PATH", str(task_dir / "nope"))
    assert "is not a folder" in cli("tasks", "list").stderr


def test_shipped_example_copied_outside_validates_and_runs(tmp_path, tiny_model_dir):
    d = tmp_path / "elsewhere"
    shutil.copytree(EXAMPLE, d)
    checked = cli("tasks", "validate", str(d / "trivia_mc.yaml"))
    assert checked.returncode == 0 and "ok" in checked.stdout and "4 items" in checked.stdout
    ran = cli("run", "--model", "builtin:tiny-llama", "--tasks", "trivia_mc", "--include-path", str(d),
              "--out", str(tmp_path / "runs"), "--quiet")
    assert ran.returncode == 0, ran.stderr


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace("scorer: pick_first_hooks", "scorer: nowhere"), "no module 'nowhere'"),
    (lambda t: t.replace("q.text", "q.txt"), "no field 'q.txt'"),
    (lambda t: t.replace("{{ question }}", "{{ questoin }}"), "questoin"),
    (lambda t: t.replace('item_id: "{{ id }}"', 'item_id: "{{ kind }}"'), "not unique"),
    (lambda t: t.replace("fields: [id, kind]", "fields: [id, kind, colour]"), "colour"),
    (lambda t: t.replace("request: multiple_choice", "request: sometimes"), "field 'request'"),
])
def test_validate_prints_what_is_wrong(task_dir, edit, words):
    path = task_dir / "pick_first.yaml"
    path.write_text(edit(TASK))
    result = cli("tasks", "validate", str(path))
    assert result.returncode == 2 and words in result.stderr
    assert all(line.startswith("qdbench: error:") for line in result.stderr.splitlines())


def test_generic_format_reads_csv_tsv_json_and_maps_fields(tmp_path):
    (tmp_path / "a.csv").write_text("id,question,answer\n1,\"Is it, really?\",0\n")
    (tmp_path / "b.tsv").write_text("id\tquestion\tanswer\n2\tWhy?\t1\n")
    (tmp_path / "c.json").write_text(json.dumps([{"id": 3, "question": "How?", "answer": 1}]))
    data = DataSpec(format="generic", fields={"label": "answer"})
    docs = generic.load(generic.discover(tmp_path), data)
    assert [(d["id"], d["question"], d["label"]) for d in docs] == [
        ("1", "Is it, really?", "0"), ("2", "Why?", "1"), (3, "How?", 1)]
    (tmp_path / "d.csv").write_text("id,question\n4,What?,extra\n")
    with pytest.raises(UserError, match="d.csv line 2"):
        generic.load([tmp_path / "d.csv"], data)
