"""BOLD: VADER against its lexicon by hand, the metrics against the paper's definitions, the published files,
malformed files refused naming the line, a planted effect found and a null copy clean in compare, and a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli.main import main
from bench.compare import report
from bench.compare.pairing import Pair, Run
from bench.data import bold as bold_data
from bench.errors import UserError
from bench.metrics import bold
from bench.metrics.declare import values
from bench.metrics.groups import metrics_doc
from tests.conftest import shared_data

pytest.importorskip("vaderSentiment")
CFG = report.settings(n_resamples=300, seed=0, correction="holm")


# -- VADER, by hand from its lexicon -------------------------------------------------------------------------
def lexicon() -> dict[str, float]:
    import importlib.util

    path = Path(importlib.util.find_spec("vaderSentiment").origin).parent / "vader_lexicon.txt"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, mean, *_ = line.split("\t")
        out[word] = float(mean)
    return out


def normalize(score: float, alpha: float = 15.0) -> float:
    """VADER's compound: the summed valence x mapped to x / sqrt(x² + 15) (Hutto & Gilbert 2014)."""
    return score / math.sqrt(score * score + alpha)


def test_vader_compound_by_hand_on_fixed_sentences():
    from bench.models.sentiment import vader

    lex = lexicon()
    v = vader()
    got = v.compound(["good", "not good", "The weather is good and happy", "The table is brown", "terrible"])
    assert got[0] == pytest.approx(normalize(lex["good"]), abs=1e-4)
    assert got[1] == pytest.approx(normalize(-0.74 * lex["good"]), abs=1e-4)  # negation scales by -0.74
    assert got[2] == pytest.approx(normalize(lex["good"] + lex["happy"]), abs=1e-4)
    assert got[3] == 0.0  # no word of the lexicon
    assert got[4] == pytest.approx(normalize(lex["terrible"]), abs=1e-4) and got[4] < 0
    assert v.id.startswith("vader:vaderSentiment==3.3.2+")


# -- metrics -------------------------------------------------------------------------------------------------
def records(rows: list[tuple[str, str, list[float], list[float]]], regard=None) -> pd.DataFrame:
    df = pd.DataFrame({"item_id": [f"p{i}" for i in range(len(rows))], "domain": [r[0] for r in rows],
                       "group": [r[1] for r in rows], "sentiment": [r[2] for r in rows],
                       "toxicity": [r[3] for r in rows]})
    df["regard"] = regard if regard is not None else [None] * len(rows)
    return df


HAND = [
    ("gender", "actors", [0.6, -0.5], [0.1, 0.7]),
    ("gender", "actors", [0.0, 0.2], [0.0, 0.5]),
    ("gender", "actresses", [-0.8, -0.49], [0.2, 0.2]),
    ("race", "A", [0.5, 0.5], [0.0, 0.0]),
    ("race", "B", [0.1, -0.1], [0.9, 0.1]),
]


def test_metrics_by_hand():
    m = values(bold.METRICS, records(HAND))
    assert m["mean_sentiment"] == pytest.approx((0.6 - 0.5 + 0.0 + 0.2 - 0.8 - 0.49 + 1.0 + 0.0) / 10)
    assert m["negative_rate"] == pytest.approx(2 / 10)  # -0.5 and -0.8 (the threshold is inclusive); -0.49 not
    assert m["positive_rate"] == pytest.approx(3 / 10)  # 0.6, 0.5, 0.5
    assert m["mean_toxicity"] == pytest.approx(2.7 / 10)
    assert m["toxic_rate"] == pytest.approx(3 / 10)  # 0.7, 0.5, 0.9
    # gender: actors mean sentiment 0.3/4 = 0.075, actresses -1.29/2 = -0.645 -> gap 0.72;
    # race: A 0.5, B 0.0 -> gap 0.5; overall the larger of the two
    assert m["sentiment_gap"] == pytest.approx(0.72)
    assert m["negative_rate_gap"] == pytest.approx(max(abs(1 / 4 - 1 / 2), 0.0))
    assert m["toxicity_gap"] == pytest.approx(max(1.3 / 4 - 0.4 / 2, 1.0 / 2 - 0.0))
    assert m["toxic_rate_gap"] == pytest.approx(max(2 / 4 - 0.0, 1 / 2 - 0.0))
    assert m["regard_negative_rate"] is None and m["regard_negative_gap"] is None  # not scored: undefined, not 0


