"""Variant against variant at equal memory: the pairing by weight bytes and --pair, the direct and closeness
statistics against hand computations, a planted difference found and a null copy left alone, the long table and
the CLI on synthetic runs, and a real tiny family with a bf16 student and a quantized student."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli.main import main
from bench.compare import equal_memory, report, table
from bench.compare.equal_memory import Member
from bench.compare.pairing import Run, Triple
from bench.compare.versus import compare_variants
from bench.errors import UserError
from bench.tasks.registry import get_task
from tests.test_compare import write_run

CFG = report.settings(n_resamples=2000, seed=0, correction="holm")


def crows(prefers, types) -> pd.DataFrame:
    ll = [[-1.0, -2.0] if p else [-2.0, -1.0] for p in prefers]
    return pd.DataFrame({"item_id": [str(i) for i in range(len(prefers))], "bias_type": list(types),
                         "stereo_antistereo": "stereo", "ll": ll, "n_tokens": [[3, 3]] * len(prefers)})


def run_of(items: pd.DataFrame, label: str) -> Run:
    manifest = {"task": {"name": "crows_pairs"}, "model": {"spec": label, "fingerprint": {"sha256": label}},
                "variant": {"family": "f", "name": label}}
    return Run(Path(f"/runs/{label}"), manifest, {"by_group": {"bias_type": {}}}, items)


def trip(base, a, b) -> Triple:
    return Triple(run_of(base, "base"), run_of(a, "a"), run_of(b, "b"), base, a, b)


def named(c: dict, name: str) -> dict:
    return next(m for m in c["metrics"] if m["name"] == name)


# -- the statistics, by hand -----------------------------------------------------------------------------------


def test_direct_and_closeness_equal_a_hand_computed_case():
    """Base prefers the stereotype on 10 pairs; A stops on pairs 0-2, B on 0-5. Direct: B − A = 40 − 70 = −30
    points, McNemar on 3 discordant pairs all one way: p = 2·0.5³ = 0.25. Closeness: |Δ_A| = 30, |Δ_B| = 60,
    |Δ_B| − |Δ_A| = +30 (A closer); swapping A and B on k of pairs 3-5 gives 10·(3 − 2k), so the exact
    permutation p is P(k ∈ {0, 3}) = 2/8 = 0.25."""
    types = ["race"] * 10
    base = crows([True] * 10, types)
    a = crows([False] * 3 + [True] * 7, types)
    b = crows([False] * 6 + [True] * 4, types)
    c = compare_variants(trip(base, a, b), CFG)
    m = named(c, "pct_stereotype")
    d, k = m["direct"]["overall"], m["closeness"]["overall"]
    assert (d["base"], d["variant"], d["delta"]) == (70.0, 40.0, -30.0)
    assert d["discordant"] == {"base_only": 3, "variant_only": 0, "eligible": 10}
    assert d["p_value"] == pytest.approx(0.25) and m["test"] == "mcnemar_exact"
    assert (k["base"], k["variant"], k["delta"]) == (30.0, 60.0, 30.0)
    exact = np.mean([abs(10 * (3 - 2 * sum(s))) >= 30 for s in itertools.product([0, 1], repeat=3)])
    assert exact == 0.25 and k["p_value"] == pytest.approx(exact, abs=0.03)
    assert k["closer"] is None and m["closeness"]["test"] == "paired_permutation"
    assert c["flips"] is None  # CrowS-Pairs records carry no answer column to flip


def test_closeness_interval_is_the_joint_bootstrap_of_the_three_runs():
    """The interval resamples base, A and B with the same item weights: recomputed here from the weights."""
    from bench.metrics import declare
    from bench.stats.resample import bootstrap_weights

    rng = np.random.default_rng(3)
    n = 40
    types = ["race"] * n
    base = crows(rng.random(n) < 0.6, types)
    a = crows(rng.random(n) < 0.6, types)
    b = crows(rng.random(n) < 0.6, types)
    cfg = report.settings(n_resamples=500, seed=5, correction="holm")
    k = named(compare_variants(trip(base, a, b), cfg), "pct_stereotype")["closeness"]["overall"]
    metric = next(m for m in get_task("crows_pairs").declared_metrics if m.name == "pct_stereotype")
    w = bootstrap_weights(np.random.default_rng(5), 500, np.arange(n), n, None)
    val = {x: declare.evaluate(metric, declare.stats(metric, f), w) for x, f in (("b", base), ("a", a), ("v", b))}
    draws = np.abs(val["v"] - val["b"]) - np.abs(val["a"] - val["b"])
    lo, hi = np.quantile(draws, [0.025, 0.975])
    assert (k["ci_low"], k["ci_high"]) == pytest.approx((lo, hi))


def test_closeness_finds_a_planted_difference_and_not_a_null_copy():
    rng = np.random.default_rng(0)
    n = 300
    types = np.where(np.arange(n) < 150, "race", "gender")
    base_pref = rng.random(n) < 0.6

    def flipped(share, only=None, seed=0):
        r = np.random.default_rng(seed)
        pick = (r.random(n) < share) & (types == only if only else True) & base_pref
        return crows(base_pref & ~pick, types)

    base = crows(base_pref, types)
    a = flipped(0.05, seed=1)
    b = flipped(0.6, only="race", seed=2)  # B drifts from the base on race pairs only
    m = named(compare_variants(trip(base, a, b), CFG), "pct_stereotype")
    k = m["closeness"]
    assert k["overall"]["significant"] and k["overall"]["delta"] > 0 and k["overall"]["closer"] == "a"
    assert k["by_group"]["bias_type"]["race"]["closer"] == "a"
    assert not k["by_group"]["bias_type"]["gender"]["significant"]
    assert m["direct"]["overall"]["significant"] and m["direct"]["overall"]["delta"] < 0
    same = named(compare_variants(trip(base, a, a.copy()), CFG), "pct_stereotype")
    assert same["closeness"]["overall"]["delta"] == 0 and same["closeness"]["overall"]["p_value"] == 1.0
    assert same["direct"]["overall"]["p_value"] == 1.0 and same["closeness"]["overall"]["closer"] is None


def test_closeness_keeps_its_level_when_a_and_b_are_exchangeable():
    """A and B drawn the same way from the base (each pair's preference redrawn with probability 0.3): the
    permutation test rejects at about alpha."""
    cfg = report.settings(n_resamples=200, seed=0, correction="holm")
    n, sims, rejected = 60, 150, 0
    types = ["race"] * n
    def draw(rng, base_pref):
        redo = rng.random(n) < 0.3
        return crows(np.where(redo, rng.random(n) < 0.6, base_pref), types)

    for s in range(sims):
        rng = np.random.default_rng(100 + s)
        base_pref = rng.random(n) < 0.6
        a, b = draw(rng, base_pref), draw(rng, base_pref)
        k = named(compare_variants(trip(crows(base_pref, types), a, b), cfg), "pct_stereotype")["closeness"]["overall"]
        rejected += k["significant"]
    assert rejected / sims <= 0.1


def test_closeness_of_a_bootstrap_metric_uses_the_recentred_bootstrap():
    """A `statistic` metric (no sums to swap, as HolisticBias's) once crashed the closeness test: it takes the
    recentred bootstrap p of the same joint draws, recomputed here from the weights; a null copy gives p = 1."""
    from bench.compare.versus import closeness_row
    from bench.metrics.declare import Metric
    from bench.stats.resample import bootstrap_weights, recentred_p

    def mean_x(records):
        x = records["x"].to_numpy(float)
        return lambda w: (w @ x) / w.sum(axis=1)
    metric = Metric("mean_x", columns=lambda r: {"n": np.ones(len(r))}, statistic=mean_x, test="bootstrap")
    rng = np.random.default_rng(7)
    n = 80
    base = pd.DataFrame({"x": rng.normal(0, 1, n)})
    a = pd.DataFrame({"x": base["x"] + rng.normal(0.05, 0.2, n)})
    b = pd.DataFrame({"x": base["x"] + rng.normal(0.6, 0.2, n)})
    cfg = report.settings(n_resamples=400, seed=2, correction="holm")
    row = closeness_row(metric, base, a, b, cfg)
    w = bootstrap_weights(np.random.default_rng(2), 400, np.arange(n), n, None)
    val = {k: mean_x(f)(w) for k, f in (("base", base), ("a", a), ("b", b))}
    draws = np.abs(val["b"] - val["base"]) - np.abs(val["a"] - val["base"])
    assert row["delta"] == pytest.approx(abs(b.x.mean() - base.x.mean()) - abs(a.x.mean() - base.x.mean()))
    assert row["p_value"] == pytest.approx(recentred_p(draws, row["delta"]))
    assert row["significant"] and row["closer"] == "a"
    assert closeness_row(metric, base, a, a.copy(), cfg)["p_value"] == 1.0


# -- the pairing ------------------------------------------------------------------------------------------------


def members() -> list[Member]:
    mb = 1_000_000
    return [Member("base", "base", "base", 540 * mb, None), Member("kd-t2", "student", "distilled", 165 * mb, None),
            Member("nds", "student", "nds", 100 * mb, None), Member("gptq-w4a16", "quantized", "gptq", 172 * mb, None),
            Member("rtn-w3a16", "quantized", "rtn", 130 * mb, None),
            Member("gptq-w8a16", "quantized", "gptq", 300 * mb, None),
            Member("twin", "quantized", "rtn", 70 * mb, None)]


def test_each_student_gets_the_quantized_variant_nearest_in_weight_bytes():
    pairs = equal_memory.nearest_pairs(members())
    # nds (100 MB) is 30 MB from both rtn-w3a16 and twin: a tie goes to the smaller, which gets no memory advantage
    assert [(a, b) for a, b, _ in pairs] == [("kd-t2", "gptq-w4a16"), ("nds", "twin")]
    assert pairs[0][2] == "nearest in weight bytes"
    with pytest.raises(UserError, match="no distilled students"):
        equal_memory.nearest_pairs([m for m in members() if m.role != "student"])
    with pytest.raises(UserError, match="weight bytes of student 'x'"):
        equal_memory.nearest_pairs(members() + [Member("x", "student", "distilled", None, "/gone")])


def test_pair_flag_is_honoured_and_checked():
    assert equal_memory.named_pairs(["kd-t2:gptq-w8a16"], members()) == [("kd-t2", "gptq-w8a16",
                                                                             "named with --pair")]
    for bad, match in (("kd-t2", "VARIANT_A:VARIANT_B"), ("kd-t2:nope", "no variant 'nope'"),
                       ("kd-t2:kd-t2", "itself"), ("base:kd-t2", "no variant 'base'")):
        with pytest.raises(UserError, match=match):
            equal_memory.named_pairs([bad], members())


def test_roles_and_bytes_come_from_the_variant_folders(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "qdbench_variant.json").write_text(json.dumps({"kind": "distilled", "weights_bytes_in_memory": 123}))
    run = Run(tmp_path, {"variant": {"name": "s", "recipe": {"method": "something"}},
                         "model": {"path": str(folder), "spec": str(folder)}}, {}, pd.DataFrame())
    assert equal_memory.member(run) == Member("s", "student", "distilled", 123, str(folder))
    quant = tmp_path / "q"
    quant.mkdir()
    (quant / "qdbench_variant.json").write_text(json.dumps({"recipe": {"method": "gptq"}, "base": {"path": str(folder)},
                                                            "weights_bytes_in_memory": 60}))
    run = Run(tmp_path, {"variant": {"name": "sq", "recipe": {"method": "gptq"}}, "model": {"path": str(quant)}}, {},
              pd.DataFrame())
    assert equal_memory.member(run) == Member("sq", "student", "distilled+gptq", 60, str(quant))  # a quantized student
    (quant / "qdbench_variant.json").write_text(json.dumps({"recipe": {"method": "gptq"}, "base": {"path": "/x"},
                                                            "weights_bytes_in_memory": 60}))
    assert equal_memory.member(run).role == "quantized"


def test_bytes_where_the_model_folder_is_gone_come_from_the_run_then_the_submission(tmp_path):
    """Runs copied from another machine or read from a submission: the size the run recorded when it ran
    (model.size), else the size the caller knows (an accepted submission's), else unknown."""
    gone = str(tmp_path / "gone")
    manifest = {"variant": {"name": "kd", "recipe": {"method": "distill"}}, "model": {"path": gone}}
    run = Run(tmp_path, manifest, {}, pd.DataFrame())
    assert equal_memory.member(run) == Member("kd", "student", "distill", None, gone)
    assert equal_memory.member(run, 150).weight_bytes == 150
    manifest["model"]["size"] = {"bytes_on_disk": 170, "weights_bytes_in_memory": 160, "parameters": 80}
    assert equal_memory.member(run, 150).weight_bytes == 160
    from bench.compress.size import of_run

    size = of_run(manifest["model"])
    assert (size.weights_in_memory, size.bytes_on_disk, size.bits_per_param) == (160, 170, 16.0)
    assert "manifest" in size.source
    assert of_run({"path": gone}).weights_in_memory is None
    for bad in ("160", True, -5, 1.5, None):  # a manifest that came with a submission is untrusted
        assert of_run({"path": gone, "size": {"weights_bytes_in_memory": bad}}).weights_in_memory is None
    assert of_run({"path": gone, "size": "big"}).weights_in_memory is None


# -- CLI on synthetic runs: compare.json, the long table, the verdict -------------------------------------------


def _folder(root: Path, name: str, record: dict) -> Path:
    f = root / "models" / name
    f.mkdir(parents=True)
    (f / "qdbench_variant.json").write_text(json.dumps(record))
    return f


def test_cli_equal_memory_writes_pairs_rows_and_verdicts(tmp_path, capsys):
    from tests.test_compare import synthetic

    def unknown(df: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
        """A share of the answers turned into 'unknown' (option 2): accuracy moves."""
        out = df.copy()
        out.loc[np.random.default_rng(seed).random(len(df)) < share, "pred"] = 2
        out["pred_norm"] = out["pred"]
        return out

    runs = tmp_path / "runs"
    base = synthetic(n_per_cat=60)
    from bench.compress.distill.proof import summarize

    scores = {"kl": [2.0, 3.0, 1.0], "nll": [8.0, 9.0, 7.0], "teacher_nll": [6.0, 6.0, 6.0], "tokens": [4, 5, 3]}
    proof = {"teacher_written": {"documents_sha256": "d", **summarize(scores), "per_document": scores}}
    models = {"base": ({}, base), "kd": ({"kind": "distilled", "weights_bytes_in_memory": 165_000_000,
                                          "proof": proof, "control_key": None}, unknown(base, 0.05, 1)),
              "gptq": ({"recipe": {"method": "gptq"}, "weights_bytes_in_memory": 172_000_000}, unknown(base, 0.6, 2)),
              "rtn8": ({"recipe": {"method": "rtn"}, "weights_bytes_in_memory": 300_000_000}, unknown(base, 0.02, 3))}
    for name, (record, items) in models.items():
        folder = _folder(tmp_path, name, record)
        recipe = {"kd": {"method": "distill"}, "gptq": {"method": "gptq"}, "rtn8": {"method": "rtn"}}.get(name)
        write_run(runs / "fam" / name / "bbq", items, variant={"family": "fam", "name": name, "recipe": recipe},
                  model={"path": str(folder), "spec": str(folder), "fingerprint": {"sha256": name}})
    out = tmp_path / "cmp"
    assert main(["compare", "--family", "fam", "--runs", str(runs), "--equal-memory", "--pair", "rtn8:gptq",
                 "--out", str(out), "--resamples", "300"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "compare.json").read_text())
    pairs = [(p["a"]["label"], p["b"]["label"], p["why"]) for p in doc["variant_pairs"]]
    assert [p[:2] for p in pairs] == [("kd", "gptq"), ("rtn8", "gptq")]
    assert pairs[0][2] == "nearest in weight bytes" and pairs[1][2] == "named with --pair"
    kd = doc["variant_pairs"][0]
    assert kd["verdict"].startswith("kd (165.0 MB) vs gptq (172.0 MB)") and f"verdict · {kd['verdict']}" in printed
    c = kd["comparisons"][0]
    assert c["task"] == "bbq" and c["n_items"] == 240 and c["group_fields"] == ["category"]
    acc = named(c, "accuracy_ambig")
    assert acc["closeness"]["overall"]["closer"] == "a"  # the student says "unknown" on 5% more items, GPTQ on 60%
    assert acc["direct"]["overall"]["delta"] > 0 and acc["direct"]["overall"]["significant"]
    assert any(t["kind"] == "closeness" and t["significant"] for t in kd["verdict_tests"])
    assert "closer to the base: kd on" in kd["verdict"]
    long = pd.read_parquet(out / "compare.parquet")
    assert list(long.columns) == table.COLUMNS
    rows = long[(long["comparison"] == "closeness") & (long["variant"] == "kd") & (long["metric"] == "accuracy_ambig")]
    assert rows.iloc[0]["versus"] == "gptq" and rows.iloc[0]["group"] == "overall"
    assert rows.iloc[0]["delta"] == acc["closeness"]["overall"]["delta"]
    assert rows.iloc[0]["weight_bytes"] == 165_000_000 and rows.iloc[0]["versus_weight_bytes"] == 172_000_000
    assert len(rows) == 1 + 4  # overall and four categories
    assert set(long["comparison"]) == {"vs_base", "direct", "closeness"}
    md = (out / "compare.md").read_text()
    assert "kd vs gptq" in md and "(|Δ_B| − |Δ_A|)" in md
    assert (out / "bbq__size.png").is_file()
    # the student's proof of distillation, where the student appears
    assert doc["distillation"]["kd"]["held_out"]["teacher_written"]["kl"] == pytest.approx(0.5)
    assert "no control to compare with" in doc["distillation"]["kd"]["verdict"]
    assert kd["distillation"]["kd"]["held_out"]["teacher_written"]["n_tokens"] == 12
    assert "distillation proof of kd:" in printed and "KL from teacher 0.5000" in printed


def test_a_proof_recorded_by_a_submission_stands_in_for_an_absent_folder(tmp_path):
    from bench.compare.equal_memory import Member, distillation_proofs

    recorded = {"kd": {"kind": "distilled", "held_out": {}, "verdict": "distilled: closer to the teacher"}}
    members = [Member("kd", "student", "distill", 1, str(tmp_path / "gone")), Member("q", "quantized", "gptq", 1, None)]
    out = distillation_proofs(members, recorded)
    assert list(out) == ["kd"] and out["kd"]["verdict"] == recorded["kd"]["verdict"]
    assert "as recorded in the submission" in out["kd"]["source"]
    assert distillation_proofs(members) == {}
    # the folder is here but its control is not: the recorded comparison with the control is the fuller proof
    from bench.compress.distill.proof import summarize

    scores = {"kl": [2.0, 3.0], "nll": [8.0, 9.0], "teacher_nll": [6.0, 6.0], "tokens": [4, 5]}
    folder = _folder(tmp_path, "kd", {"kind": "distilled", "control_key": "0123456789abcdef", "proof": {
        "t": {"documents_sha256": "d", **summarize(scores), "per_document": scores}}})
    members[0] = Member("kd", "student", "distill", 1, str(folder))
    assert distillation_proofs(members)["kd"]["control"] is None
    assert list(distillation_proofs(members, recorded)["kd"]["held_out"]) == ["t"]  # neither has a control: here's
    recorded["kd"]["versus"] = {"t": {}}
    assert "source" in distillation_proofs(members, recorded)["kd"]


def test_cli_pair_errors_exit_2_and_write_nothing(tmp_path, capsys):
    from tests.test_compare import synthetic

    runs = tmp_path / "runs"
    base = synthetic(n_per_cat=10)
    for name in ("base", "w4"):
        write_run(runs / "fam" / name / "bbq", base, variant={"family": "fam", "name": name})
    out = tmp_path / "cmp"
    assert main(["compare", "--family", "fam", "--runs", str(runs), "--pair", "w4:w9", "--out", str(out)]) == 2
    assert "no variant 'w9'" in capsys.readouterr().err and not out.exists()
    assert main(["compare", "--family", "fam", "--runs", str(runs), "--equal-memory", "--out", str(out)]) == 2
    assert "no distilled students" in capsys.readouterr().err and not out.exists()


# -- a real tiny family: a bf16 student, a quantized student, quantized variants --------------------------------


def test_tiny_family_bf16_student_and_quantized_student(tmp_path, capsys, tiny_model_dir):
    import torch
    from safetensors.torch import load_file

    corpus = tmp_path / "train.txt"
    corpus.write_text("".join(f"The clerk number {i} filed the report on time.\n" for i in range(60)))
    student = (f"{{student: builtin:tiny-llama-small, corpus: ['{corpus}'], steps: 6, batch_size: 4, seq_len: 32, "
               "seed: 3, temperature: 2}")
    matrix = tmp_path / "m.yaml"
    matrix.write_text(
        "name: eqm\nfamilies:\n  - base: builtin:tiny-llama\n    name: tiny\n    variants:\n"
        "      - rtn-w8a16\n      - rtn-w4a16\n"
        f"      - {{name: kd, distill: {student}}}\n"
        f"      - name: kd-bf16\n        distill: {student[:-1]}, save_dtype: bfloat16}}\n"
        f"      - {{name: kd-rtn4, distill: {student}, quantize: rtn-w4a16}}\n"
        "tasks: {bbq: {limit: 24}}\nsample_data: true\n")
    assert main(["run", str(matrix), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "cmp"
    assert main(["compare", "--family", "tiny", "--runs", str(tmp_path / "runs"), "--equal-memory",
                 "--out", str(out), "--resamples", "100"]) == 0
    doc = json.loads((out / "compare.json").read_text())
    by = {p["a"]["label"]: p for p in doc["variant_pairs"]}
    assert set(by) == {"kd", "kd-bf16", "kd-rtn4"}
    sizes = {p["a"]["label"]: p["a"]["weight_bytes"] for p in doc["variant_pairs"]}
    assert by["kd-rtn4"]["a"]["method"] == "distilled+rtn" and by["kd-bf16"]["a"]["method"] == "distilled"
    assert 0.45 < sizes["kd-bf16"] / sizes["kd"] < 0.55 and sizes["kd-rtn4"] < sizes["kd-bf16"]
    long = pd.read_parquet(out / "compare.parquet")
    quantized = long[long["variant"].isin(["rtn-w8a16", "rtn-w4a16"])].groupby("variant")["weight_bytes"].first()
    for label, p in by.items():  # each with the quantized variant of the base nearest in bytes
        want = min(quantized.index, key=lambda q: abs(quantized[q] - sizes[label]))
        assert p["b"]["label"] == want and p["b"]["weight_bytes"] == quantized[want]
    # the bf16 student is the float32 student rounded once, not a second training
    fp32 = load_file(str(Path(by["kd"]["a"]["model"]) / "model.safetensors"))
    bf16 = load_file(str(Path(by["kd-bf16"]["a"]["model"]) / "model.safetensors"))
    assert set(fp32) == set(bf16) and all(bf16[k].dtype == torch.bfloat16 for k in bf16)
    assert all(torch.equal(fp32[k].to(torch.bfloat16), bf16[k]) for k in fp32)
    prov = json.loads((Path(by["kd-bf16"]["a"]["model"]) / "qdbench_variant.json").read_text())
    assert prov["save_dtype"] == "bfloat16" and prov["stored_from"]["folder"] == by["kd"]["a"]["model"]


def test_distill_flag_save_dtype_reaches_the_config():
    from bench.cli.cmd_distill import config_from_args
    from bench.cli.main import build_parser
    from bench.compress.distill import parse_config

    args = build_parser().parse_args(["distill", "--teacher", "builtin:tiny-llama", "--student", "teacher",
                                      "--corpus", "synthetic:10", "--save-dtype", "bfloat16"])
    assert parse_config(config_from_args(args)).save_dtype == "bfloat16"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["distill", "--save-dtype", "int8"])
