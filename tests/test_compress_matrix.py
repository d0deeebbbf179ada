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
    # each run keeps its model's size, so an equal-memory pairing needs no model folder (bench/compress/size.py)
    sizes = {v: m["model"]["size"] for v, m in manifests.items()}
    assert sizes["base"]["weights_bytes_in_memory"] == sizes["base"]["bytes_on_disk"] > 0
    assert 0 < sizes["rtn-w8a16"]["weights_bytes_in_memory"] < sizes["base"]["weights_bytes_in_memory"]
    assert sizes["rtn-w8a16"]["parameters"] == sizes["base"]["parameters"]
    items = {k: pd.read_parquet(d / "items.parquet") for k, d in runs.items()}
    assert list(items["base"]["item_id"]) == list(items["rtn-w8a16"]["item_id"])
    assert len(items["base"]) == 6


def test_provenance_tells_the_truth_about_a_variant(tmp_path, tiny_model_dir):
    """model.parameters are the model's as defined (a quantized variant has its base's, not its packed integers'),
    the manifest records the qdbench command, and a variant folder run by path is recorded as the variant its
    qdbench_variant.json says it is: the same record, and so the same run key, as the matrix's run of it."""
    from bench.cli.main import main
    from bench.compress.variants import count_parameters
    from tests.conftest import the_run

    matrix = tmp_path / "m.yaml"
    matrix.write_text("name: m\nfamilies: [{base: builtin:tiny-llama, variants: [gptq-w4a16]}]\n"
                      "tasks: [bbq]\nlimit: 4\n")
    argv = ["run", str(matrix), "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(argv) == 0
    runs = {v: json.loads((the_run(tmp_path / "runs" / "tiny-llama" / v / "bbq") / "manifest.json").read_text())
            for v in ("base", "gptq-w4a16")}
    for m in runs.values():
        assert m["model"]["parameters"] == count_parameters(tiny_model_dir) == 2_494_208
        assert m["command"] == ["qdbench", *argv]
    folder = runs["gptq-w4a16"]["model"]["path"]
    assert main(["run", "--model", folder, "--tasks", "bbq", "--limit", "4", "--out", str(tmp_path / "by-path"),
                 "--quiet"]) == 0
    by_path = json.loads((the_run(tmp_path / "by-path") / "manifest.json").read_text())
    assert by_path["variant"] == runs["gptq-w4a16"]["variant"]
    assert by_path["variant"]["family"] == "tiny-llama" and by_path["variant"]["name"] == "gptq-w4a16"
    assert by_path["variant"]["recipe"]["calibration"]["source"] == "builtin"  # as built, `auto` resolved
    assert by_path["run_key"] == runs["gptq-w4a16"]["run_key"]
    assert by_path["model"]["parameters"] == 2_494_208


def test_run_needs_a_matrix_or_model_and_tasks(capsys):
    from bench.cli.main import main

    assert main(["run", "--model", "builtin:tiny-llama"]) == 2
    assert "needs --model and one of --tasks" in capsys.readouterr().err