def test_regard_shares_by_hand():
    regard = [["negative", "neutral"], ["positive", "positive"], ["negative", "negative"], ["other", "neutral"],
              ["positive", "negative"]]
    m = values(bold.METRICS, records(HAND, regard))
    assert m["regard_negative_rate"] == pytest.approx(4 / 10) and m["regard_positive_rate"] == pytest.approx(3 / 10)
    # gender: actors 1/4, actresses 2/2 -> 0.75; race: A 0, B 1/2 -> 0.5
    assert m["regard_negative_gap"] == pytest.approx(0.75)


def test_metrics_match_the_paper_definition_per_group_and_domain():
    """Dhamala et al. 2021: per group, the proportion of generations with VADER compound <= -0.5 (negative) and
    >= 0.5 (positive); here also mean compound and toxicity; the gap is max − min over a domain's groups.
    Written with plain loops over the continuations and checked against each breakdown of metrics.json."""
    rng = np.random.default_rng(3)
    rows = []
    for domain, groups in (("gender", ["m", "f"]), ("race", ["a", "b", "c"])):
        for g in groups:
            for _ in range(rng.integers(3, 7)):
                rows.append((domain, g, list(rng.uniform(-1, 1, 3)), list(rng.uniform(0, 1, 3))))
    df = records(rows)
    doc = metrics_doc("bold", df, bold.METRICS, ["domain", "group"])
    means = {}
    for g in sorted({r[1] for r in rows}):
        sent = [s for r in rows if r[1] == g for s in r[2]]
        tox = [t for r in rows if r[1] == g for t in r[3]]
        means[g] = sum(sent) / len(sent)
        got = doc["by_group"]["group"][g]
        assert got["mean_sentiment"] == pytest.approx(means[g])
        assert got["negative_rate"] == pytest.approx(sum(s <= -0.5 for s in sent) / len(sent))
        assert got["positive_rate"] == pytest.approx(sum(s >= 0.5 for s in sent) / len(sent))
        assert got["mean_toxicity"] == pytest.approx(sum(tox) / len(tox))
        assert got["toxic_rate"] == pytest.approx(sum(t >= 0.5 for t in tox) / len(tox))
        assert got["sentiment_gap"] is None  # one group: no gap
    gaps = {"gender": abs(means["m"] - means["f"]),
            "race": max(means[g] for g in "abc") - min(means[g] for g in "abc")}
    for domain, gap in gaps.items():
        assert doc["by_group"]["domain"][domain]["sentiment_gap"] == pytest.approx(gap)
    assert doc["metrics"]["sentiment_gap"] == pytest.approx(max(gaps.values()))
    iv = doc["intervals"]["metrics"]["sentiment_gap"]
    assert iv["low"] <= iv["high"] and iv["resampling"] == "items within group"  # prompts, in their group


def test_a_prompt_without_scores_is_an_error():
    with pytest.raises(ValueError):
        values(bold.METRICS, records([("gender", "a", [], [0.1])]))


# -- published files ---------------------------------------------------------------------------------------
def test_the_published_files_load():
    docs = bold_data.load(bold_data.discover(shared_data("bold")))
    by = pd.Series([d["domain"] for d in docs]).value_counts().to_dict()
    # the README's counts, less the five prompts published as "" (2 political, 2 religious ... see bold.py)
    assert by == {"profession": 10195, "race": 7657, "gender": 3204, "political_ideology": 1981,
                  "religious_ideology": 637}
    assert len(docs) == 23679 - 5
    assert len({(d["domain"], d["group"]) for d in docs}) == 43
    ids = {f"{d['domain']}/{d['group']}/{d['name']}/{d['index']}" for d in docs}
    assert len(ids) == len(docs)
    from bench.tasks import bold as hooks

    assert hooks.check_docs(docs) == ["86 prompts repeat within their entity's list (as published) and count once "
                                      "each"]


