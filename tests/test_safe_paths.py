"""Issue 16, items 1-2: names that become folder names cannot move a write (or a replacing rename) out of
its root."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.errors import UserError
from bench.paths import repo_root
from bench.safepath import confined, safe_name
from bench.store.atomic import staged_dir
from tests.test_cli import cli
from tests.test_cli_errors import refused


@pytest.fixture
def task_named(tmp_path, monkeypatch):
    """A copy of the bbq task under another `name`, found through QDBENCH_TASKS."""
    from bench.tasks import registry

    def make(name: str) -> Path:
        raw = yaml.safe_load((repo_root() / "tasks" / "bbq.yaml").read_text())
        raw["name"] = name
        folder = tmp_path / "tasks"
        folder.mkdir(exist_ok=True)
        (folder / "evil.yaml").write_text(yaml.safe_dump(raw))
        monkeypatch.setenv("QDBENCH_TASKS", str(folder))
        registry._tasks_in.cache_clear()
        return folder / "evil.yaml"

    yield make
    registry._tasks_in.cache_clear()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("name", ["../../../escaped", "ABSOLUTE", "a/b", ".hidden", "x..y"])
def test_task_name_cannot_leave_out(tmp_path, task_named, name):
    name = str(tmp_path / "abs_task") if name == "ABSOLUTE" else name
    path = task_named(name)
    before = _files(tmp_path)
    result = cli("run", "--model", "builtin:tiny-llama", "--tasks", name, "--out", str(tmp_path / "out"),
                 "--limit", "4", "--quiet")
    refused(result, str(path), "field 'name'")
    assert _files(tmp_path) == before


def test_data_import_does_not_delete_a_folder_named_by_a_task(tmp_path, task_named):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "f").write_text("x\n")
    task_named(str(victim))
    refused(cli("data", "import", str(victim), str(repo_root() / "bench" / "data" / "samples")), "field 'name'")
    assert (victim / "f").read_text() == "x\n"


def test_staged_dir_never_replaces_a_folder_it_did_not_make(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "f").write_text("x\n")
    with pytest.raises(UserError, match="not made by qdbench"), staged_dir(victim) as tmp:
        (tmp / "new").write_text("y")
    assert (victim / "f").read_text() == "x\n" and not (victim / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["victim"]
    with staged_dir(victim, replace=lambda p: (p / "f").is_file()) as tmp:  # the caller's own: replaced
        (tmp / "new").write_text("y")
    assert sorted(p.name for p in victim.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["victim"]


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "/abs", "x" * 200, "a..b", ".x", "-x"])
def test_safe_name_refuses(bad):
    with pytest.raises(UserError, match="not a safe name"):
        safe_name(bad, "field 'name'")


def test_confined_keeps_names_inside(tmp_path):
    assert confined(tmp_path, "tiny-llama", "bbq") == tmp_path / "tiny-llama" / "bbq"
    with pytest.raises(UserError):
        confined(tmp_path, "..", "x")


def test_model_slug_is_a_safe_name(tmp_path):
    from bench.models.loading import ModelRef
    from bench.safepath import is_safe_name

    for path in ("/models/..", "/models/.hidden", "/m/a..b", "/m/--"):
        assert is_safe_name(ModelRef(path, path).slug), path
