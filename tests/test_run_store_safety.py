"""Issue 16, items 3, 6, 11 and 13: one writer per run folder, damaged work is recoverable, finished runs are
verified against the sha256 their manifest recorded, and damaged run files are one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.store.runs import RunStore, load_run, verify_run
from tests.conftest import the_run
from tests.test_cli import cli, run_bbq
from tests.test_cli_errors import refused


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model_dir) -> Path:
    out = tmp_path_factory.mktemp("store-safety")
    assert run_bbq(out, "--limit", "12").returncode == 0
    return out


@pytest.fixture
def out(finished, tmp_path) -> Path:
    """A private copy of the finished runs folder."""
    shutil.copytree(finished, tmp_path / "runs")
    return tmp_path / "runs"


def run_dir(out: Path) -> Path:
    return the_run(out / "tiny-llama" / "bbq")


# 3: concurrency and recovery


def test_second_writer_is_refused_naming_the_holder(out, tmp_path):
    fresh = tmp_path / "fresh"
    with RunStore(fresh / run_dir(out).relative_to(out)).lock():  # the folder the same settings run in
        result = run_bbq(fresh, "--limit", "12")
    refused(result, "another qdbench process", "is writing this run")
    assert run_bbq(fresh, "--limit", "12").returncode == 0  # once it is free the run goes through


def test_two_concurrent_runs_give_one_correct_run(tmp_path, finished):
    cmd = [sys.executable, "-m", "bench.cli.main", "run", "--model", "builtin:tiny-llama", "--tasks", "bbq",
           "--limit", "24", "--out", str(tmp_path), "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results)[0] == 0, results
    for code, err in results:
        assert code in (0, 2) and "Traceback" not in err, results
    manifest, _, items = load_run(run_dir(tmp_path))
    assert len(items) == 24 and items["item_id"].is_unique
    again = cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "24", "--out", str(tmp_path))
    assert again.returncode == 0 and "already complete" in again.stderr


def _unfinished(tmp_path: Path) -> Path:
    """An unfinished run of 12 items: killed after its first part."""
    from tests.test_cli import qdbench

    out = tmp_path / "unfinished"
    result = qdbench("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "12", "--out", str(out),
                     "--quiet", "--chunk-items", "4", env={"QDBENCH_KILL_AT": "part-done:2"})
    assert result.returncode < 0
    return out


@pytest.mark.parametrize("damage", ["duplicate-part", "garbage-part", "garbage-plan", "tmp-file"])
def test_damaged_work_is_recovered_by_the_next_run(tmp_path, finished, damage):
    out = _unfinished(tmp_path)
    work = run_dir(out) / ".work"
    parts = sorted(work.glob("part-*.parquet"))
    assert len(parts) == 2
    if damage == "duplicate-part":  # what two writers without a lock left behind
        shutil.copy(parts[0], work / "part-000007.parquet")
    elif damage == "garbage-part":
        parts[1].write_bytes(b"PAR1 not really")
    elif damage == "garbage-plan":
        (work / "plan.json").write_text("{not json")
    else:
        (work / ".part-000002.parquet.abc.tmp").write_bytes(b"half")
    assert run_bbq(out, "--limit", "12", "--chunk-items", "4").returncode == 0
    _, _, items = load_run(run_dir(out))
    reference = pd.read_parquet(run_dir(finished) / "items.parquet")
    pd.testing.assert_frame_equal(items, reference)
    assert not work.exists() and not list(run_dir(out).glob(".*.tmp"))


# 13: leftovers in a finished run


def test_leftover_work_in_a_finished_run_is_removed(out):
    work = run_dir(out) / ".work"
    work.mkdir()
    (work / "part-000000.parquet").write_bytes(b"x")
    (run_dir(out) / ".metrics.json.xyz.tmp").write_text("{")
    result = run_bbq(out, "--limit", "12")
    assert result.returncode == 0, result.stderr
    assert not work.exists() and not list(run_dir(out).glob(".*.tmp"))


def test_leftover_work_held_by_a_live_writer_is_kept(out):
    work = run_dir(out) / ".work"
    work.mkdir()
    with RunStore(run_dir(out)).lock():
        assert run_bbq(out, "--limit", "12").returncode == 0
        assert work.exists()


# 6: integrity


def test_manifest_records_sha256_of_items_and_metrics(out):
    manifest = json.loads((run_dir(out) / "manifest.json").read_text())
    assert set(manifest["integrity"]) == {"items.parquet", "metrics.json"}
    verify_run(run_dir(out))


def _edit_metrics(folder: Path) -> None:
    doc = json.loads((folder / "metrics.json").read_text())
    doc["metrics"]["accuracy"] = 0.999
    (folder / "metrics.json").write_text(json.dumps(doc))


def _edit_items(folder: Path) -> None:
    items = pd.read_parquet(folder / "items.parquet")
    items["pred"] = items["gold"]
    items.to_parquet(folder / "items.parquet", index=False)


def _drop_row(folder: Path) -> None:
    pd.read_parquet(folder / "items.parquet").iloc[1:].to_parquet(folder / "items.parquet", index=False)


def _flip_byte(folder: Path) -> None:
    data = bytearray((folder / "items.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "items.parquet").write_bytes(bytes(data))


@pytest.mark.parametrize("edit, name", [(_edit_metrics, "metrics.json"), (_edit_items, "items.parquet"),
                                        (_drop_row, "items.parquet"), (_flip_byte, "items.parquet")])
def test_edited_run_is_damage_in_show_rerun_and_compare(out, edit, name):
    folder = run_dir(out)
    other = out / "copy" / "bbq"
    shutil.copytree(folder, other)
    edit(folder)
    refused(cli("show", str(folder)), name, "sha256")
    refused(run_bbq(out, "--limit", "12"), name, "sha256")
    refused(cli("compare", str(other), str(folder), "--no-plots", "--resamples", "10", "--out",
                str(out / "cmp")), name, "sha256")
    assert not (out / "cmp").exists()


# 11: damaged files that still parse


def _manifest(folder: Path, change) -> None:
    from bench.data.jsonl import sha256_file

    doc = json.loads((folder / "manifest.json").read_text())
    change(doc)
    doc["integrity"] = {n: sha256_file(folder / n) for n in ("items.parquet", "metrics.json")}  # resealed, so only
    (folder / "manifest.json").write_text(json.dumps(doc))  # the shape checks apply


@pytest.mark.parametrize("change, words", [
    (lambda m: m.update(data={}), ["data"]),
    (lambda m: m.update(model={}), ["model"]),
    (lambda m: m["model"].update(fingerprint="abc"), ["model.fingerprint"]),
])
def test_show_refuses_damaged_manifest(out, change, words):
    _manifest(run_dir(out), change)
    refused(cli("show", str(run_dir(out))), "manifest.json", *words)


@pytest.mark.parametrize("change, words", [
    (lambda m: m["metrics"].update(accuracy="0.5"), ["metric 'accuracy'"]),
    (lambda m: m.update(by_group=[1, 2]), ["by_group"]),
    (lambda m: m.update(by_group={"category": {"Age": {"accuracy": "x"}}}), ["by_group"]),
])
def test_show_refuses_damaged_metrics(out, change, words):
    folder = run_dir(out)
    doc = json.loads((folder / "metrics.json").read_text())
    change(doc)
    (folder / "metrics.json").write_text(json.dumps(doc))
    _manifest(folder, lambda m: None)
    refused(cli("show", str(folder)), "metrics.json", *words)


def test_show_refuses_empty_items(out):
    folder = run_dir(out)
    pd.read_parquet(folder / "items.parquet").iloc[:0].to_parquet(folder / "items.parquet", index=False)
    _manifest(folder, lambda m: None)
    refused(cli("show", str(folder)), "items.parquet", "no items")
