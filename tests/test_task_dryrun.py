"""Issue 16, item 8: a task file that passes the schema but cannot run is refused before any folder is made,
in one line naming the task file and the field."""

from __future__ import annotations

import pytest
import yaml

from bench.paths import repo_root
from tests.test_cli import cli
from tests.test_cli_errors import refused


@pytest.fixture
def bad_task(tmp_path, monkeypatch):
    from bench.tasks import registry

    def make(change) -> str:
        raw = yaml.safe_load((repo_root() / "tasks" / "bbq.yaml").read_text())
        raw["name"] = "bbq_edited"
        change(raw)
        (tmp_path / "tasks").mkdir()
        path = tmp_path / "tasks" / "bbq_edited.yaml"
        path.write_text(yaml.safe_dump(raw))
        monkeypatch.setenv("QDBENCH_TASKS", str(tmp_path / "tasks"))
        registry._tasks_in.cache_clear()
        return str(path)

    yield make
    registry._tasks_in.cache_clear()


@pytest.mark.parametrize("change, field, words", [
    (lambda t: t.update(item_id="{{ nope }}-{{ example_id }}"), "item_id", ["'nope' is undefined"]),
    (lambda t: t["prompt"].update(template="{{ context }} {{ missing }}"), "prompt.template", ["'missing'"]),
    (lambda t: t["prompt"].update(template="{{ context "), "prompt.template", ["syntax error"]),
    (lambda t: t["prompt"].update(choices=["{{ ans0 }}", "{{ ans9 }}"]), "prompt.choices[1]", ["'ans9'"]),
    (lambda t: t["prompt"].update(gold="nolabel"), "prompt.gold", ["'nolabel'"]),
    (lambda t: t.update(group_by=["nofield"]), "group_by", ["nofield"]),
    (lambda t: t.update(stratify_by=["nofield"]), "stratify_by", ["nofield"]),
    (lambda t: t["prompt"].update(choices=[]), "prompt.choices", ["at least one choice"]),
    (lambda t: t.update(metrics=["accuracy", "no_such_metric"]), "metrics", ["no_such_metric", "scorer 'bbq'"]),
])
def test_wrong_task_file_is_one_line_before_any_folder(tmp_path, bad_task, change, field, words):
    path = bad_task(change)
    out = tmp_path / "out"
    result = cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq_edited", "--limit", "4", "--out", str(out),
                 "--quiet")
    refused(result, path, f"field '{field}'", *words)
    assert not out.exists()
