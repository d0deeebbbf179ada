"""Untrusted model folders: pickle-only weights load only when the user opts in (with a warning), a weight file
symlinked out of the folder is refused while a Hugging Face cache snapshot's links into its blobs/ are not, and
`auto_map` code never runs without --trust-remote-code (see test_reliability_inputs for the refusals)."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from reliability.harness import record


def _pickle_copy(tiny, dst):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    dst.mkdir()
    model.config.save_pretrained(dst)
    torch.save(model.state_dict(), dst / "pytorch_model.bin")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(tiny / name, dst / name)
    assert (dst / "pytorch_model.bin").is_file() and not list(dst.glob("*.safetensors"))
    return dst


def test_pickle_weights_load_only_with_allow_pickle_and_a_warning(tmp_path, tiny_model_dir, capsys):
    from bench.cli.main import main

    folder = _pickle_copy(tiny_model_dir, tmp_path / "pickled")
    argv = ["run", "--model", str(folder), "--tasks", "bbq", "--limit", "3", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    assert "only pickle weights (pytorch_model.bin)" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    assert main([*argv, "--out", str(tmp_path / "runs"), "--allow-pickle"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "--allow-pickle" in err and "can run code" in err
    assert main(["run", "--model", str(tiny_model_dir), "--tasks", "bbq", "--limit", "3", "--quiet",
                 "--out", str(tmp_path / "safe")]) == 0
    pickled = pd.read_parquet(next((tmp_path / "runs").rglob("items.parquet")))
    safe = pd.read_parquet(next((tmp_path / "safe").rglob("items.parquet")))
    pd.testing.assert_frame_equal(pickled, safe)  # the same weights, item for item
    record("untrusted model", "pickle-only weights: refused; --allow-pickle loads them with a warning", True)


def test_symlinks_inside_a_hub_cache_snapshot_are_accepted(tmp_path, tiny_model_dir):
    from bench.models.loading import resolve

    repo = tmp_path / "models--org--tiny"
    blobs, snap = repo / "blobs", repo / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    for p in tiny_model_dir.iterdir():
        shutil.copy2(p, blobs / p.name)
        os.symlink(os.path.relpath(blobs / p.name, snap), snap / p.name)
    assert resolve(str(snap)).path == str(snap.resolve())
    outside = tmp_path / "elsewhere"  # the same blobs linked from a folder that is no cache snapshot
    outside.mkdir()
    for p in blobs.iterdir():
        os.symlink(p, outside / p.name)
    with pytest.raises(Exception, match="outside the model folder"):
        resolve(str(outside))
    record("untrusted model", "weight file symlinked out of the folder: refused (hub-cache blobs allowed)", True)
