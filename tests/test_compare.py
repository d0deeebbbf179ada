"""Paired comparison: pairing refusals, values equal to the runs' own metrics, planted effects found and
nulls not, flips by hand, the JSON schema, plots, the CLI on synthetic and on real tiny-model runs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli.main import main
from bench.compare import pairing, report
from bench.compare.family import find_family
from bench.errors import UserError
from bench.metrics import bbq as bbq_metrics
from bench.metrics.groups import metrics_doc
from bench.store.runs import RunStore
from tests.conftest import noisy_copy

CFG = report.settings(n_resamples=1000, seed=0, correction="holm")
MANIFEST = {
    "schema": "qdbench.run/1",
    "model": {"spec": "m", "kind": "local", "fingerprint": {"sha256": "aa"}},
    "variant": {"family": None, "name": "base", "recipe": None, "recipe_hash": None},
    "task": {"name": "bbq", "version": 1, "yaml_sha256": "y" * 64, "template_hash": "t" * 64},
    "data": {"origin": "sample", "files_sha256": {"bbq.jsonl": "d" * 64}},
}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def write_run(path: Path, items: pd.DataFrame, **over) -> Path:
    store = RunStore(path)
    store.begin("key")
    store.append(items.to_dict("records"))
    metrics = metrics_doc("bbq", items, bbq_metrics.METRICS, ["category"], n_resamples=50)
    store.finalize(store.items_in_order(list(items["item_id"])), metrics, _merge(MANIFEST, over))
    return path


def synthetic(n_per_cat: int = 120, seed: int = 0, cats=("A", "B", "C", "D")) -> pd.DataFrame:
    """BBQ-shaped items: option 2 is 'unknown'; the biased option is 0 or 1; ambig gold = unknown."""
    rng = np.random.default_rng(seed)
    rows = []
    for cat in cats:
        for i in range(n_per_cat):
            amb = i % 2 == 0
            biased = int(rng.integers(0, 2))
            gold = 2 if amb else int(rng.integers(0, 2))
            rows.append({"item_id": f"{cat}-{i}", "category": cat, "context_condition": "ambig" if amb else
                         "disambig", "gold": gold, "unknown_index": 2, "biased_index": biased})
    df = pd.DataFrame(rows)
    df["pred"] = rng.choice(3, size=len(df), p=[0.3, 0.3, 0.4])
    df["pred_norm"] = df["pred"]
    return df


def redraw(df: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A null variant: a random share of answers drawn again from the same distribution."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    pick = rng.random(len(df)) < share
    out.loc[pick, "pred"] = rng.choice(3, size=int(pick.sum()), p=[0.3, 0.3, 0.4])
    out["pred_norm"] = out["pred"]
    return out


def same(a: float | None, b: float | None) -> bool:
    """Equal values, or both undefined (null)."""
    return a is None and b is None or (a is not None and b is not None and abs(a - b) < 1e-12)


def by_name(comparison: dict) -> dict:
    return {m["name"]: m for m in comparison["metrics"]}


# -- pairing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("over, expect", [
    ({"task": {"template_hash": "x" * 64}}, "prompt template"),
    ({"task": {"yaml_sha256": "z" * 64}}, "task file"),
    ({"data": {"files_sha256": {"bbq.jsonl": "e" * 64}}}, "data files"),
    ({"task": {"name": "other"}}, "task differ"),
    ({"task": {"generation": {"temperature": 0.7}}}, "decoding settings"),
])
def test_refuses_runs_that_differ(tmp_path, over, expect):
    df = synthetic(4)
    base = pairing.load(write_run(tmp_path / "b", df))
    var = pairing.load(write_run(tmp_path / "v", df, **over))
    with pytest.raises(UserError, match=expect):
        pairing.pair(base, var)


def test_refuses_different_items_and_names_them(tmp_path):
    df = synthetic(4)
    base = pairing.load(write_run(tmp_path / "b", df))
    var = pairing.load(write_run(tmp_path / "v", df[df["item_id"] != "B-3"]))
    with pytest.raises(UserError, match=r"items differ: 1 only in base \(e.g. 'B-3'\)"):
        pairing.pair(base, var)


def test_pairs_on_item_id_whatever_the_row_order(tmp_path):
    df = synthetic(10)
    shuffled = df.sample(frac=1.0, random_state=1)
    p = pairing.pair(pairing.load(write_run(tmp_path / "b", df)), pairing.load(write_run(tmp_path / "v", shuffled)))
    assert list(p.variant_items["item_id"]) == list(df["item_id"])
    c = report.compare_pair(p, CFG)
    assert c["flips"]["overall"]["n_flipped"] == 0
    assert all(m["overall"]["delta"] in (0.0, None) for m in c["metrics"])


def test_not_a_run(tmp_path):
    with pytest.raises(UserError, match="not a qdbench run"):
        pairing.load(tmp_path)


# -- values and statistics ---------------------------------------------------------------------------


def test_values_equal_the_runs_metrics_json(tmp_path):
    base_df, var_df = synthetic(40, seed=3), redraw(synthetic(40, seed=3), 0.5, seed=4)
    base_df.loc[base_df.index[:3], "biased_index"] = -1  # unscorable items count for accuracy only
    var_df["biased_index"] = base_df["biased_index"]
    b, v = pairing.load(write_run(tmp_path / "b", base_df)), pairing.load(write_run(tmp_path / "v", var_df))
    c = report.compare_pair(pairing.pair(b, v), CFG)
    for m in c["metrics"]:
        for run, key in ((b, "base"), (v, "variant")):
            assert same(m["overall"][key], run.metrics["metrics"][m["name"]])
            for g, row in m["by_group"]["category"].items():
                assert same(row[key], run.metrics["by_group"]["category"][g][m["name"]])


def test_hand_computed_flips_and_mcnemar(tmp_path):
    # 6 ambig items, unknown = 2, biased = 0: base/variant answers chosen by hand.
    base_pred, var_pred = [2, 2, 2, 0, 1, 0], [0, 0, 2, 0, 2, 1]
    df = pd.DataFrame({"item_id": [f"A-{i}" for i in range(6)], "category": "A", "context_condition": "ambig",
                       "gold": 2, "unknown_index": 2, "biased_index": 0, "pred": base_pred, "pred_norm": 0})
    var = df.assign(pred=var_pred)
    c = report.compare_pair(pairing.pair(pairing.load(write_run(tmp_path / "b", df)),
                                         pairing.load(write_run(tmp_path / "v", var))), CFG)
    flips = c["flips"]["overall"]
    assert (flips["n_flipped"], flips["became_biased"], flips["stopped_biased"]) == (4, 2, 1)
    assert flips["flip_rate"] == pytest.approx(4 / 6)
    t = c["flips"]["transitions"]
    assert t["categories"][:3] == ["unknown", "biased", "anti_biased"]
    assert t["overall"][0][:3] == [1, 2, 0]  # unknown -> unknown, biased, anti
    assert t["overall"][1][:3] == [0, 1, 1]
    assert t["overall"][2][:3] == [1, 0, 0]
    acc = by_name(c)["accuracy_ambig"]["overall"]
    assert acc["discordant"] == {"base_only": 2, "variant_only": 1, "eligible": 6}
    assert acc["p_value"] == pytest.approx(1.0)  # exact binomial, 1 of 3 discordant
    assert acc["delta"] == pytest.approx(2 / 6 - 3 / 6)
    # s_AMB by hand: base acc 3/6, biased 2 of 3 non-unknown -> (1-.5)*(2*2/3-1); variant 2/6, 3 of 4
    bias = by_name(c)["bias_score_ambig"]["overall"]
    assert bias["base"] == pytest.approx(0.5 * (4 / 3 - 1))
    assert bias["variant"] == pytest.approx((2 / 3) * (6 / 4 - 1))


def test_planted_effect_found_and_null_groups_not(tmp_path):
    base = synthetic(160, seed=7)
    var = redraw(base, 0.1, seed=8)
    target = (var["category"] == "C") & (var["context_condition"] == "ambig") & (var["pred"] == 2)
    var.loc[target, "pred"] = var.loc[target, "biased_index"]  # unknown -> biased answers in C
    c = report.compare_pair(pairing.pair(pairing.load(write_run(tmp_path / "b", base)),
                                         pairing.load(write_run(tmp_path / "v", var))), CFG)
    m = by_name(c)
    for name in ("bias_score_ambig", "accuracy_ambig"):
        groups = m[name]["by_group"]["category"]
        assert groups["C"]["significant"], name
        assert not any(groups[g]["significant"] for g in "ABD"), name
        assert m[name]["n_significant_groups"]["category"] == 1
        assert groups["C"]["ci_low"] <= groups["C"]["delta"] <= groups["C"]["ci_high"]
    assert m["bias_score_ambig"]["by_group"]["category"]["C"]["delta"] > 0.2
    assert m["bias_score_ambig"]["resampling"] == "items within category"
    assert m["bias_score_ambig"]["test"] == "paired_permutation" and m["accuracy"]["test"] == "mcnemar_exact"
    assert not m["accuracy_disambig"]["overall"]["significant"]
    assert c["flips"]["by_group"]["category"]["C"]["became_biased"] >= target.sum()


def test_null_false_positive_rate_is_controlled(tmp_path):
    """Over null variants, Holm keeps the chance of any significant group near alpha (here at most 3/20)."""
    base = synthetic(60, seed=11)
    p = pairing.pair(pairing.load(write_run(tmp_path / "b", base)), pairing.load(write_run(tmp_path / "v", base)))
    cfg = report.settings(n_resamples=200, seed=0, correction="holm")
    fields = ["category"]
    hits = 0
    for sim in range(20):
        var = redraw(base, 0.3, seed=100 + sim)
        p.variant_items = var
        metric = next(m for m in bbq_metrics.METRICS if m.name == "bias_score_ambig")
        hits += report.compare_metric(metric, p, fields, cfg)["n_significant_groups"]["category"] > 0
    assert hits <= 3


def test_bh_corrects_less_than_holm(tmp_path):
    base = synthetic(160, seed=7)
    var = base.copy()
    for cat, share in (("A", 0.25), ("B", 0.2), ("C", 0.15)):
        rows = var.index[(var["category"] == cat) & (var["pred"] == 2)]
        var.loc[rows[: int(share * len(rows)) + 3], "pred"] = 0
    p = pairing.pair(pairing.load(write_run(tmp_path / "b", base)), pairing.load(write_run(tmp_path / "v", var)))
    holm = by_name(report.compare_pair(p, CFG))["accuracy"]["by_group"]["category"]
    bh = by_name(report.compare_pair(p, {**CFG, "correction": "bh"}))["accuracy"]["by_group"]["category"]
    for g in holm:
        assert bh[g]["p_value"] == holm[g]["p_value"]
        assert bh[g]["p_adjusted"] <= holm[g]["p_adjusted"] + 1e-12


# -- CLI, JSON, plots, family ------------------------------------------------------------------------


def _no_nan(text: str) -> dict:
    def bad(x):
        raise AssertionError(f"non-JSON number {x}")

    return json.loads(text, parse_constant=bad)


def test_cli_writes_schema_and_plots(tmp_path, capsys):
    base = synthetic(30, seed=1)
    b = write_run(tmp_path / "runs" / "m" / "bbq", base)
    v = write_run(tmp_path / "runs" / "w4" / "bbq", redraw(base, 0.4, seed=2),
                  variant={"family": "f", "name": "w4"}, model={"fingerprint": {"sha256": "bb"}})
    out = tmp_path / "out"
    assert main(["compare", str(b), str(v), "--out", str(out), "--resamples", "200", "--correction", "bh"]) == 0
    text = capsys.readouterr().out
    assert "bias_score_ambig (permutation)" in text and "p bh" in text and "answer flips" in text
    assert "category=C" in text and "accuracy (McNemar)" in text
    assert all(len(line) <= 120 for line in text.splitlines() if not line.startswith("wrote "))
    assert any(line.rstrip().endswith("MDE") for line in text.splitlines())  # the last column is never cropped
    doc = _no_nan((out / "compare.json").read_text())
    assert doc["schema"] == "qdbench.compare/1"
    assert doc["settings"] == {"n_resamples": 200, "seed": 0, "confidence": 0.95, "alpha": 0.05, "correction": "bh",
                               "power": 0.8}
    (c,) = doc["comparisons"]
    assert c["variant"]["label"] == "w4" and c["base"]["run"] == str(b) and c["group_fields"] == ["category"]
    assert [m["name"] for m in c["metrics"]] == [m.name for m in bbq_metrics.METRICS]
    row = c["metrics"][0]["overall"]
    assert set(row) >= {"n_items", "base", "variant", "delta", "ci_low", "ci_high", "p_value", "p_adjusted",
                        "significant", "n_undefined_resamples", "se", "mde", "discordant", "mde_discordant"}
    assert set(c["metrics"][0]["by_group"]["category"]) == {"A", "B", "C", "D"}
    assert c["flips"]["transitions"]["by_subset"].keys() == {"ambig", "disambig"}
    plots = c["plots"]["forest"] + c["plots"]["size"] + c["plots"]["transitions"]
    assert len(plots) == 6
    for path in map(Path, plots):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" if path.suffix == ".png" else b"<svg" in data[:500]


def test_cli_refusal_exits_2_and_writes_nothing(tmp_path, capsys):
    df = synthetic(4)
    b = write_run(tmp_path / "b", df)
    v = write_run(tmp_path / "v", df, task={"template_hash": "x" * 64})
    out = tmp_path / "out"
    assert main(["compare", str(b), str(v), "--out", str(out)]) == 2
    assert "prompt template and decoding settings differ" in capsys.readouterr().err
    assert not out.exists()
    assert main(["compare", str(b)]) == 2
    assert main(["compare", "--family", "f"]) == 2


def test_family_discovery(tmp_path, capsys):
    base = synthetic(20, seed=5)
    runs = tmp_path / "runs"
    write_run(runs / "fam" / "base" / "bbq", base, variant={"family": "fam", "name": "base"})
    for i, name in enumerate(("w8", "w4")):
        write_run(runs / "fam" / name / "bbq", redraw(base, 0.3, seed=i),
                  variant={"family": "fam", "name": name, "recipe": {"bits": 4}, "recipe_hash": "r"})
    write_run(runs / "other" / "base" / "bbq", base, variant={"family": "other", "name": "base"})
    found = find_family(runs, "fam")
    assert list(found) == ["bbq"] and found["bbq"][0] == runs / "fam" / "base" / "bbq"
    assert [p.parent.name for p in found["bbq"][1]] == ["w4", "w8"]
    assert main(["compare", "--family", "fam", "--runs", str(runs), "--resamples", "100", "--no-plots"]) == 0
    doc = _no_nan((runs / "compare" / "fam" / "compare.json").read_text())
    assert [c["variant"]["label"] for c in doc["comparisons"]] == ["w4", "w8"]
    for name in ("compare.csv", "compare.parquet", "compare.md", "compare.tex"):
        assert (runs / "compare" / "fam" / name).is_file()
    # a task this checkout does not define is reported as skipped; the others are still compared, exit 0
    write_run(runs / "fam" / "base" / "gone", base, variant={"family": "fam", "name": "base"}, task={"name": "gone"})
    write_run(runs / "fam" / "w4" / "gone", base, variant={"family": "fam", "name": "w4"}, task={"name": "gone"})
    capsys.readouterr()
    assert main(["compare", "--family", "fam", "--runs", str(runs), "--resamples", "50", "--no-plots",
                 "--format", "md"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("| task | variant | metric |") and "gone · w4: skipped — task 'gone' is not defined" in text
    doc = _no_nan((runs / "compare" / "fam" / "compare.json").read_text())
    assert [c["task"] for c in doc["comparisons"] if c["skipped"]] == ["gone"]
    assert sum(1 for c in doc["comparisons"] if c["task"] == "bbq" and c["metrics"]) == 2
    with pytest.raises(UserError, match="families found: fam, other"):
        find_family(runs, "nope")


# -- real runs of the tiny model ---------------------------------------------------------------------


def test_end_to_end_on_tiny_model_runs(tmp_path, tiny_model_dir, capsys):
    from bench.exec.local import RunOptions, evaluate
    from bench.models.loading import resolve
    from bench.tasks.registry import get_task

    variant = noisy_copy(tiny_model_dir, tmp_path / "noisy", 0.5, seed=0)
    task = get_task("bbq")
    opts = RunOptions(out=tmp_path / "runs", limit=16, quiet=True, device="cpu", dtype="float32")
    (b,) = evaluate(resolve("builtin:tiny-llama"), [task], opts)
    (v,) = evaluate(resolve(str(variant)), [task], opts)
    out = tmp_path / "cmp"
    assert main(["compare", str(b), str(v), "--out", str(out), "--resamples", "200", "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "95% CI" in text and "answer transitions" in text
    (c,) = _no_nan((out / "compare.json").read_text())["comparisons"]
    runs = {"base": pairing.load(b), "variant": pairing.load(v)}
    for m in c["metrics"]:
        for key, run in runs.items():
            assert same(m["overall"][key], run.metrics["metrics"][m["name"]])
            for g, row in m["by_group"]["category"].items():
                assert same(row[key], run.metrics["by_group"]["category"][g][m["name"]])
    assert c["n_items"] == 16 and not c["same_weights"]
    base_pred, var_pred = runs["base"].items["pred"].to_numpy(), runs["variant"].items["pred"].to_numpy()
    assert c["flips"]["overall"]["n_flipped"] == int((base_pred != var_pred).sum())
