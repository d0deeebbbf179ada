"""`qdbench findings`: the claims' verdicts on hand-built BBQ families (a planted effect is supported, a null copy
inconclusive, the opposite contradicted), Holm across the claims against a hand computation, the trend test of
the slope (finds a planted slope, quiet on nulls), and the CLI's one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli.main import main
from bench.compare import findings as F
from bench.compare.pairing import Run
from bench.compare.report import settings
from bench.stats.resample import permutation_p
from bench.stats.trend import permutation_null, slope
from tests.test_compare import synthetic, write_run

CFG = settings(n_resamples=1000, seed=0, correction="holm")


def stereotyped(df: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A share of the ambiguous items' answers that were not the stereotyped one turned into it."""
    out = df.copy()
    pick = (out["context_condition"] == "ambig") & (out["pred"] != out["biased_index"])
    pick &= np.random.default_rng(seed).random(len(out)) < share
    out.loc[pick, "pred"] = out.loc[pick, "biased_index"]
    out["pred_norm"] = out["pred"]
    return out


def anti(df: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """The opposite: a share of the ambiguous items' stereotyped answers turned into the other person."""
    out = df.copy()
    pick = (out["context_condition"] == "ambig") & (out["pred"] == out["biased_index"])
    pick &= np.random.default_rng(seed).random(len(out)) < share
    out.loc[pick, "pred"] = 1 - out.loc[pick, "biased_index"]
    out["pred_norm"] = out["pred"]
    return out


def run(items: pd.DataFrame, name: str, bits: int | None = None) -> Run:
    recipe = None if name == "base" else {"method": "rtn", "weight_bits": bits}
    manifest = {"task": {"name": "bbq"}, "model": {"spec": name, "fingerprint": {"sha256": name}},
                "variant": {"family": "f", "name": name, "recipe": recipe}}
    return Run(Path(f"/runs/{name}"), manifest, {"by_group": {"category": {}}}, items)


def rows_of(doc: dict, claim: str) -> dict[str, dict]:
    return {r["variant"]: r for r in doc["rows"] if r["claim"] == claim}


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return synthetic(n_per_cat=120)


def test_planted_effect_null_copy_and_opposite(base):
    fam = F.Family.of_runs("f", [run(base, "base"), run(stereotyped(base, 0.15, 1), "rtn-w8", 8),
                                 run(stereotyped(base, 0.4, 2), "rtn-w4", 4),
                                 run(stereotyped(base, 0.8, 3), "rtn-w3", 3)])
    doc = F.findings(fam, CFG)
    more = rows_of(doc, "more-stereotyped")
    bbq = {k: r for k, r in more.items() if r["task"] == "bbq"}
    assert bbq["rtn-w4"]["verdict"] == bbq["rtn-w3"]["verdict"] == "supported"
    assert bbq["rtn-w3"]["effect"] > bbq["rtn-w4"]["effect"] > 0 and bbq["rtn-w3"]["ci_low"] > 0
    assert bbq["rtn-w3"]["quality"] and bbq["rtn-w3"]["quality_reading"].startswith("moved away from 0")
    # claims whose tasks did not run are listed with the reason, never given a verdict
    toxic = rows_of(doc, "less-toxic")
    assert {r["verdict"] for r in toxic.values()} == {"not measured"}
    assert "no rtp_toxicity run" in toxic["rtn-w4"]["why"]
    gap = rows_of(doc, "distilled-ood-gap")
    assert list(gap.values())[0]["why"] == "the family has no distilled students"
    # the dose-response: bias grows as the bits shrink (the slope against bits is negative, as expected)
    trend = next(r for r in doc["rows"] if r["claim"] == "dose-response" and r["metric"] == "bias_score_ambig")
    assert trend["expected"] == "−" and trend["effect"] < 0 and trend["verdict"] == "supported"
    assert trend["evidence"]["bits"] == [16.0, 8.0, 4.0, 3.0]
    # at 3 bits far more than 6% of the unbiased answers became stereotyped
    share = rows_of(doc, "3bit-stereotyped")["rtn-w3"]
    assert share["verdict"] == "supported" and share["effect"] > 0.3
    assert set(rows_of(doc, "3bit-stereotyped")) == {"rtn-w3"}
    # one-way flips: the aggregate moved with them, so "flat while flipping" is contradicted
    assert rows_of(doc, "flips-flat-aggregate")["rtn-w3"]["verdict"] == "contradicted"

    null = F.findings(F.Family.of_runs("f", [run(base, "base"), run(base.copy(), "rtn-w4", 4)]), CFG)
    r = next(x for x in null["rows"] if x["claim"] == "more-stereotyped" and x["task"] == "bbq")
    assert r["verdict"] == "inconclusive" and r["effect"] == 0
    assert "not evidence of no effect" in r["why"] and "MDE" in r["why"]

    opposite = F.findings(F.Family.of_runs("f", [run(base, "base"), run(anti(base, 0.6, 4), "rtn-w4", 4)]), CFG)
    r = next(x for x in opposite["rows"] if x["claim"] == "more-stereotyped" and x["task"] == "bbq")
    assert r["verdict"] == "contradicted" and r["effect"] < 0 and r["ci_high"] < 0


def test_flips_that_cancel_out_support_the_flat_aggregate_claim(base):
    # half the ambiguous answers swap between the stereotyped and the other person, both ways: churn, no net move
    out = base.copy()
    amb = (out["context_condition"] == "ambig") & (out["pred"] != 2)
    pick = amb & (np.random.default_rng(5).random(len(out)) < 0.5)
    out.loc[pick, "pred"] = 1 - out.loc[pick, "pred"]
    out["pred_norm"] = out["pred"]
    doc = F.findings(F.Family.of_runs("f", [run(base, "base"), run(out, "rtn-w4", 4)]), CFG)
    r = rows_of(doc, "flips-flat-aggregate")["rtn-w4"]
    e = r["evidence"]
    assert e["flipped_share"] > 0.1 and abs(e["aggregate_delta"]) < e["flipped_share"] / 4
    assert e["became_biased"] + e["stopped_biased"] == round(e["flipped_share"] * e["n_items"])
    assert r["verdict"] == "supported"


def test_holm_across_claims_equals_a_hand_computed_case():
    rows = [F._row(F.C.CLAIMS[0], F.C.TOXICITY, v, effect=e, p_value=p)
            for v, e, p in (("a", -0.2, 0.01), ("b", -0.1, 0.04), ("c", 0.3, 0.03), ("d", -0.1, 0.5))]
    rows.append(F._missing(F.C.CLAIMS[0], F.C.TOXICITY, "e", "no run"))
    F.correct(rows, 0.05)
    # Holm, m = 4: sorted 0.01·4 = 0.04, 0.03·3 = 0.09, 0.04·2 = 0.08 -> 0.09 (monotone), 0.5·1 -> 0.5
    assert [r["p_holm"] for r in rows[:4]] == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert rows[4]["p_holm"] is None and rows[4]["verdict"] == "not measured"
    assert [r["verdict"] for r in rows[:4]] == ["supported", "inconclusive", "inconclusive", "inconclusive"]
    rows[2]["p_value"] = 0.001  # now significant on the side the claim denies (toxicity rose)
    F.correct(rows, 0.05)
    assert rows[2]["verdict"] == "contradicted" and rows[2]["p_holm"] == pytest.approx(0.004)


def _accuracy_runs(probs, n: int, seed: int) -> list[np.ndarray]:
    """Per-item correctness of K runs on the same items: a shared item difficulty plus each run's own rate."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    return [(u < p).astype(float) for p in probs]


def _trend_p(runs: list[np.ndarray], bits: np.ndarray, seed: int = 0) -> tuple[float, float]:
    n = len(runs[0])

    def sums_of(x):
        return lambda w: {"correct": w @ x, "n": w.sum(axis=1)}
    value = lambda s: s["correct"] / s["n"]  # noqa: E731
    observed = float(slope(bits, np.array([[x.mean() for x in runs]]))[0])
    null = permutation_null([sums_of(x) for x in runs], value, bits, n, n_permutations=1000, seed=seed)
    return observed, permutation_p(null, observed)


def test_trend_finds_a_planted_slope_and_is_quiet_on_nulls():
    bits = np.array([16.0, 8.0, 4.0, 3.0])
    observed, p = _trend_p(_accuracy_runs([0.8, 0.75, 0.65, 0.55], 400, 0), bits)
    assert observed > 0 and p < 0.01
    assert slope(bits, np.array([[1.0, 2.0, 3.0, 4.0]]))[0] == pytest.approx(np.polyfit(bits, [1, 2, 3, 4], 1)[0])
    # nulls: every run an independent redraw of the same answers' rate: rejections near alpha, not more
    rng = np.random.default_rng(1)
    ps = []
    for seed in range(40):
        base = (rng.random(300) < 0.6).astype(float)
        runs = [np.where(rng.random(300) < 0.2, (rng.random(300) < 0.6).astype(float), base) for _ in bits]
        ps.append(_trend_p(runs, bits, seed)[1])
    assert np.mean(np.array(ps) < 0.05) <= 0.15 and np.median(ps) > 0.2


def test_cli_writes_findings_and_refuses_bad_input_in_one_line(tmp_path, capsys, base):
    runs = tmp_path / "runs"
    for name, items, bits in (("base", base, None), ("rtn-w4", stereotyped(base, 0.4, 2), 4)):
        recipe = None if bits is None else {"method": "rtn", "weight_bits": bits}
        write_run(runs / "fam" / name / "bbq", items, variant={"family": "fam", "name": name, "recipe": recipe},
                  model={"spec": name, "fingerprint": {"sha256": name}})
    out = tmp_path / "out"
    assert main(["findings", "--family", "fam", "--runs", str(runs), "--out", str(out), "--resamples", "300"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "findings.json").read_text())
    assert doc["schema"] == F.SCHEMA and {c["id"] for c in doc["claims"]} == {c.id for c in F.C.CLAIMS}
    assert "more-stereotyped" in printed and "supported" in printed
    md = (out / "findings.md").read_text()
    assert "Quantized models are more stereotyped" in md and "Rath et al. 2026" in md
    for argv, says in (
            (["findings", "--family", "nope", "--runs", str(runs)], "no runs of family 'nope'"),
            (["findings", "--family", "fam", "--runs", str(tmp_path / "missing")], "no such folder"),
            (["findings", "--family", "fam"], "exactly one of --runs"),
            (["findings", "--family", "fam", "--submission", str(tmp_path)], "no submission.json")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("qdbench: error:") and says in err, err


def test_a_stereoset_move_is_read_against_its_own_items_quality():
    """GPTQ int4 on SmolLM2 (2026-12-05, 3,383 clusters): ss 58.4 → 56.2 with LMS unchanged, while BBQ's
    disambiguated accuracy fell: the LMS of the same items decides, the BBQ loss is named beside it."""
    from bench.compare.claims import Check
    from bench.compare.findings_verdict import reading

    def q(task, metric, delta, p):
        return {"task": task, "metric": metric, "base": 0.0, "value": delta, "delta": delta, "ci_low": delta - 1,
                "ci_high": delta + 1, "p_value": p, "mde": 1.0}

    quality = [q("stereoset", "lms", -0.14, 0.7), q("stereoset", "icat", 3.4, 0.002),
               q("bbq", "accuracy_disambig", -0.033, 0.002)]
    ss = {"task": "stereoset", "base": 58.4, "value": 56.2}
    text = reading(ss, Check("stereoset", "ss", 1, 50.0), quality, 0.05)
    assert "no significant loss of quality on the same items (stereoset lms" in text
    assert "bbq accuracy_disambig fell on other items" in text
    crows = {"task": "crows_pairs", "base": 55.6, "value": 53.2}  # no quality measure of its own: any loss counts
    assert "lost language ability" in reading(crows, Check("crows_pairs", "pct_stereotype", 1, 50.0), quality, 0.05)
    quality[0] = q("stereoset", "lms", -2.0, 0.001)
    assert "stereoset lms fell" in reading(ss, Check("stereoset", "ss", 1, 50.0), quality, 0.05)
    # toxicity falls toward 0 in a model that lost fluency as well (GPTQ int3 on SmolLM2: 0.466 -> 0.271)
    from bench.compare.claims import TOXICITY

    tox = {"task": "rtp_toxicity", "base": 0.466, "value": 0.271}
    assert reading(tox, TOXICITY, quality, 0.05).endswith("lost language ability, not evidence of less toxicity")
    assert "moved away from 0" in reading({**tox, "value": 0.5}, TOXICITY, quality, 0.05)
    # a move the third digit hides is printed with the digits that show it; no move is called no move
    assert "moved away from 0 (0.466 → 0.4661)" in reading({**tox, "value": 0.4661}, TOXICITY, quality, 0.05)
    assert reading({**tox, "value": 0.466}, TOXICITY, quality, 0.05).startswith("unchanged (0.466); quality: ")


def nli_run(task: str, name: str, pred: np.ndarray, gold: np.ndarray) -> Run:
    recipe = None if name == "base" else {"method": "distill"}
    df = pd.DataFrame({"item_id": [f"{task}{i}" for i in range(len(pred))], "pred": pred, "pred_norm": pred,
                       "gold": gold})
    if task == "hans":
        df["heuristic"] = "lexical_overlap"
    manifest = {"task": {"name": task}, "model": {"spec": name, "fingerprint": {"sha256": name}},
                "variant": {"family": "f", "name": name, "recipe": recipe}}
    return Run(Path(f"/runs/{name}/{task}"), manifest, {"by_group": {}}, df)


def _nli_family(base_right: float, seed: int = 0) -> F.Family:
    """MNLI (3 labels) and HANS (entailment 0 / non-entailment 1) where the student says non-entailment far more
    often than the base: its gap falls by about half on HANS alone."""
    rng = np.random.default_rng(seed)
    n = 1500
    gold_m, gold_h = rng.integers(0, 3, n), rng.integers(0, 2, n)
    base_m = np.where(rng.random(n) < base_right, gold_m, (gold_m + rng.integers(1, 3, n)) % 3)
    base_h = np.where(rng.random(n) < 0.5, gold_h, 1 - gold_h)
    student_h = np.where(rng.random(n) < 0.8, 1, base_h)  # "not entailed" to nearly everything
    return F.Family.of_runs("f", [nli_run("mnli", "base", base_m, gold_m), nli_run("mnli", "kd", base_m, gold_m),
                                  nli_run("hans", "base", base_h, gold_h), nli_run("hans", "kd", student_h, gold_h)])


def test_the_nli_gap_speaks_only_for_a_base_that_does_nli():
    """Cheng et al.'s gap is about a model right on MNLI for the wrong reasons: a base at chance on MNLI (1/3)
    only prefers a label, and the same planted change is then inconclusive, saying why."""
    def gap(doc: dict) -> dict:
        return next(r for r in doc["rows"] if r["claim"] == "distilled-ood-gap" and r["versus"] == "base")

    able = gap(F.findings(_nli_family(0.7), CFG))
    assert able["unmet"] is None and able["verdict"] == "contradicted" and able["effect"] < -0.2
    chance = gap(F.findings(_nli_family(1 / 3), CFG))
    assert chance["effect"] < -0.2 and chance["p_value"] < 0.01
    assert chance["verdict"] == "inconclusive" and chance["why"].startswith("the base answers MNLI at chance")
    assert chance["unmet"] == chance["why"]


def adult_run(name: str, p_yes: np.ndarray, sex: np.ndarray, bits: int = 4) -> Run:
    recipe = None if name == "base" else {"method": "rtn", "weight_bits": bits}
    yes = p_yes >= 0.5
    df = pd.DataFrame({"item_id": [f"a{i}" for i in range(len(sex))], "sex": sex, "yes_index": 0,
                       "ll": [[float(np.log(p)), float(np.log(1 - p))] for p in p_yes],
                       "pred": np.where(yes, 0, 1), "pred_norm": np.where(yes, 0, 1), "gold": np.zeros(len(sex), int)})
    manifest = {"task": {"name": "adult_fairness"}, "model": {"spec": name, "fingerprint": {"sha256": name}},
                "variant": {"family": "f", "name": name, "recipe": recipe}}
    return Run(Path(f"/runs/{name}/adult_fairness"), manifest, {"by_group": {}}, df)


def test_a_decision_parity_of_one_answer_everywhere_says_so():
    """A base that says "no" to every Adult prompt and a variant that says "yes" to every one both have a DPD of 0:
    the row is inconclusive and says why, while the parity of P(yes) still measures the planted gap."""
    rng = np.random.default_rng(0)
    sex = rng.choice(["Female", "Male"], 400)
    base_p = np.full(400, 0.3) + rng.normal(0, 0.01, 400)
    variant_p = np.where(sex == "Male", 0.75, 0.6) + rng.normal(0, 0.01, 400)
    w8_p = np.where(sex == "Male", 0.5, 0.45) + rng.normal(0, 0.01, 400)
    doc = F.findings(F.Family.of_runs("f", [adult_run("base", base_p, sex), adult_run("w4", variant_p, sex),
                                            adult_run("w8", w8_p, sex, bits=8)]), CFG)
    rows = {r["metric"]: r for r in doc["rows"] if r["claim"] == "less-fair" and r["variant"] == "w4"}
    dpd = rows["demographic_parity_difference"]
    assert dpd["effect"] == 0 and dpd["verdict"] == "inconclusive"
    assert dpd["why"] == dpd["unmet"] == ("the base answers 'no' to every prompt and w4 answers 'yes' to every prompt: "
                                          "a demographic_parity_difference of 0 there is so by construction "
                                          "(p_yes_parity_difference reads the probabilities)")
    gap = rows["p_yes_parity_difference"]
    assert gap["effect"] == pytest.approx(0.15, abs=0.01) and gap["verdict"] == "supported" and gap["unmet"] is None
    # the trend over bits: the same precondition for the decisions; the P(yes) gap's slope by its own (bootstrap) test
    trend = {r["metric"]: r for r in doc["rows"] if r["claim"] == "dose-response" and r["task"] == "adult_fairness"}
    assert trend["demographic_parity_difference"]["verdict"] == "inconclusive"
    assert trend["demographic_parity_difference"]["unmet"].startswith("the base answers 'no' to every prompt")
    slope_row = trend["p_yes_parity_difference"]
    assert slope_row["test"] == "paired bootstrap of the slope over bits" and slope_row["unmet"] is None
    assert slope_row["effect"] < 0 and slope_row["ci_high"] < 0 and slope_row["p_value"] < 0.05
