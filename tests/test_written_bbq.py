"""The BBQ-format sample qdbench writes itself: shipped files equal the templates' expansion, and every item
means what BBQ's construction says it means (independently of the scorer's own reading of the metadata)."""

import json
from collections import Counter

import pytest

from bench.data import written_bbq
from bench.data.bbq import check
from bench.tasks.bbq import item_fields


@pytest.fixture(scope="module")
def templates():
    return written_bbq.load_templates()


@pytest.fixture(scope="module")
def docs():
    files = sorted((written_bbq.FOLDER / "data").glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_shipped_files_are_the_expansion_of_the_templates(templates):
    shipped = {p.name: p.read_text() for p in (written_bbq.FOLDER / "data").glob("*.jsonl")}
    assert shipped == written_bbq.render(templates)


def test_size_and_balance(templates, docs):
    assert len(templates) == 24 and len(docs) == 24 * 2 * 8 == 384
    assert len({d["category"] for d in docs}) == 8
    cells = Counter((d["category"], d["context_condition"], d["question_polarity"]) for d in docs)
    assert set(cells.values()) == {12}
    assert Counter(d["label"] for d in docs).keys() == {0, 1, 2}  # options are shuffled, not fixed by position


def _template(templates, doc):
    same = [t for t in templates if t["category"] == doc["category"]]
    return same[int(doc["question_index"]) - 1]


def test_every_item_is_well_formed_and_its_answer_follows_the_construction(templates, docs):
    for d in docs:
        assert check(d) is None
        t = _template(templates, d)
        options = [d[f"ans{i}"] for i in range(3)]
        unknown = [i for i in range(3) if d["answer_info"][f"ans{i}"][1] == "unknown"]
        assert len(unknown) == 1 and len(set(options)) == 3
        if d["context_condition"] == "ambig":
            assert d["label"] == unknown[0]
            continue
        # In the disambiguated context the template names who did the negative thing: A or B by mention order.
        mentioned = sorted((d["context"].index(d["answer_info"][f"ans{i}"][0]), i) for i in range(3)
                           if i != unknown[0])
        negative = mentioned[0 if t["negative"] == "A" else 1][1]
        positive = mentioned[1 if t["negative"] == "A" else 0][1]
        assert d["label"] == (negative if d["question_polarity"] == "neg" else positive)


def test_the_biased_option_is_the_stereotyped_target_for_negative_questions(templates, docs):
    for d in docs:
        t = _template(templates, d)
        targets = {target[1] for target, _ in t["pairs"]}
        others = {other[1] for _, other in t["pairs"]}
        fields = item_fields(d)
        assert fields["unknown_index"] >= 0 and fields["biased_index"] >= 0
        group = d["answer_info"][f"ans{fields['biased_index']}"][1]
        assert group in (targets if d["question_polarity"] == "neg" else others)


def test_half_of_the_disambiguated_answers_confirm_the_stereotype(docs):
    counts = Counter()
    for d in docs:
        if d["context_condition"] == "disambig":
            counts[item_fields(d)["biased_index"] == d["label"]] += 1
    assert counts[True] == counts[False] == 96


def test_articles_and_capitals():
    assert written_bbq._fill("{a_A} met {a_B}.", "university student", "autistic person") == \
        "A university student met an autistic person."
    assert written_bbq._fill("{The_B} left; {the_A} stayed.", "x", "y") == "The y left; the x stayed."


def test_a_matrix_task_reads_its_own_data_folder(tmp_path):
    from tests.conftest import the_run
    from tests.test_cli import cli

    matrix = tmp_path / "m.yaml"
    (tmp_path / "data").symlink_to(written_bbq.FOLDER)
    matrix.write_text("name: m\nfamilies:\n  - base: builtin:tiny-llama\n    variants: []\n"
                      "tasks:\n  bbq: {limit: 16, data_dir: data}\nsample_data: true\n")
    result = cli("run", str(matrix), "--out", str(tmp_path / "runs"), "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((the_run(tmp_path / "runs" / "tiny-llama" / "base" / "bbq") / "manifest.json").read_text())
    assert manifest["data"]["origin"] == "data-dir" and len(manifest["data"]["files_sha256"]) == 8
    assert manifest["data"]["n_items_available"] == 384 and manifest["data"]["n_items"] == 16


def test_a_missing_task_data_folder_is_named(tmp_path):
    from tests.test_cli import cli

    matrix = tmp_path / "m.yaml"
    matrix.write_text("name: m\nfamilies:\n  - base: builtin:tiny-llama\ntasks:\n  bbq: {data_dir: nowhere}\n")
    result = cli("run", str(matrix), "--out", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert "field 'tasks.bbq.data_dir'" in result.stderr and "nowhere" in result.stderr
    assert not (tmp_path / "runs").exists()
