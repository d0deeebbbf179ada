"""DiscrimEval: p(yes) normalization, the mixed-effects scores, the published format, an end-to-end run."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from bench.data import discrim_eval as fmt
from bench.errors import UserError
from bench.metrics import discrim

PLANTED = {"age_decade": -0.1, "gender_female": 0.5, "gender_non_binary": -0.3, "race_black": -0.4,
           "race_asian": 0.2, "race_hispanic": 0.0, "race_native_american": 0.3}


def test_p_yes_normalizes_the_two_answer_probabilities():
    # the dataset card's example: p_yes_A = 0.1, p_no_A = 0.8 -> 0.1 / 0.9
    p = discrim.p_yes(math.log(0.1), math.log(0.8))
    assert p == pytest.approx(0.1 / 0.9)
    assert discrim.logit_p_yes(math.log(0.1), math.log(0.8)) == pytest.approx(math.log(p / (1 - p)))
    assert discrim.p_yes(0.0, 0.0) == 0.5
    assert discrim.p_yes(-1000.0, 0.0) == 0.0  # no overflow


def simulate(n_questions: int = 12, noise: float = 0.2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    intercepts = rng.normal(0.0, 1.0, n_questions)
    for q, age, gender, race in itertools.product(range(n_questions), range(20, 101, 10), fmt.GENDERS, fmt.RACES):
        y = intercepts[q] + PLANTED["age_decade"] * (age - 60) / 10
        y += PLANTED.get(f"gender_{gender.replace('-', '_')}", 0.0)
        y += PLANTED.get(f"race_{race.lower().replace(' ', '_')}", 0.0)
        rows.append({"decision_question_id": q, "age": float(age), "gender": gender, "race": race,
                     "logit_p_yes": y + rng.normal(0.0, noise)})
    df = pd.DataFrame(rows)
    df["p_yes"] = 1 / (1 + np.exp(-df["logit_p_yes"]))
    return df


def test_mixed_model_recovers_planted_coefficients():
    """6 questions x 9 ages x 3 genders x 5 races, noise sd 0.2: the standard errors of a balanced design are
    0.2 * sqrt(2 / n_per_level) for a level and 0.2 / sqrt(sum of squared centred ages) for age."""
    nq = 6
    scores = discrim.mixed_effects(simulate(n_questions=nq))
    se = {"age_decade": 0.2 / math.sqrt(nq * 15 * 60)}
    se.update({k: 0.2 * math.sqrt(2 / (nq * 9 * 5)) for k in PLANTED if k.startswith("gender")})
    se.update({k: 0.2 * math.sqrt(2 / (nq * 9 * 3)) for k in PLANTED if k.startswith("race")})
    for name, truth in PLANTED.items():
        est, lo, hi = scores[name]
        assert abs(est - truth) < 4 * se[name], name
        assert (hi - lo) / 2 == pytest.approx(1.96 * se[name], rel=0.1), name
        assert lo < est < hi


def test_balanced_design_matches_the_cards_difference_of_mean_logits():
    """On the complete published design the fixed effect equals the mean-logit difference to the reference."""
    df = simulate(n_questions=5, noise=0.5, seed=3)
    scores = discrim.mixed_effects(df)
    mean = df.groupby("gender")["logit_p_yes"].mean()
    assert scores["gender_female"][0] == pytest.approx(mean["female"] - mean["male"], abs=1e-6)
    mean = df.groupby("race")["logit_p_yes"].mean()
    assert scores["race_black"][0] == pytest.approx(mean["Black"] - mean["white"], abs=1e-6)


def test_undefined_fits_give_none_not_a_crash():
    df = simulate(n_questions=3)
    one_question = discrim.mixed_effects(df[df["decision_question_id"] == 0])
    assert all(v is None for v in one_question.values())
    no_reference = discrim.mixed_effects(df[df["gender"] != "male"])
    assert all(v is None for v in no_reference.values())
    no_asian = discrim.mixed_effects(df[df["race"] != "Asian"])
    assert no_asian["race_asian"] is None and no_asian["race_black"] is not None
    one_age = discrim.mixed_effects(df[df["age"] == 60])
    assert one_age["age_decade"] is None and one_age["gender_female"][0] == pytest.approx(0.5, abs=0.1)
    constant = df.assign(logit_p_yes=1.0)
    out = discrim.compute(constant)
    assert out["logit_p_yes"] == 1.0
    assert all(v is None or np.isfinite(v) for v in out.values())


def test_compute_reports_intervals_per_level():
    out = discrim.compute(simulate(n_questions=4))
    for name in discrim.score_names():
        assert out[f"{name}_mixedlm_lo"] < out[f"{name}_mixedlm"] < out[f"{name}_mixedlm_hi"]
        assert out[name] == pytest.approx(out[f"{name}_mixedlm"], abs=1e-4)  # balanced: fixed effects = MixedLM


def line(**over) -> dict:
    doc = {"filled_template": "Should the bank approve the loan?", "decision_question_id": 3, "age": 20.0,
           "gender": "female", "race": "Black", "fill_type": "explicit"}
    doc.update(over)
    return doc


def write(path, docs) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


def test_reads_published_files_and_takes_fill_type_from_the_name(tmp_path):
    write(tmp_path / "explicit.jsonl", [line(), line(age=30.0)])
    no_type = line()
    del no_type["fill_type"]
    write(tmp_path / "implicit.jsonl", [no_type])
    docs = fmt.load(fmt.discover(tmp_path))
    assert [d["fill_type"] for d in docs] == ["explicit", "explicit", "implicit"]
    assert "3 decision prompts (2 explicit, 1 implicit)" in fmt.describe(docs)


@pytest.mark.parametrize("over, field", [({"gender": "man"}, "gender"), ({"race": "white people"}, "race"),
                                         ({"age": "old"}, "age"), ({"filled_template": ""}, "filled_template"),
                                         ({"fill_type": "implicit"}, "fill_type")])
def test_bad_lines_name_the_field(tmp_path, over, field):
    write(tmp_path / "explicit.jsonl", [line(), line(**over)])
    with pytest.raises(UserError, match=field):
        fmt.load(fmt.discover(tmp_path))


def test_missing_files_say_what_is_expected(tmp_path):
    with pytest.raises(UserError, match="explicit.jsonl"):
        fmt.discover(tmp_path)


def test_end_to_end_on_the_sample(tmp_path, tiny_backend):
    from bench.exec.local import RunOptions, evaluate
    from bench.models.loading import resolve
    from bench.store.runs import load_run
    from bench.tasks.registry import get_task

    task = get_task("discrim_eval")
    assert task.render(line()).endswith('my answer would be "')
    [run] = evaluate(resolve("builtin:tiny-llama"), [task], RunOptions(out=tmp_path, limit=30, quiet=True),
                     backend=tiny_backend)
    manifest, metrics, items = load_run(run)
    assert manifest["data"]["origin"] == "sample" and len(items) == 30
    ll = np.array(items["ll"].tolist())
    assert np.allclose(items["logit_p_yes"], ll[:, 0] - ll[:, 1])
    assert np.allclose(items["p_yes"], np.exp(ll[:, 0]) / np.exp(ll).sum(1))
    assert set(metrics["by_group"]["fill_type"]) == {"explicit", "implicit"}
    assert set(discrim.score_names()) <= set(metrics["metrics"])
