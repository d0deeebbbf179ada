"""Issue 16, item 9: operating-system errors (a folder that cannot be written, a full disk) are one line naming
the path, exit 2, checked before a model loads where they can be; a run stopped by a full disk resumes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bench.paths import repo_root
from tests.test_cli import cli, run_bbq
from tests.test_cli_errors import fake_run, refused


@pytest.fixture(params=["read-only-folder", "proc"])
def unwritable(request, tmp_path) -> Path:
    """A folder no file can be created in: chmod 555 (not for root, who may write anyway) or under /proc."""
    if request.param == "proc":
        yield Path("/proc/self/qdbench-out")
        return
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder / "out"
    folder.chmod(0o755)


def test_run_into_unwritable_out(unwritable, monkeypatch):
    import bench.models.hf as hf

    monkeypatch.setattr(hf.HFBackend, "__init__", lambda *a, **k: pytest.fail("the model must not load"))
    refused(run_bbq(unwritable, "--limit", "4"), "--out", "cannot write")


def test_compare_into_unwritable_out(unwritable, tmp_path):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b")
    refused(cli("compare", str(a), str(b), "--out", str(unwritable), "--no-plots"), "--out", "cannot write")


def test_compress_into_unwritable_out(unwritable):
    refused(cli("compress", "--model", "builtin:tiny-llama", "--recipe", "rtn-w8a16", "--out", str(unwritable)),
            "--out", "cannot write")


def bbq_folder(tmp_path: Path) -> Path:
    """A published-layout BBQ folder made of the shipped sample's Age items."""
    import json

    lines = (repo_root() / "bench" / "data" / "samples" / "bbq.jsonl").read_text().splitlines()
    (tmp_path / "bbq" / "data").mkdir(parents=True)
    (tmp_path / "bbq" / "data" / "Age.jsonl").write_text(
        "\n".join(ln for ln in lines if json.loads(ln)["category"] == "Age") + "\n")
    return tmp_path / "bbq"


def test_data_import_into_unwritable_home(unwritable, monkeypatch, tmp_path):
    src = bbq_folder(tmp_path)
    monkeypatch.setenv("QDBENCH_HOME", str(unwritable))
    refused(cli("data", "import", "bbq", str(src)), "cannot write")


def test_disk_full_mid_run_is_one_line_and_resumes(tmp_path, tiny_model_dir, monkeypatch):
    import bench.store.runs as runs

    real, calls = runs.write_with, []

    def full_disk(path, writer):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, writer)

    monkeypatch.setattr(runs, "write_with", full_disk)
    result = run_bbq(tmp_path, "--limit", "12", "--chunk-items", "4")
    refused(result, "No space left on device", "part-000001.parquet", "run the same command again")
    monkeypatch.setattr(runs, "write_with", real)
    assert run_bbq(tmp_path, "--limit", "12", "--chunk-items", "4").returncode == 0
    again = cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "12", "--out", str(tmp_path))
    assert "already complete" in again.stderr
