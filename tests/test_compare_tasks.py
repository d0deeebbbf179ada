"""Every task's paired comparison from its one metric declaration: hand-built paired records with known
answers, planted effects found and nulls kept near alpha for the toxicity, StereoSet and fairness families,
the declared estimators against their references (MixedLM, fairlearn), single-run intervals, power, and the
long table equal to compare.json value for value. Resamples are few (CPU is shared)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli.main import main
from bench.compare import report, table
from bench.compare.pairing import Pair, Run
from bench.metrics import declare
from bench.metrics.groups import metrics_doc
from bench.stats import power
from bench.tasks.registry import get_task

CFG = report.settings(n_resamples=300, seed=0, correction="holm")


def run_of(task: str, items: pd.DataFrame, label: str) -> Run:
    t = get_task(task)
    metrics = {"by_group": {f: {} for f in t.spec.group_by}}
    manifest = {"task": {"name": task}, "model": {"spec": label, "fingerprint": {"sha256": label}},
                "variant": {"family": "f", "name": label}}
    return Run(Path(f"/runs/{label}/{task}"), manifest, metrics, items)


def pair(task: str, base: pd.DataFrame, variant: pd.DataFrame) -> Pair:
    return Pair(run_of(task, base, "base"), run_of(task, variant, "v"), base.reset_index(drop=True),
                variant.reset_index(drop=True))


def by_name(c: dict) -> dict:
    return {m["name"]: m for m in c["metrics"]}


def metric(task: str, name: str) -> declare.Metric:
    return next(m for m in get_task(task).declared_metrics if m.name == name)


def check_values_match_declaration(task: str, c: dict, base: pd.DataFrame, variant: pd.DataFrame) -> None:
    """compare.json's base and variant values are the run's own declared values."""
    vb, vv = declare.values(get_task(task).declared_metrics, base), declare.values(get_task(task).declared_metrics,
                                                                                   variant)
    for m in c["metrics"]:
        for got, want in ((m["overall"]["base"], vb[m["name"]]), (m["overall"]["variant"], vv[m["name"]])):
            assert (got is None and want is None) or got == pytest.approx(want, abs=1e-12), m["name"]


# -- crows_pairs: exact McNemar on the paired binary preference --------------------------------------------


def crows(prefers: list[bool], types: list[str]) -> pd.DataFrame:
    ll = [[-1.0, -2.0] if p else [-2.0, -1.0] for p in prefers]
    return pd.DataFrame({"item_id": [str(i) for i in range(len(prefers))], "bias_type": types,
                         "stereo_antistereo": "stereo", "ll": ll, "n_tokens": [[3, 3]] * len(prefers)})


def test_crows_pairs_mcnemar_by_hand():
    types = ["race"] * 6 + ["gender"] * 4
    base = crows([True] * 8 + [False] * 2, types)
    var = crows([False, False, False] + [True] * 5 + [False] * 2, types)  # 3 race pairs stop preferring
    c = report.compare_pair(pair("crows_pairs", base, var), CFG)
    assert c["skipped"] is None and c["flips"] is None
    m = by_name(c)["pct_stereotype"]
    assert m["test"] == "mcnemar_exact"
    assert m["overall"]["delta"] == pytest.approx(-30.0)
    assert m["overall"]["discordant"] == {"base_only": 3, "variant_only": 0, "eligible": 10}
    assert m["overall"]["p_value"] == pytest.approx(0.25)  # 2 · 0.5³
    race, gender = m["by_group"]["bias_type"]["race"], m["by_group"]["bias_type"]["gender"]
    assert race["delta"] == pytest.approx(-50.0) and gender["delta"] == 0.0 and gender["p_value"] == 1.0
    assert m["overall"]["ci_low"] <= -30.0 <= m["overall"]["ci_high"]
    check_values_match_declaration("crows_pairs", c, base, var)


# -- stereoset: bootstrap over clusters within target terms ------------------------------------------------


def stereo(pro: list[bool], targets: list[str], domain: str = "race") -> pd.DataFrame:
    ll = [[-1.0, -2.0, -3.0] if p else [-2.0, -1.0, -3.0] for p in pro]
    n = len(pro)
    return pd.DataFrame({"item_id": [f"i{i}" for i in range(n)], "split": "intrasentence", "bias_type": domain,
                         "target": targets, "split_domain": f"intrasentence/{domain}", "ll": ll,
                         "n_tokens": [[1, 1, 1]] * n})


def test_stereoset_ss_delta_by_hand_and_terms_kept():
    targets = ["a"] * 4 + ["b"] * 2
    base = stereo([True, True, False, False, True, False], targets)  # SS_a 50, SS_b 50 -> SS 50
    var = stereo([True, True, True, False, True, True], targets)     # SS_a 75, SS_b 100 -> 87.5
    c = report.compare_pair(pair("stereoset", base, var), CFG)
    m = by_name(c)
    assert m["ss"]["overall"]["base"] == 50.0 and m["ss"]["overall"]["variant"] == 87.5
    assert m["ss"]["resampling"] == "items within target" and m["ss"]["test"] == "paired_permutation"
    # every resample keeps each term's count, so the number of terms never moves
    assert (m["n_terms"]["overall"]["ci_low"], m["n_terms"]["overall"]["ci_high"]) == (0.0, 0.0)
    # ICAT = LMS · min(SS, 100 − SS) / 50 with LMS 100 throughout
    assert m["icat"]["overall"]["delta"] == pytest.approx(100 * 12.5 / 50 - 100.0)
    check_values_match_declaration("stereoset", c, base, var)


# -- rtp_toxicity: prompts are the unit, their k samples kept together ------------------------------------


def rtp(scores: list[list[float]], challenging: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({"item_id": [f"p{i}" for i in range(len(scores))], "challenging": challenging,
                         "subset": "toxic", "toxicity": scores})


def test_rtp_expected_max_toxicity_and_probability_by_hand():
    base = rtp([[0.1, 0.2], [0.6, 0.1], [0.3, 0.4], [0.05, 0.0]], [True, True, False, False])
    var = rtp([[0.1, 0.9], [0.2, 0.1], [0.3, 0.4], [0.05, 0.0]], [True, True, False, False])
    c = report.compare_pair(pair("rtp_toxicity", base, var), CFG)
    m = by_name(c)
    emt = m["expected_max_toxicity"]["overall"]
    assert emt["base"] == pytest.approx((0.2 + 0.6 + 0.4 + 0.05) / 4)
    assert emt["delta"] == pytest.approx((0.9 - 0.2 + 0.2 - 0.6) / 4)
    tp = m["toxicity_probability"]["overall"]
    assert tp["discordant"] == {"base_only": 1, "variant_only": 1, "eligible": 4} and tp["p_value"] == 1.0
    assert m["expected_max_toxicity"]["test"] == "paired_permutation"
    check_values_match_declaration("rtp_toxicity", c, base, var)


# -- discrim_eval: question fixed effects, bootstrap over decision questions -------------------------------


PLANT = {"age_decade": -0.1, "gender_female": 0.5, "race_black": -0.4}


def discrim_frame(n_questions: int = 6, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for q, age, gender, race in itertools.product(range(n_questions), (20, 60, 100), ("male", "female", "non-binary"),
                                                  ("white", "Black", "Asian")):
        y = rng.normal(0, 1) * 0 + q * 0.3 + PLANT["age_decade"] * (age - 60) / 10
        y += PLANT["gender_female"] * (gender == "female") + PLANT["race_black"] * (race == "Black")
        y += shift * (gender == "female")
        rows.append({"decision_question_id": q, "age": float(age), "gender": gender, "race": race,
                     "fill_type": "explicit", "logit_p_yes": y + rng.normal(0, 0.2)})
    df = pd.DataFrame(rows)
    df["item_id"] = [f"e-{i}" for i in range(len(df))]
    df["p_yes"] = 1 / (1 + np.exp(-df["logit_p_yes"]))
    return df


def test_discrim_fixed_effects_equal_mixedlm_on_the_balanced_design():
    from bench.metrics import discrim

    df = discrim_frame()
    fe = declare.values(get_task("discrim_eval").declared_metrics, df)
    me = discrim.mixed_effects(df)
    for name in ("age_decade", "gender_female", "gender_non_binary", "race_black", "race_asian"):
        assert fe[name] == pytest.approx(me[name][0], abs=1e-4), name
    assert fe["race_hispanic"] is None  # the level is absent: undefined, not 0


def test_discrim_fixed_effects_stay_close_to_mixedlm_on_an_unbalanced_sample():
    """A 30% sample breaks the balance: the two estimators then differ by far less than one standard error."""
    from bench.metrics import discrim

    df = discrim_frame(n_questions=8, seed=4).sample(frac=0.3, random_state=4)
    fe, me = declare.values(discrim.METRICS, df), discrim.mixed_effects(df)
    for name in ("age_decade", "gender_female", "race_black"):
        est, lo, hi = me[name]
        assert abs(fe[name] - est) < 0.05 * (hi - lo) / 3.92, name


def test_discrim_planted_shift_is_the_delta_and_questions_are_the_unit():
    base, var = discrim_frame(seed=1), discrim_frame(seed=1, shift=0.3)
    c = report.compare_pair(pair("discrim_eval", base, var), CFG)
    m = by_name(c)["gender_female"]
    assert m["overall"]["delta"] == pytest.approx(0.3, abs=1e-9)  # linear in the logits, same noise
    assert m["resampling"] == "decision_question_id clusters" and m["test"] == "paired_bootstrap"
    assert m["overall"]["ci_low"] == pytest.approx(0.3, abs=1e-6) and m["overall"]["significant"]
    assert by_name(c)["race_black"]["overall"]["delta"] == pytest.approx(0.0, abs=1e-9)


# -- adult_fairness: DPD and EOD deltas, undefined stays undefined -----------------------------------------


def adult(pred_yes: list[bool], gold_yes: list[bool], sex: list[str], setting: str = "s") -> pd.DataFrame:
    n = len(sex)
    return pd.DataFrame({"item_id": [f"a{i}" for i in range(n)], "setting": setting, "sex": sex, "yes_index": 0,
                         "pred": [0 if p else 1 for p in pred_yes], "pred_norm": [0 if p else 1 for p in pred_yes],
                         "gold": [0 if g else 1 for g in gold_yes],
                         "ll": [[-0.5, -1.5] if p else [-1.5, -0.5] for p in pred_yes]})


def test_adult_dpd_delta_by_hand_and_eod_undefined():
    sex = ["Female"] * 4 + ["Male"] * 4
    gold = [True, True, True, True, True, False, True, False]  # no female negative: EOD undefined
    base = adult([True, False, True, False, True, False, True, False], gold, sex)   # rates 0.5 / 0.5
    var = adult([True, False, False, False, True, True, True, False], gold, sex)    # rates 0.25 / 0.75
    c = report.compare_pair(pair("adult_fairness", base, var), CFG)
    m = by_name(c)
    dpd = m["demographic_parity_difference"]["overall"]
    assert (dpd["base"], dpd["variant"], dpd["delta"]) == (0.0, 0.5, 0.5)
    eod = m["equalized_odds_difference"]["overall"]
    assert eod["base"] is None and eod["delta"] is None and eod["p_value"] is None and not eod["significant"]
    check_values_match_declaration("adult_fairness", c, base, var)


def test_declared_fairness_equals_fairlearn():
    from bench.metrics.fairness import fairness_metrics

    rng = np.random.default_rng(3)
    n = 60
    sex = rng.choice(["Female", "Male"], n)
    gold, pred = rng.random(n) < 0.4, rng.random(n) < 0.5
    ours = declare.values(get_task("adult_fairness").declared_metrics, adult(list(pred), list(gold), list(sex)))
    ref = fairness_metrics(gold, pred, sex)
    for name in ("accuracy", "demographic_parity_difference", "equalized_odds_difference", "rate_yes_female",
                 "accuracy_male"):
        assert ours[name] == pytest.approx(ref[name], abs=1e-12), name


# -- mnli, hans: exact McNemar on accuracy; the MNLI − HANS gap ---------------------------------------------


def nli(pred: list[int], gold: list[int], **fields) -> pd.DataFrame:
    df = pd.DataFrame({"item_id": [f"n{i}" for i in range(len(pred))], "pred": pred, "pred_norm": pred,
                       "gold": gold})
    for k, v in fields.items():
        df[k] = v
    return df


def test_mnli_and_hans_mcnemar_and_the_gap():
    gold = [0, 1, 2, 0, 1, 2, 0, 1]
    mb, mv = nli([0, 1, 2, 0, 1, 2, 0, 1], gold, genre="g"), nli([0, 1, 2, 0, 0, 0, 0, 1], gold, genre="g")
    hans_gold = [0, 0, 1, 1, 1, 1]
    hb = nli([0, 0, 2, 1, 0, 0], hans_gold, heuristic="lexical_overlap", subcase="s")
    hv = nli([0, 0, 2, 1, 2, 0], hans_gold, heuristic="lexical_overlap", subcase="s")
    pm, ph = pair("mnli", mb, mv), pair("hans", hb, hv)
    cm = report.compare_pair(pm, CFG)
    acc = by_name(cm)["accuracy"]["overall"]
    assert acc["delta"] == pytest.approx(-2 / 8) and acc["discordant"]["base_only"] == 2
    assert acc["p_value"] == pytest.approx(0.5)
    ch = report.compare_pair(ph, CFG)
    non = by_name(ch)["accuracy_non_entailment"]["overall"]
    assert non["delta"] == pytest.approx(1 / 4)
    doc = report.nli_gap(pm, ph, CFG)
    gap = doc["overall"]
    assert gap["delta"] == pytest.approx(-2 / 8 - 1 / 4)
    assert gap["base"] == pytest.approx(1.0 - 2 / 4)
    assert doc["by_group"]["heuristic"]["lexical_overlap"]["delta"] == pytest.approx(gap["delta"])


# -- planted effects found, nulls near alpha: toxicity, StereoSet, fairness --------------------------------


def tox_frame(rng, n: int) -> pd.DataFrame:
    return rtp([list(rng.beta(1, 6, 3)) for _ in range(n)], list(rng.random(n) < 0.5))


def null_variant_tox(df: pd.DataFrame, rng) -> pd.DataFrame:
    return df.assign(toxicity=[list(rng.beta(1, 6, 3)) for _ in range(len(df))])


def stereo_frame(rng, n: int, p_pro: float = 0.5) -> pd.DataFrame:
    targets = [f"t{i % 8}" for i in range(n)]
    return stereo(list(rng.random(n) < p_pro), targets)


def adult_frame(rng, n: int, bias: float = 0.0) -> pd.DataFrame:
    sex = rng.choice(["Female", "Male"], n)
    p = np.where(sex == "Male", 0.5 + bias / 2, 0.5 - bias / 2)
    return adult(list(rng.random(n) < p), list(rng.random(n) < 0.5), list(sex))


FAMILIES = {
    "rtp_toxicity": ("expected_max_toxicity", lambda rng, n: tox_frame(rng, n), null_variant_tox,
                     lambda df, rng: df.assign(toxicity=[[min(1.0, s + 0.15) for s in t] for t in df["toxicity"]])),
    "stereoset": ("ss", lambda rng, n: stereo_frame(rng, n), lambda df, rng: stereo_frame(rng, len(df)),
                  lambda df, rng: stereo_frame(rng, len(df), 0.8)),
    "adult_fairness": ("demographic_parity_difference", lambda rng, n: adult_frame(rng, n),
                       lambda df, rng: adult(list(rng.random(len(df)) < 0.5), list(df["gold"] == 0), list(df["sex"])),
                       lambda df, rng: adult(list(np.where(df["sex"] == "Male", rng.random(len(df)) < 0.9,
                                                           rng.random(len(df)) < 0.1)), list(df["gold"] == 0),
                                             list(df["sex"]))),
}


@pytest.mark.parametrize("task", sorted(FAMILIES))
def test_planted_effect_is_found(task):
    name, make, _, plant = FAMILIES[task]
    rng = np.random.default_rng(5)
    base = make(rng, 160)
    var = plant(base, rng)
    row = report.compare_metric(metric(task, name), pair(task, base, var), [], CFG)["overall"]
    assert row["significant"] and row["ci_low"] <= row["delta"] <= row["ci_high"]
    assert row["ci_low"] > 0 or row["ci_high"] < 0


@pytest.mark.parametrize("task", sorted(FAMILIES))
def test_null_false_positives_stay_near_alpha(task):
    """20 null variants at alpha 0.05: at most 3 significant (P(X ≥ 4) ≈ 1.6% if calibrated)."""
    name, make, null, _ = FAMILIES[task]
    rng = np.random.default_rng(11)
    cfg = report.settings(n_resamples=200, seed=0, correction="holm")
    hits = 0
    for _ in range(20):
        base = make(rng, 80)
        var = null(base, rng)
        hits += report.compare_metric(metric(task, name), pair(task, base, var), [], cfg)["overall"]["significant"]
    assert hits <= 3


# -- single-run intervals, power -----------------------------------------------------------------------------


def test_single_run_interval_matches_the_binomial_standard_error():
    rng = np.random.default_rng(2)
    n = 400
    df = nli(list(rng.integers(0, 3, n)), list(rng.integers(0, 3, n)), genre=rng.choice(["a", "b"], n))
    doc = metrics_doc("mnli", df, get_task("mnli").declared_metrics, ["genre"], n_resamples=400)
    acc = doc["metrics"]["accuracy"]
    iv = doc["intervals"]["metrics"]["accuracy"]
    assert iv["se"] == pytest.approx(math.sqrt(acc * (1 - acc) / n), rel=0.2)
    assert iv["low"] < acc < iv["high"] and iv["resampling"] == "items"
    assert set(doc["intervals"]["by_group"]["genre"]) == {"a", "b"}


def test_discordant_pair_formula_and_its_inverse():
    # Connor (1987): psi 0.2, delta 0.05, alpha 0.05, power 0.8 -> about 626 pairs
    n = power.mcnemar_n(0.05, 0.2)
    assert n == pytest.approx((1.959964 * math.sqrt(0.2) + 0.841621 * math.sqrt(0.2 - 0.0025)) ** 2 / 0.0025)
    assert 625 < n < 627
    assert power.mcnemar_mde(math.ceil(n), 0.2) == pytest.approx(0.05, rel=2e-3)
    assert math.isnan(power.mcnemar_mde(100, 0.0))
    assert power.scaled_n(100, 0.2, 0.1) == pytest.approx(400)
    # the normal approximation: (z_0.975 + z_0.8) * SE; a bootstrap that never varied gives no MDE, not 0
    assert power.normal_mde(0.01) == pytest.approx((1.959964 + 0.841621) * 0.01, rel=1e-6)
    assert math.isnan(power.normal_mde(0.0))


def test_plan_size_cli(capsys):
    assert main(["plan-size", "--effect", "0.05", "--discordance", "0.2"]) == 0
    assert "626" in capsys.readouterr().out
    assert main(["plan-size", "--effect", "0.5", "--discordance", "0.2"]) == 2


# -- the long table agrees with compare.json; a task without a declaration is skipped, not fatal -------------


def test_long_table_equals_compare_json_and_undeclared_tasks_are_skipped(tmp_path):
    rng = np.random.default_rng(0)
    base = stereo_frame(rng, 40)
    good = report.compare_pair(pair("stereoset", base, stereo_frame(rng, 40)), CFG)
    other = pair("stereoset", base, base)
    other.base.manifest["task"]["name"] = other.variant.manifest["task"]["name"] = "not_a_task"
    bad = report.compare_pair(other, CFG)
    assert bad["skipped"] and "not defined here" in bad["skipped"] and bad["metrics"] == []
    doc = report.document([good, bad], CFG)
    long = table.long_table(doc, "f", {"v": {"method": "rtn", "bits_per_param": 4.2, "bytes": 10}})
    table.write_all(long, tmp_path, "holm")
    back = pd.read_parquet(tmp_path / "compare.parquet")
    assert len(back) == len(long)
    assert back["skipped"].notna().sum() == 1
    rows = back[back["skipped"].isna()]
    assert len(rows) == sum(1 + sum(len(g) for g in m["by_group"].values()) for m in good["metrics"])
    for m in good["metrics"]:
        want = [("overall", m["overall"])] + [(g, r) for gs in m["by_group"].values() for g, r in gs.items()]
        got = rows[rows["metric"] == m["name"]]
        for (g, r), row in zip(want, got.itertuples(index=False), strict=True):
            assert row.group == g and row.test == m["test"]
            for key, col in (("base", "base"), ("variant", "value"), ("delta", "delta"), ("ci_low", "ci_low"),
                             ("ci_high", "ci_high"), ("p_value", "p_value"), ("p_adjusted", "p_adjusted")):
                a, b = r[key], getattr(row, col)
                assert (a is None and pd.isna(b)) or a == b, (m["name"], g, key)
    csv = pd.read_csv(tmp_path / "compare.csv")
    assert list(csv.columns) == table.COLUMNS and len(csv) == len(long)
    md = (tmp_path / "compare.md").read_text()
    assert "paired_permutation" in md and "skipped" in md
    tex = (tmp_path / "compare.tex").read_text()
    assert "\\toprule" in tex and "n\\_terms" not in tex  # headline metrics only; names escaped
    json.dumps(doc)


def test_too_few_clusters_give_no_interval():
    """Two decision questions make three distinct resamples: no interval, not a misleading one."""
    df = discrim_frame(n_questions=2)
    doc = metrics_doc("discrim_eval", df, get_task("discrim_eval").declared_metrics, [], n_resamples=50)
    iv = doc["intervals"]["metrics"]["gender_female"]
    assert doc["metrics"]["gender_female"] is not None and iv["low"] is None and iv["high"] is None
    row = report.compare_pair(pair("discrim_eval", df, df.assign(logit_p_yes=df["logit_p_yes"] + 0.1)), CFG)
    assert by_name(row)["p_yes"]["overall"]["ci_low"] is None and by_name(row)["p_yes"]["overall"]["p_value"] is None


def test_run_tables_wrap_and_never_crop_a_column(capsys):
    """`qdbench show`'s tables: every line ends with its border, however many long metric names."""
    from bench.cli.render import print_run

    rng = np.random.default_rng(1)
    n = 40
    df = nli(list(rng.integers(0, 3, n)), list(rng.integers(0, 2, n)),
             heuristic=rng.choice(["lexical_overlap", "subsequence"], n), subcase=rng.choice(["ln_subject/object_swap",
                                                                                             "sn_NP/S"], n))
    task = get_task("hans")
    doc = metrics_doc("hans", df, task.declared_metrics, task.spec.group_by, n_resamples=50)
    manifest = {"model": {"spec": "m", "kind": "local", "fingerprint": {"sha256": "ab" * 8}},
                "task": {"name": "hans", "options": {}}, "data": {"origin": "sample", "n_items": n,
                                                                   "n_items_available": n}}
    print_run(manifest, doc, list(doc["metrics"]))
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith(("┃", "│", "┏", "└"))]
    assert lines and all(x.rstrip().endswith(("┃", "│", "┓", "┘")) for x in lines)
    assert any("[" in x and "]" in x for x in lines)  # intervals shown next to values


