"""MNLI and HANS: metrics by hand, the spurious gaps, the published formats, end-to-end runs and nli-gap."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_data

from bench.data import hans, mnli
from bench.errors import UserError
from bench.metrics.nli import hans_metrics, mnli_metrics, spurious_gaps


def test_mnli_accuracy_by_hand():
    out = mnli_metrics(np.array([0, 1, 2, 0]), np.array([0, 1, 1, 2]))
    assert out == {"accuracy": 0.5, "accuracy_entailment": 1.0, "accuracy_neutral": 0.5,
                   "accuracy_contradiction": 0.0}


def test_hans_counts_neutral_and_contradiction_as_non_entailment():
    # gold: 2 entailment, 4 non-entailment; predictions True, True | False, True, True, Neither
    out = hans_metrics(np.array([0, 0, 2, 0, 0, 1]), np.array([0, 0, 1, 1, 1, 1]))
    assert out["accuracy_entailment"] == 1.0
    assert out["accuracy_non_entailment"] == 0.5
    assert out["gap_entailment_minus_non_entailment"] == 0.5
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert hans_metrics(np.array([0]), np.array([0]))["accuracy_non_entailment"] is None


def test_spurious_gaps_from_two_metrics_docs():
    m = {"metrics": {"accuracy": 0.8}}
    h = {"metrics": {"accuracy_entailment": 0.95, "accuracy_non_entailment": 0.2,
                     "gap_entailment_minus_non_entailment": 0.75},
         "by_group": {"heuristic": {"lexical_overlap": {"accuracy_non_entailment": 0.1}}}}
    out = spurious_gaps(m, h)
    assert out["mnli_minus_hans_non_entailment"] == pytest.approx(0.6)
    assert out["hans_gap_entailment_minus_non_entailment"] == 0.75
    assert out["mnli_minus_hans_non_entailment_lexical_overlap"] == pytest.approx(0.7)
    assert spurious_gaps({"metrics": {"accuracy": None}}, h)["mnli_minus_hans_non_entailment"] is None


def test_mnli_published_jsonl_skips_unlabelled_pairs(tmp_path):
    lines = [{"sentence1": "A b.", "sentence2": "C d", "gold_label": lab, "pairID": f"{i}e", "genre": "fiction"}
             for i, lab in enumerate(["entailment", "-", "contradiction"])]
    (tmp_path / "multinli_1.0_dev_matched.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    docs = mnli.load(mnli.discover(tmp_path))
    assert [(d["pairID"], d["label"]) for d in docs] == [("0e", 0), ("2e", 2)]


def test_mnli_tsv_layouts_keep_bare_quotes(tmp_path):
    (tmp_path / "dev_matched.tsv").write_text(
        "index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tgold_label\n"
        '0\t1\t1n\tslate\tHe said "no.\tHe spoke.\tneutral\n')
    [doc] = mnli.load(mnli.discover(tmp_path))
    assert doc["premise"] == 'He said "no.' and doc["label"] == 1 and doc["genre"] == "slate"
    berts = tmp_path / "b" / "mnli_development_set_number_of_correct_responses.txt"
    berts.parent.mkdir()
    berts.write_text("index\tpremise\thypothesis\tgold_label\tnumber of correct responses (out of 100)\n"
                     "7\tP.\tH.\tentailment\t99\n")
    assert mnli.load([berts])[0]["pairID"] == "dev-7"


def test_mnli_errors_name_the_field(tmp_path):
    bad = tmp_path / "dev_matched.tsv"
    bad.write_text("sentence1\tsentence2\tgold_label\tpairID\nP\tH\tmaybe\t1\n")
    with pytest.raises(UserError, match="gold_label"):
        mnli.load([bad])
    bad.write_text("sentence1\tsentence2\tpairID\nP\tH\t1\n")
    with pytest.raises(UserError, match="gold_label"):
        mnli.load([bad])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="multinli_1.0_dev_matched.jsonl"):
        mnli.discover(tmp_path / "empty")


HEAD = "\t".join(["gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
                  "sentence2_parse", "sentence1", "sentence2", "pairID", "heuristic", "subcase", "template"])


def test_hans_tsv_and_jsonl(tmp_path):
    row = ["non-entailment", "( a )", "( b )", "(ROOT a)", "(ROOT b)", "The doctor saw the lawyer.",
           "The lawyer saw the doctor.", "ex0", "lexical_overlap", "ln_subject/object_swap", "temp1"]
    (tmp_path / "heuristics_evaluation_set.txt").write_text(HEAD + "\n" + "\t".join(row) + "\n")
    [doc] = hans.load(hans.discover(tmp_path))
    assert doc["label"] == 1 and doc["heuristic"] == "lexical_overlap"
    js = tmp_path / "heuristics_evaluation_set.jsonl"
    js.write_text(json.dumps(dict(zip(HEAD.split("\t"), row, strict=True))) + "\n")
    assert hans.load([js]) == [doc]
    row[0] = "neutral"
    (tmp_path / "heuristics_evaluation_set.txt").write_text(HEAD + "\n" + "\t".join(row) + "\n")
    with pytest.raises(UserError, match="gold_label"):
        hans.load([tmp_path / "heuristics_evaluation_set.txt"])


def test_hans_missing_set_is_a_clear_error():
    with pytest.raises(UserError, match="heuristics_evaluation_set"):
        hans.discover(shared_data("hans"))


def test_shared_mnli_dev_parses():
    docs = mnli.load(mnli.discover(shared_data("hans")))
    assert len(docs) == 9815 and len({d["pairID"] for d in docs}) == 9815


def test_end_to_end_and_nli_gap(tmp_path, tiny_backend, capsys):
    from bench.cli.main import main
    from bench.exec.local import RunOptions, evaluate
    from bench.models.loading import resolve
    from bench.store.runs import load_run
    from bench.tasks.registry import get_task

    runs = evaluate(resolve("builtin:tiny-llama"), [get_task("mnli"), get_task("hans")],
                    RunOptions(out=tmp_path, limit=30, quiet=True), backend=tiny_backend)
    _, m_metrics, m_items = load_run(runs[0])
    _, h_metrics, h_items = load_run(runs[1])
    assert len(m_items) == 15 and len(h_items) == 30 and h_items["subcase"].nunique() == 30  # one per subcase
    assert set(h_metrics["by_group"]["heuristic"]) == {"lexical_overlap", "subsequence", "constituent"}
    correct = (h_items["pred"] == 0) == (h_items["gold"] == 0)
    assert h_metrics["metrics"]["accuracy"] == pytest.approx(correct.mean())
    assert main(["nli-gap", str(runs[0]), str(runs[1])]) == 0
    assert "mnli_minus_hans_non_entailment" in capsys.readouterr().out
    assert main(["nli-gap", str(runs[1]), str(runs[0])]) == 2
