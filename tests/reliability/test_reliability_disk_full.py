"""A full disk under what qdbench builds (issue 21, part B): a built-in model, a variant, a submission, an import.
Each ends with exit 2 and one `qdbench: error:` line naming the destination (the folder being built, not the
file it was copying from, not a temporary name), and nothing half-built under a final name.

The disk is a small tmpfs mounted for the test (root only; elsewhere the tests skip). Commands run in forked
children (tests/reliability/conftest.py: `child`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.paths import repo_root
from reliability.harness import record

KIND = "full disk"


@pytest.fixture
def small_disk(tmp_path):
    """small_disk(kib) -> a folder on a tmpfs of that size, unmounted after the test."""
    mounts: list[Path] = []

    def mount(kib: int) -> Path:
        folder = tmp_path / f"disk-{len(mounts)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _files(root: Path) -> list[str]:
    """Files under `root`, but the empty lock files that let one process build a folder at a time."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir() and p.suffix != ".lock")


def _check(name: str, rc: int, out: str, err: str, destination: Path, disk: Path, not_named: str = ".tmp") -> None:
    lines = err.strip().splitlines()
    ok = (rc == 2 and len(lines) == 1 and lines[0].startswith("qdbench: error:") and "Traceback" not in err
          and str(destination) in lines[0] and not_named not in lines[0] and not _files(disk))
    record(KIND, name, ok)
    assert rc == 2, (out + err)[-3000:]
    assert len(lines) == 1 and lines[0].startswith("qdbench: error:"), err[-3000:]
    assert str(destination) in lines[0] and not_named not in lines[0], lines[0]
    assert not _files(disk), f"left behind: {_files(disk)}"


def test_a_built_in_model_onto_a_full_disk(tmp_path, small_disk, child):
    disk = small_disk(512)  # the tiny model's weights are about 10 MB
    rc, out, err = child(["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "2", "--quiet",
                          "--out", tmp_path / "runs"], QDBENCH_MODEL_CACHE=str(disk),
                         QDBENCH_HOME=str(tmp_path / "home"))
    _check("a built-in model built onto a full disk: one line naming its folder", rc, out, err,
           disk / "builtin" / "tiny-llama", disk)


def test_a_variant_onto_a_full_disk(tmp_path, small_disk, child, tiny_model_dir):
    disk = small_disk(256)
    rc, out, err = child(["compress", "--model", "builtin:tiny-llama", "--recipe", "rtn-w8a16", "--out", disk],
                         QDBENCH_HOME=str(tmp_path / "home"))
    _check("a variant built onto a full disk: one line naming its folder", rc, out, err,
           disk / "tiny-llama" / "rtn-w8a16", disk)


def test_a_submission_onto_a_full_disk(tmp_path, small_disk, child, family_runs):
    disk = small_disk(64)
    rc, out, err = child(["submit", family_runs / "tiny-llama", "--to", disk / "subs"],
                         QDBENCH_HOME=str(tmp_path / "home"))
    _check("a submission onto a full disk: one line naming --to, not the run file it copied", rc, out, err,
           disk / "subs", disk, not_named=str(family_runs))


def test_an_import_onto_a_full_disk(tmp_path, small_disk, child):
    src = tmp_path / "published" / "data"
    src.mkdir(parents=True)
    by_category: dict[str, list[str]] = {}
    for line in (repo_root() / "bench" / "data" / "samples" / "bbq.jsonl").read_text().splitlines():
        by_category.setdefault(json.loads(line)["category"], []).append(line)
    for category, lines in by_category.items():  # the published layout: one file per category
        (src / f"{category}.jsonl").write_text("\n".join(lines) + "\n")
    disk = small_disk(16)  # the sample is 42 kB
    home = disk / "home"
    rc, out, err = child(["data", "import", "bbq", src.parent], QDBENCH_HOME=str(home))
    _check("a data import onto a full disk: one line naming the data cache folder, not the source file", rc, out,
           err, home / "data", disk, not_named=str(src))
    assert sorted(os.listdir(src)) == sorted(f"{c}.jsonl" for c in by_category)
