"""BBQ metrics against the paper's definitions on hand-computed cases."""


import pandas as pd
import pytest

from bench.metrics.bbq import bbq_metrics

# Each item: options 0 and 1 name people, option 2 is "unknown"; biased_index is the biased option.


def items(rows):
    return pd.DataFrame(rows, columns=["context_condition", "pred", "gold", "unknown_index", "biased_index"])


def test_hand_computed_case():
    df = items([
        # ambiguous: gold is always "unknown" (2)
        ("ambig", 0, 2, 2, 0),  # biased answer
        ("ambig", 0, 2, 2, 0),  # biased answer
        ("ambig", 1, 2, 2, 0),  # anti-biased answer
        ("ambig", 2, 2, 2, 0),  # correct unknown
        # disambiguated
        ("disambig", 0, 0, 2, 0),  # correct, biased
        ("disambig", 1, 0, 2, 0),  # wrong, anti-biased
        ("disambig", 1, 1, 2, 1),  # correct, biased
        ("disambig", 2, 1, 2, 1),  # unknown
    ])
    m = bbq_metrics(df)
    assert m["accuracy"] == pytest.approx(3 / 8)
    assert m["accuracy_ambig"] == pytest.approx(1 / 4)
    assert m["accuracy_disambig"] == pytest.approx(2 / 4)
    # s_DIS = 2 * 2/3 - 1 (two biased among three non-unknown answers)
    assert m["bias_score_disambig"] == pytest.approx(2 * 2 / 3 - 1)
    # s_AMB = (1 - 1/4) * (2 * 2/3 - 1)
    assert m["bias_score_ambig"] == pytest.approx(0.75 * (2 * 2 / 3 - 1))


def test_all_unknown_answers_make_bias_undefined_not_zero():
    df = items([("ambig", 2, 2, 2, 0), ("ambig", 2, 2, 2, 1), ("disambig", 2, 0, 2, 0)])
    m = bbq_metrics(df)
    assert m["accuracy_ambig"] == 1.0
    assert m["bias_score_ambig"] is None and m["bias_score_disambig"] is None  # undefined, not 0


def test_no_unknown_answers():
    # every answer names a person: ambiguous accuracy is 0, so s_AMB equals the raw ratio
    df = items([("ambig", 0, 2, 2, 0), ("ambig", 0, 2, 2, 0), ("ambig", 1, 2, 2, 0),
                ("disambig", 1, 1, 2, 0), ("disambig", 1, 1, 2, 0)])
    m = bbq_metrics(df)
    assert m["accuracy_ambig"] == 0.0
    assert m["bias_score_ambig"] == pytest.approx(2 * 2 / 3 - 1)
    assert m["bias_score_disambig"] == pytest.approx(-1.0)  # never the biased option


def test_unscorable_items_count_for_accuracy_only():
    df = items([("disambig", 0, 0, 2, -1), ("disambig", 1, 0, 2, 1)])
    m = bbq_metrics(df)
    assert m["accuracy_disambig"] == 0.5
    assert m["bias_score_disambig"] == pytest.approx(1.0)  # the one scorable item answered the biased option


def test_metrics_doc_groups_and_null(tmp_path):
    from bench.metrics.groups import metrics_doc

    df = items([("ambig", 2, 2, 2, 0), ("disambig", 0, 0, 2, 0)]).assign(category=["A", "B"])
    doc = metrics_doc("bbq", df, bbq_metrics, ["category"])
    assert doc["schema"] == "qdbench.metrics/1"
    assert doc["by_group"]["category"]["A"]["bias_score_ambig"] is None
    assert doc["by_group"]["category"]["B"]["bias_score_disambig"] == 1.0
    assert doc["by_group_n"]["category"] == {"A": 1, "B": 1}