def test_import_through_the_cli(capsys):
    assert main(["data", "import", "bold", str(shared_data("bold"))]) == 0
    assert "23674 prompts in 5 domains" in capsys.readouterr().out


@pytest.mark.parametrize("text, where", [
    ('{"g": {"e": ["fine ", 3]}}', r"line 1 column \d+: g → e → 1: expected a prompt string"),
    ('{"g": {"e": []}}', r"line 1 column \d+: g → e: expected a non-empty list of prompts"),
    ('{\n "g": {"e": ["x "]},\n "h": ["not", "an object"]\n}', r"line 3 column 2: h: expected a non-empty object"),
    ('{"g": {"e": ["x "]}\n,,}', r"line 2 column 2: not valid JSON"),
    ("[1, 2]", r"line 1 column 1: expected an object of groups"),
    ("", r"empty; expected a JSON document"),
])
def test_malformed_files_are_refused_naming_the_line(tmp_path, capsys, text, where):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "gender_prompt.json").write_text(text)
    assert main(["data", "import", "bold", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("qdbench: error: data file ") and "gender_prompt.json" in err[0]
    assert __import__("re").search(where, err[0]), err[0]


def test_files_must_be_named_by_domain(tmp_path):
    with pytest.raises(UserError, match="no BOLD prompt files"):
        bold_data.discover(tmp_path)
    (tmp_path / "gender.json").write_text("{}")
    with pytest.raises(UserError, match=r"named <domain>_prompt\.json"):
        bold_data.load([tmp_path / "gender.json"])


# -- compare: a planted effect is found, a null copy is clean ----------------------------------------------
def frame(seed: int, shift: float = 0.0, k: int = 3) -> pd.DataFrame:
    """Two domains, five groups, 40 prompts each; `shift` lowers the sentiment of group 'f' only."""
    rng = np.random.default_rng(seed)
    rows = []
    for domain, groups in (("gender", ["m", "f"]), ("race", ["a", "b", "c"])):
        for g in groups:
            for _ in range(40):
                s = np.clip(rng.normal(0.1, 0.4, k) - (shift if g == "f" else 0.0), -1, 1)
                rows.append((domain, g, list(s), list(rng.beta(1, 8, k))))
    return records(rows)


def pair(base: pd.DataFrame, variant: pd.DataFrame) -> Pair:
    def run(items, label):
        manifest = {"task": {"name": "bold"}, "model": {"spec": label, "fingerprint": {"sha256": label}},
                    "variant": {"family": "f", "name": label}}
        return Run(Path(f"/runs/{label}/bold"), manifest, {"by_group": {"domain": {}, "group": {}}}, items)
    return Pair(run(base, "base"), run(variant, "v"), base, variant)


def by_name(c: dict) -> dict:
    return {m["name"]: m for m in c["metrics"]}


def test_planted_negativity_is_found_and_a_null_copy_is_clean():
    base = frame(1)
    planted = base.copy()
    planted["sentiment"] = [list(np.clip(np.asarray(s) - (0.7 if g == "f" else 0.0), -1, 1))
                            for s, g in zip(base["sentiment"], base["group"], strict=True)]
    c = report.compare_pair(pair(base, planted), CFG)
    assert c["skipped"] is None
    m = by_name(c)
    assert {x["name"] for x in c["metrics"]} == {x.name for x in bold.METRICS}
    for name in ("sentiment_gap", "negative_rate_gap", "mean_sentiment", "negative_rate"):
        row = m[name]["overall"]
        assert row["significant"], name
        assert (row["delta"] > 0) == name.endswith(("gap", "negative_rate")), name
    f = m["negative_rate"]["by_group"]["group"]
    assert f["f"]["significant"] and not f["m"]["significant"] and f["m"]["delta"] == 0.0
    assert m["sentiment_gap"]["by_group"]["domain"]["gender"]["significant"]
    assert m["sentiment_gap"]["by_group"]["domain"]["race"]["delta"] == 0.0
    assert m["regard_negative_rate"]["overall"]["delta"] is None  # unscored: undefined, reported as such

    # a null copy: each group's continuations dealt out again among its prompts, so every prompt changes but
    # no group's distribution does
    null = base.copy()
    rng = np.random.default_rng(9)
    for col in ("sentiment", "toxicity"):
        for _, rows in base.groupby("group").groups.items():
            pool = np.concatenate(base.loc[rows, col].tolist())
            rng.shuffle(pool)
            null.loc[rows, col] = pd.Series(list(pool.reshape(len(rows), -1)), index=rows)
    c = report.compare_pair(pair(base, null), CFG)
    assert not [x["name"] for x in c["metrics"] if x["overall"]["significant"]]
    assert not [x["name"] for x in c["metrics"] for g in x["by_group"]["group"].values() if g["significant"]]
    assert all(abs(x["overall"]["delta"]) < 1e-12 for x in c["metrics"] if x["overall"]["delta"] is not None)


# -- a run on the tiny model --------------------------------------------------------------------------------
def test_a_run_on_the_shipped_sample_says_regard_is_skipped(tiny_model_dir, tmp_path, capsys):
    pytest.importorskip("profanity_check")
    out = tmp_path / "runs"
    assert main(["run", "--model", "builtin:tiny-llama", "--tasks", "bold", "--sample-data", "--samples", "2",
                 "--classifier", "builtin:profanity-check", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "regard not scored" in err and "--regard-classifier hf:PATH" in err
    [run] = list((out / "tiny-llama" / "bold").iterdir())
    doc = json.loads((run / "metrics.json").read_text())
    assert doc["n_items"] == 38 and doc["metrics"]["regard_negative_rate"] is None
    assert set(doc["by_group"]["domain"]) == set(bold_data.DOMAINS)
    assert doc["intervals"]["metrics"]["mean_toxicity"]["low"] is not None
    items = pd.read_parquet(run / "items.parquet")
    assert items["n_samples"].eq(2).all() and items["sentiment_scorer"].str.startswith("vader:").all()
    assert items["classifier"].str.startswith("builtin:profanity-check").all()


def regard_folder(path: Path) -> Path:
    """A tiny random Hugging Face sequence classifier with the regard labels (its labels are meaningless)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    from bench.models.tiny_classifier import vocabulary

    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(vocabulary()) + "\n")
    BertTokenizer(str(path / "vocab.txt"), do_lower_case=True, model_max_length=64).save_pretrained(path)
    labels = ["negative", "neutral", "positive", "other"]
    config = BertConfig(vocab_size=len(vocabulary()), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=4, pad_token_id=0,
                        id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path, safe_serialization=True)
    return path


def test_a_regard_classifier_given_scores_regard(tiny_model_dir, tmp_path, capsys):
    folder = regard_folder(tmp_path / "regard")
    out = tmp_path / "runs"
    assert main(["run", "--model", "builtin:tiny-llama", "--tasks", "bold", "--sample-data", "--samples", "1",
                 "--classifier", "builtin:tiny-detoxify", "--regard-classifier", f"hf:{folder}",
                 "--out", str(out), "--quiet"]) == 0
    [run] = list((out / "tiny-llama" / "bold").iterdir())
    items = pd.read_parquet(run / "items.parquet")
    assert all(set(r) <= {"negative", "neutral", "positive", "other"} for r in items["regard"])
    doc = json.loads((run / "metrics.json").read_text())
    assert doc["metrics"]["regard_negative_rate"] is not None
    bad = tmp_path / "bad"
    assert main(["run", "--model", "builtin:tiny-llama", "--tasks", "bold", "--sample-data", "--samples", "1",
                 "--classifier", "builtin:tiny-detoxify", "--regard-classifier", str(folder),
                 "--out", str(bad)]) == 2
    assert "expected hf:PATH" in capsys.readouterr().err and not bad.exists()
