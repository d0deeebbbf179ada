"""compare --cka: layer pairs from a student's teacher_layers, the biased/rest split by each model's answers,
and the whole analysis on tiny models (identical models give 1 everywhere; a depth-pruned student is paired
with the teacher layers it was copied from), in compare.json and as a figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli.main import main
from bench.compare.cka import layer_pairs, student_layers
from bench.tasks import bbq as bbq_hooks
from bench.tasks import hans as hans_hooks
from tests.conftest import noisy_copy


def test_layer_pairs_follow_teacher_layers_else_depth():
    assert layer_pairs(30, 15, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28])[0][:3] == [(0, 0), (1, 1),
                                                                                                     (3, 2)]
    pairs, how = layer_pairs(4, 2, [1, 3])
    assert (pairs, how) == ([(0, 0), (2, 1), (4, 2)], "teacher_layers")
    assert layer_pairs(4, 4) == ([(i, i) for i in range(5)], "same depth")
    assert layer_pairs(4, 2) == ([(0, 0), (2, 1), (4, 2)], "relative depth")
    assert layer_pairs(4, 2, [1, 2, 3])[1] == "relative depth"  # a map that does not fit the student is not used


def test_student_layers_only_for_a_student_of_this_base(tmp_path):
    prov = {"kind": "distilled", "student_init": "teacher_layers", "teacher_layers": [0, 2], "chain": [],
            "teacher": {"fingerprint": "abc"}}
    assert student_layers(prov, "abc") == [0, 2]
    assert student_layers(prov, "other") is None
    assert student_layers({**prov, "chain": [{"stage": 0}]}, "abc") is None
    assert student_layers({**prov, "student_init": "random"}, "abc") is None
    (tmp_path / "qdbench_variant.json").write_text(json.dumps(prov))
    quantized = {"recipe": {"method": "rtn"}, "base": {"path": str(tmp_path)}}
    assert student_layers(quantized, "abc") == [0, 2]


def test_biased_answers_by_hand():
    items = pd.DataFrame({"context_condition": ["ambig", "ambig", "ambig", "disambig"], "biased_index": [0, 1, -1, 0],
                          "pred": [0, 2, 0, 0]})
    eligible, biased = bbq_hooks.biased_answers(items)
    assert eligible.tolist() == [True, True, False, False] and biased.tolist() == [True, False, False, False]
    nli = pd.DataFrame({"gold": [0, 1, 1, 1], "pred": [0, 0, 1, 2]})
    eligible, biased = hans_hooks.biased_answers(nli)
    assert eligible.tolist() == [False, True, True, True] and biased.tolist() == [False, True, False, False]


@pytest.fixture(scope="module")
def family(tmp_path_factory, tiny_model_dir) -> Path:
    root = tmp_path_factory.mktemp("mech")
    noisy = noisy_copy(tiny_model_dir, root / "noisy", 0.3, seed=1)
    (root / "noisy.yaml").write_text(f"name: noisy\nmethod: prequantized\nmodel: {noisy}\n")
    corpus = root / "train.txt"
    corpus.write_text("".join(f"The nurse number {i} greeted the pilot.\n" for i in range(50)))
    (root / "m.yaml").write_text(
        "name: mech\nfamilies:\n  - base: builtin:tiny-llama\n    name: tiny\n    variants:\n"
        f"      - {root / 'noisy.yaml'}\n"
        f"      - {{name: pruned, distill: {{student: teacher, student_init: teacher_layers, teacher_layers: [1, 3], "
        f"corpus: ['{corpus}'], steps: 3, batch_size: 2, seq_len: 16, seed: 0}}}}\n"
        "tasks: {bbq: {limit: 64}, hans: {limit: 90}}\nsample_data: true\n")
    assert main(["run", str(root / "m.yaml"), "--out", str(root / "runs"), "--quiet"]) == 0
    return root


def test_compare_cka_on_tiny_models(family, capsys):
    out = family / "cmp"
    assert main(["compare", "--family", "tiny", "--runs", str(family / "runs"), "--cka", "--cka-items", "40",
                 "--out", str(out), "--resamples", "50"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "compare.json").read_text())
    by = {(d["task"], d["variant"]["label"]): d for d in doc["mechanism"]}
    assert set(by) == {("bbq", "noisy"), ("bbq", "pruned"), ("hans", "noisy"), ("hans", "pruned")}
    pruned = by[("hans", "pruned")]
    assert pruned["layer_mapping"] == "teacher_layers"
    assert [(r["base_layer"], r["variant_layer"]) for r in pruned["layers"]] == [(0, 0), (2, 1), (4, 2)]
    noisy = by[("hans", "noisy")]
    assert noisy["layer_mapping"] == "same depth" and len(noisy["layers"]) == 5
    for d in by.values():
        assert 10 <= d["n_items"] <= 40
        assert d["subsets"]["biased_by_variant"] + d["subsets"]["rest_by_variant"] == d["n_items"]
        assert d["subsets"]["biased_by_base"] + d["subsets"]["rest_by_base"] == d["n_items"]
        assert all(0 <= r["cka"]["all"] <= 1 for r in d["layers"])
    assert pruned["layers"][0]["cka"]["all"] > 0.9  # the student's embeddings start as the teacher's
    items = pd.read_parquet(next((family / "runs" / "tiny" / "base" / "bbq").rglob("items.parquet")))
    assert by[("bbq", "noisy")]["n_items"] == min(40, int(bbq_hooks.biased_answers(items)[0].sum()))
    assert Path(pruned["plots"][0]).name == "hans__cka.png" and Path(pruned["plots"][0]).is_file()
    assert "CKA · hans · pruned" in printed


def test_identical_models_give_one_on_every_subset(family):
    from bench.compare import mechanism, pairing
    from bench.tasks.registry import get_task

    base = next(p.parent for p in (family / "runs" / "tiny" / "base" / "hans").rglob("manifest.json"))
    run = pairing.load(base)
    [doc] = mechanism.analyse([pairing.pair(run, run)], limit=45)
    assert doc["layer_mapping"] == "same depth" and doc["n_items"] == 45
    eligible = (run.items["gold"] == 1).sum()
    assert eligible >= 45 and get_task("hans").name == doc["task"]
    for row in doc["layers"]:
        for name, value in row["cka"].items():
            n = doc["subsets"][name]
            assert (value is None) == (n < 10) or value == pytest.approx(1.0, abs=1e-6)
    assert doc["biased_minus_rest"]["variant"] in (None, pytest.approx(0.0, abs=1e-6))
    assert np.isclose(doc["mean_cka"]["all"], 1.0)


def test_cka_refuses_missing_models_before_any_work(tmp_path, capsys):
    from tests.test_compare import synthetic, write_run

    df = synthetic(n_per_cat=10)
    b = write_run(tmp_path / "b", df, model={"path": str(tmp_path / "gone-base"), "spec": str(tmp_path / "gone-base")},
                  data={"path": str(tmp_path)})
    v = write_run(tmp_path / "v", df, model={"path": str(tmp_path / "gone"), "spec": str(tmp_path / "gone")},
                  variant={"family": "f", "name": "v"}, data={"path": str(tmp_path)})
    out = tmp_path / "out"
    assert main(["compare", str(b), str(v), "--cka", "--out", str(out)]) == 2
    assert "gone-base is not here" in capsys.readouterr().err and not out.exists()
    assert main(["compare", str(b), str(v), "--cka", "--cka-items", "3", "--out", str(out)]) == 2
    assert "--cka-items" in capsys.readouterr().err


def test_a_quantized_student_is_quantized_from_float32(tmp_path):
    from bench.errors import UserError
    from bench.exec.plan import QuantizedStudent, load_matrix, plan

    m = tmp_path / "m.yaml"
    student = "{student: builtin:tiny-llama-small, corpus: synthetic:10, steps: 1"
    m.write_text(f"name: q\nfamilies:\n  - base: builtin:tiny-llama\n    variants:\n"
                 f"      - {{name: kq, distill: {student}}}, quantize: rtn-w4a16}}\ntasks: [bbq]\n")
    runs = plan(load_matrix(m))
    recipe = next(r.recipe for r in runs if r.variant == "kq")
    assert isinstance(recipe, QuantizedStudent) and recipe.recipe.method == "rtn"
    assert recipe.describe()["method"] == "distill+rtn"
    m.write_text(f"name: q\nfamilies:\n  - base: builtin:tiny-llama\n    variants:\n"
                 f"      - {{name: kq, distill: {student}, save_dtype: bfloat16}}, quantize: rtn-w4a16}}\n"
                 "tasks: [bbq]\n")
    with pytest.raises(UserError, match="float32"):
        plan(load_matrix(m))
