"""`qdbench run MATRIX.yaml`: base and variant on identical items, with family and variant in each manifest."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("llmcompressor")


def test_matrix_runs_base_and_variant_on_the_same_items(tmp_path, tiny_model_dir, capsys):
    from bench.cli.main import main
    from bench.compress.recipes import load_recipe

    matrix = tmp_path / "m.yaml"
    matrix.write_text("name: m\nfamilies: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\n"
                      "tasks: [bbq]\nlimit: 6\n")
    assert main(["run", str(matrix), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "rtn-w8a16" in out and "bits/param" in out
    from tests.conftest import the_run

    runs = {v: the_run(tmp_path / "runs" / "tiny-llama" / v / "bbq") for v in ("base", "rtn-w8a16")}
    assert len({d.name for d in runs.values()}) == 1  # one settings hash for the whole family
    manifests = {v: json.loads((d / "manifest.json").read_text()) for v, d in runs.items()}
    assert manifests["base"]["variant"] == {"family": "tiny-llama", "name": "base", "recipe": None,
                                            "recipe_hash": None}
    v = manifests["rtn-w8a16"]["variant"]
    assert (v["family"], v["name"], v["recipe_hash"]) == ("tiny-llama", "rtn-w8a16", load_recipe("rtn-w8a16").hash())
    assert manifests["base"]["model"]["fingerprint"] != manifests["rtn-w8a16"]["model"]["fingerprint"]
    items = {k: pd.read_parquet(d / "items.parquet") for k, d in runs.items()}
    assert list(items["base"]["item_id"]) == list(items["rtn-w8a16"]["item_id"])
    assert len(items["base"]) == 6


def test_run_needs_a_matrix_or_model_and_tasks(capsys):
    from bench.cli.main import main

    assert main(["run", "--model", "builtin:tiny-llama"]) == 2
    assert "needs --model and one of --tasks" in capsys.readouterr().err