def test_group_rows_undefined_for_both_models_are_left_out_of_the_table():
    """A gap between groups is undefined within one group: BOLD's 43 groups would print 43 empty rows per gap."""
    from bench.compare.render import metrics_table
    from bench.console import console

    def row(base, variant):
        delta = None if None in (base, variant) else variant - base
        return {"n_items": 5, "base": base, "variant": variant, "delta": delta,
                "ci_low": None, "ci_high": None, "p_value": None, "p_adjusted": None, "significant": False,
                "mde": None}

    comparison = {"task": "bold", "variant": {"label": "v"}, "base": {"label": "b"}, "n_items": 5, "metrics": [
        {"name": "sentiment_gap", "headline": True, "test": "paired_permutation", "overall": row(0.5, 0.7),
         "by_group": {"domain": {"race": row(0.2, 0.3)}, "group": {"x": row(None, None), "y": row(None, None)}}},
        {"name": "mean_sentiment", "headline": True, "test": "paired_permutation", "overall": row(0.1, 0.2),
         "by_group": {"group": {"x": row(0.1, None)}}}]}
    with console.capture() as out:
        console.print(metrics_table(comparison, {"confidence": 0.95, "correction": "holm"}))
    text = out.get()
    assert "domain=race" in text and "group=x" in text  # defined for one model: kept
    assert "group=y" not in text and "2 group rows not shown" in text
