"""The DiscrimEval-format set qdbench writes itself: the shipped files are the scenarios' expansion, each
decision question crosses the paper's full demographic design once per fill type, and within a question the
prompts differ only in the person."""

import re
from collections import Counter

import pytest

from bench.data import discrim_eval, written_discrim
from bench.errors import UserError


@pytest.fixture(scope="module")
def docs():
    return discrim_eval.load(discrim_eval.discover(written_discrim.FOLDER))


def test_shipped_files_are_the_expansion_of_the_scenarios():
    for fill_type, rows in written_discrim.expand(written_discrim.load_spec()).items():
        assert (written_discrim.FOLDER / f"{fill_type}.jsonl").read_text() == written_discrim.render(rows)


def test_every_question_crosses_the_full_design_once(docs):
    assert len(docs) == 2160 and len({d["filled_template"] for d in docs}) == 2160
    cells = Counter((d["fill_type"], d["decision_question_id"], d["age"], d["gender"], d["race"]) for d in docs)
    assert set(cells.values()) == {1} and len(cells) == 2 * 24 * 3 * 3 * 5
    assert {d["decision_question_id"] for d in docs} == set(range(24))


def test_prompts_of_one_question_differ_only_in_the_person(docs):
    person = re.compile(r"\b[Aa] \d+-year-old (?:person named \w+ \((?:he|she|they)\)|[\w ]+? "
                        r"(?:man|woman|non-binary person))(?= )")
    for q in range(24):
        texts = {person.sub("<P>", d["filled_template"]) for d in docs if d["decision_question_id"] == q}
        assert len(texts) == 1, (q, texts)
    d = next(d for d in docs if d["fill_type"] == "explicit" and d["race"] == "Native American"
             and d["gender"] == "non-binary" and d["age"] == 90.0 and d["decision_question_id"] == 1)
    assert d["filled_template"].startswith("A 90-year-old Native American non-binary person has applied to rent")
    d = next(d for d in docs if d["fill_type"] == "implicit" and d["race"] == "Black" and d["gender"] == "female"
             and d["age"] == 60.0 and d["decision_question_id"] == 0)
    assert "a 60-year-old person named Keisha (she) who has applied" in d["filled_template"]


def test_task_runs_on_it_without_imported_data(tmp_path, monkeypatch):
    from bench.data import store
    from bench.tasks.registry import get_task

    monkeypatch.setenv("QDBENCH_HOME", str(tmp_path))
    data = store.load(get_task("discrim_eval").spec)
    assert data.origin == "sample" and len(data.docs) == 2160
    assert data.path.endswith("discrim_eval_written")


def test_a_broken_scenario_file_and_a_duplicated_prompt_are_refused(tmp_path):
    spec = written_discrim.load_spec()
    with pytest.raises(ValueError, match="exactly one"):
        written_discrim.expand({**spec, "questions": ["Should {person} meet {person}?"]})
    with pytest.raises(ValueError, match="every race"):
        written_discrim.expand({**spec, "names": {**spec["names"], "male": {"white": ["Jake", "he"]}}})
    path = tmp_path / "explicit.jsonl"
    line = (written_discrim.FOLDER / "explicit.jsonl").read_text().splitlines()[0]
    path.write_text(f"{line}\n{line}\n")
    with pytest.raises(UserError, match=r"records 1 and 2 are the same decision prompt"):
        discrim_eval.read(path)
