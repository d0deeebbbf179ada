"""The run store under attack: two writers at once (same task, different tasks, the same `compress` twice),
hand-edited or corrupted run files, and a broken variant whose log-likelihoods are NaN.

The run lock, the integrity hashes and the non-finite checks they exercise are issue 16's.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from reliability.harness import fork_cli, record, wait_child

RUN = ["run", "--model", "builtin:tiny-llama", "--limit", "24", "--chunk-items", "4", "--quiet"]


def _together(tmp_path, *argvs: list[str]) -> list[tuple[int, str]]:
    """Start every command at once (forked children), then wait for all: (exit code, stderr) each."""
    pids = [fork_cli([str(a) for a in argv], {}, tmp_path / f"together-{i}.log", wait=False)
            for i, argv in enumerate(argvs)]
    return [(wait_child(pid), (tmp_path / f"together-{i}.err").read_text()) for i, pid in enumerate(pids)]


def _items(folder) -> pd.DataFrame:
    """The items of the one finished run below `folder` (a run folder, or the task folder above its key)."""
    (path,) = folder.rglob("items.parquet")
    return pd.read_parquet(path)


def test_two_runs_of_the_same_task_into_one_folder(tmp_path, tiny_model_dir, child):
    out = tmp_path / "runs"
    results = _together(tmp_path, [*RUN, "--tasks", "bbq", "--out", out], [*RUN, "--tasks", "bbq", "--out", out])
    codes = sorted(rc for rc, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for rc, err in results:
        if rc == 2:
            assert "another qdbench process" in err and len(err.strip().splitlines()) == 1, err
    items = _items(out / "tiny-llama" / "bbq")
    assert len(items) == 24 and items["item_id"].is_unique
    rc, _, err = child([*RUN, "--tasks", "bbq", "--out", out])
    assert rc == 0, err
    record("concurrent writers", f"same task, same folder: exits {codes}, 24 items once", True)


def test_two_runs_of_different_tasks_into_one_store(tmp_path, tiny_model_dir):
    out = tmp_path / "runs"
    results = _together(tmp_path, [*RUN, "--tasks", "bbq", "--out", out],
                        [*RUN, "--tasks", "crows_pairs", "--out", out])
    assert [rc for rc, _ in results] == [0, 0], results
    for task in ("bbq", "crows_pairs"):
        items = _items(out / "tiny-llama" / task)
        assert len(items) == items["item_id"].nunique() > 0
    record("concurrent writers", "different tasks, same store: both complete", True)


def test_the_same_compress_twice_at_once(tmp_path, tiny_model_dir, child):
    from safetensors.torch import load_file

    argv = ["compress", "--model", "builtin:tiny-llama", "--recipe", "rtn-w8a16", "--out", tmp_path / "variants"]
    results = _together(tmp_path, argv, argv)
    codes = sorted(rc for rc, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    folders = [p for p in (tmp_path / "variants").rglob("qdbench_variant.json") if ".tmp" not in str(p)]
    assert len(folders) == 1, folders
    rc, out, err = child(argv)  # the cached variant is whole: it is reused and loads
    assert rc == 0, err
    weights = load_file(folders[0].parent / "model.safetensors")
    assert weights and all(t.numel() for t in weights.values())
    record("concurrent writers", f"the same compress twice: exits {codes}, one whole variant", True)


@pytest.fixture
def finished(tmp_path, tiny_model_dir):
    from bench.cli.main import main

    out = tmp_path / "runs"
    assert main([*RUN, "--tasks", "bbq", "--limit", "8", "--out", str(out)]) == 0
    (manifest,) = (out / "tiny-llama" / "bbq").rglob("manifest.json")
    return out, manifest.parent


def _edit_metrics(run):
    m = json.loads((run / "metrics.json").read_text())
    m["metrics"]["accuracy"] = 0.999
    (run / "metrics.json").write_text(json.dumps(m))


def _drop_a_row(run):
    items = _items(run)
    items.iloc[1:].to_parquet(run / "items.parquet", index=False)


def _flip_a_byte(run):
    data = bytearray((run / "items.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (run / "items.parquet").write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_edit_metrics, _drop_a_row, _flip_a_byte], ids=["edited metrics",
                                                                                     "a deleted row", "a flipped byte"])
def test_damaged_run_files_are_reported_by_show_compare_and_a_rerun(finished, damage, tmp_path, capsys):
    from bench.cli.main import main

    out, run = finished
    good = tmp_path / "good"
    shutil.copytree(run, good)
    damage(run)
    name = "metrics.json" if damage is _edit_metrics else "items.parquet"
    for argv in (["show", str(run)], ["compare", str(good), str(run)],
                 [*RUN, "--tasks", "bbq", "--limit", "8", "--out", str(out)]):
        rc = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and name in err[0], (argv, err)
    record("corrupted run files", f"{damage.__name__.strip('_')}: show, compare and a re-run exit 2 naming {name}",
           True)


def test_a_variant_with_a_nan_weight_is_reported_not_scored(tmp_path, tiny_model_dir, capsys):
    import torch
    from safetensors.torch import load_file, save_file

    from bench.cli.main import main

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    weights = load_file(broken / "model.safetensors")
    name = next(k for k in weights if k.endswith("norm.weight"))
    weights[name][0] = float("nan")
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    rc = main(["run", "--model", str(broken), "--tasks", "bbq", "--limit", "8", "--quiet", "--out",
               str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 2 and "non-finite" in err and "8 of 8" in err, err
    assert not list((tmp_path / "runs").rglob("metrics.json"))
    assert torch.isnan(weights[name]).any()
    record("NaN variant", "one NaN weight: run exits 2 naming 8 of 8 non-finite items, no metrics written", True)
