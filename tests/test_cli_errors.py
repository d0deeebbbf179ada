"""Bad input to every subcommand ends in one line `qdbench: error: ...`, exit code 2, and nothing half-written.

Run folders here are tiny synthetic ones written by hand, so no model runs and the file stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.data.jsonl import sha256_file
from bench.store.atomic import staged_dir
from tests.test_cli import cli


def refused(result, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("qdbench: error:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def fake_run(folder: Path, task: str = "bbq") -> Path:
    """A finished run folder with the three files, as `load_run` reads them."""
    folder.mkdir(parents=True)
    manifest = {"task": {"name": task}, "data": {"origin": "sample", "n_items": 2, "n_items_available": 2,
                                                  "files_sha256": {}},
                "model": {"spec": "builtin:tiny-llama", "kind": "builtin", "fingerprint": {"sha256": "0" * 64}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "metrics.json").write_text(json.dumps({"metrics": {"accuracy": 0.5}, "n_items": 2}))
    pd.DataFrame({"item_id": ["a", "b"], "pred": [0, 1], "gold": [0, 0]}).to_parquet(folder / "items.parquet")
    manifest["integrity"] = {n: sha256_file(folder / n) for n in ("items.parquet", "metrics.json")}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a-file.txt"
    path.write_text("not a folder\n")
    return path


def test_fake_run_is_a_run(tmp_path):
    assert cli("show", str(fake_run(tmp_path / "r"))).returncode == 0


@pytest.mark.parametrize("args, words", [
    ((), ["required: COMMAND", "qdbench --help"]),
    (("frobnicate",), ["invalid choice: 'frobnicate'"]),
    (("tasks", "nope"), ["invalid choice: 'nope'", "qdbench tasks --help"]),
    (("data",), ["ACTION"]),
    (("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "abc"), ["--limit", "'abc'"]),
    (("compare", "x", "y", "--correction", "xx"), ["--correction", "holm"]),
])
def test_wrong_option_is_one_line(args, words):
    refused(cli(*args), *words)


@pytest.mark.parametrize("flag, value", [("--resamples", "0"), ("--alpha", "1.0"), ("--power", "0.0")])
def test_statistical_flags_are_checked_before_any_run_is_read(tmp_path, flag, value):
    out = tmp_path / "out"
    for command in (["compare", str(tmp_path / "a"), str(tmp_path / "b")],
                    ["findings", "--family", "f", "--runs", str(tmp_path / "runs")]):
        refused(cli(*command, "--out", str(out), flag, value), flag, f"(got {value})")
    assert not out.exists()


@pytest.mark.parametrize("device, words", [("tpu", ["--device 'tpu'", "cuda:N"]), ("cuda:99", ["--device cuda:99"])])
def test_bad_device_is_refused_before_work(tmp_path, device, words):
    out = tmp_path / "runs"
    refused(cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--out", str(out), "--device", device),
            *words)
    refused(cli("cka", "builtin:tiny-llama", "builtin:tiny-llama", "--task", "bbq", "--out", str(out),
                "--device", device), *words)
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--out"],
    ["demo", "--out"],
    ["cka", "builtin:tiny-llama", "builtin:tiny-llama", "--task", "bbq", "--out"],
    ["compress", "--model", "builtin:tiny-llama", "--recipe", "rtn-w8a16", "--out"],
    ["distill", "--teacher", "builtin:tiny-llama", "--student", "builtin:tiny-llama-small", "--corpus", "synthetic",
     "--out"],
])
def test_out_that_is_a_file(a_file, command):
    refused(cli(*command, str(a_file)), "--out", str(a_file), "not a file")
    refused(cli(*command, str(a_file / "sub")), f"{a_file} is a file")
    assert a_file.read_text() == "not a folder\n"


def test_compare_out_that_is_a_file(tmp_path, a_file):
    base, variant = fake_run(tmp_path / "base"), fake_run(tmp_path / "variant")
    refused(cli("compare", str(base), str(variant), "--out", str(a_file), "--no-plots"), "--out", "not a file")


def damage_items(run: Path) -> None:
    (run / "items.parquet").write_text("garbage")


def damage_manifest(run: Path) -> None:
    (run / "manifest.json").write_text("{not json")


def manifest_not_object(run: Path) -> None:
    (run / "manifest.json").write_text("[1, 2]")


def manifest_without_task(run: Path) -> None:
    (run / "manifest.json").write_text(json.dumps({"model": {}, "data": {}}))


def empty_metrics(run: Path) -> None:
    (run / "metrics.json").write_text("")


def no_items(run: Path) -> None:
    (run / "items.parquet").unlink()


@pytest.mark.parametrize("damage, words", [
    (damage_items, ["items.parquet", "damaged"]),  # its sha256 no longer matches the manifest's `integrity`
    (damage_manifest, ["manifest.json", "cannot read", "damaged"]),
    (manifest_not_object, ["manifest.json", "expected a JSON object"]),
    (manifest_without_task, ["manifest.json", "field 'task'"]),
    (empty_metrics, ["metrics.json", "damaged"]),
    (no_items, ["items.parquet", "missing"]),
])
def test_damaged_run_folder(tmp_path, damage, words):
    good, bad = fake_run(tmp_path / "good"), fake_run(tmp_path / "runs" / "bad")
    damage(bad)
    out = tmp_path / "cmp"
    refused(cli("show", str(bad)), *words)
    refused(cli("show", str(tmp_path / "runs")), *words)
    refused(cli("compare", str(good), str(bad), "--out", str(out)), *words)
    refused(cli("nli-gap", str(bad), str(good)), *words)
    assert not out.exists()


def test_unfinished_and_wrong_task_runs(tmp_path):
    unfinished = tmp_path / "unfinished"
    (unfinished / ".work").mkdir(parents=True)
    bbq, stereoset = fake_run(tmp_path / "bbq"), fake_run(tmp_path / "stereoset", task="stereoset")
    refused(cli("show", str(unfinished)), "unfinished run", "resume")
    refused(cli("compare", str(bbq), str(stereoset), "--out", str(tmp_path / "cmp")), "cannot pair", "task differ")
    refused(cli("nli-gap", str(bbq), str(stereoset)), "task 'bbq'", "expected 'mnli'")
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize("kind, args", [
    ("matrix", ["run", "{f}"]),
    ("suite", ["run", "--model", "builtin:tiny-llama", "--suite", "{f}"]),
    ("variant recipe", ["compress", "--model", "builtin:tiny-llama", "--recipe", "{f}"]),
    ("distill config", ["distill", "--config", "{f}"]),
])
def test_malformed_yaml_is_one_line(tmp_path, kind, args):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    out = tmp_path / "out"
    refused(cli(*[a.replace("{f}", str(bad)) for a in args], "--out", str(out)),
            f"{kind} file", "not valid YAML", "line 2")
    assert not out.exists()


@pytest.mark.parametrize("args", [["run", "{f}"], ["distill", "--config", "{f}"]])
def test_binary_yaml_is_refused(tmp_path, args):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00bad")
    refused(cli(*[a.replace("{f}", str(bad)) for a in args], "--out", str(tmp_path / "out")), "UTF-8")


def test_matrix_names_the_bad_distilled_variant(tmp_path):
    matrix = tmp_path / "m.yaml"
    matrix.write_text("families:\n  - base: builtin:tiny-llama\n    variants:\n      - name: hot\n"
                      "        distill: {student: builtin:tiny-llama-small, corpus: [synthetic], temperature: -1}\n"
                      "tasks: [bbq]\n")
    refused(cli("run", str(matrix), "--out", str(tmp_path / "out")), "matrix 'm'", "variant 'hot'", "temperature")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("config, words", [("{not json", ["config.json is not valid JSON"]),
                                           ("[1]", ["config.json is not a JSON object"])])
def test_model_folder_with_bad_config(tmp_path, config, words):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(config)
    out = tmp_path / "variants"
    refused(cli("compress", "--model", str(model), "--recipe", "rtn-w8a16", "--out", str(out)), str(model), *words)
    refused(cli("run", "--model", str(model), "--tasks", "bbq", "--out", str(out)), *words)
    assert not out.exists()


def test_failed_staged_folder_leaves_no_parents(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "kept" / "made" / "deeper" / "final") as tmp:
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("build failed")
    assert list(tmp_path.rglob("*")) == [tmp_path / "kept"]
    with staged_dir(tmp_path / "kept" / "made" / "final") as tmp:
        (tmp / "whole.bin").write_bytes(b"x")
    assert (tmp_path / "kept" / "made" / "final" / "whole.bin").is_file()
