"""Suites: validated, per-task limits and options, the command line's values winning."""

from pathlib import Path

import pytest

from bench.errors import UserError
from bench.exec.local import RunOptions
from bench.exec.suite import load_suite, suite_runs

REPO = Path(__file__).resolve().parents[1]


def test_default_suite_names_every_task():
    from bench.tasks.registry import list_tasks

    suite = load_suite("default")
    assert set(suite.tasks) == {t.name for t in list_tasks()}
    runs = dict(suite_runs(suite, RunOptions()))
    assert runs["bbq"].limit == 2000 and runs["crows_pairs"].limit is None
    assert runs["rtp_toxicity"].task_options["samples"] == 25


def test_command_line_wins(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("tasks:\n  bbq: {limit: 50}\n  rtp_toxicity: {options: {samples: 5}}\n")
    runs = dict(suite_runs(load_suite(str(path)), RunOptions(limit=10, task_options={"samples": 2})))
    assert runs["bbq"].limit == 10 and runs["rtp_toxicity"].task_options["samples"] == 2


@pytest.mark.parametrize("text, words", [
    ("tasks:\n  nope: {}\n", "unknown task 'nope'"),
    ("tasks:\n  bbq: {limit: 0}\n", "tasks.bbq.limit"),
    ("tasks: []\n", "field 'tasks'"),
    ("- bbq\n", "expected a mapping"),
])
def test_bad_suites(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=words):
        suite_runs(load_suite(str(path)), RunOptions())


def test_suite_end_to_end(tmp_path):
    from tests.test_cli import cli

    path = tmp_path / "two.yaml"
    path.write_text("tasks:\n  bbq: {limit: 8}\n  crows_pairs: {limit: 6}\n")
    result = cli("run", "--model", "builtin:tiny-llama", "--suite", str(path), "--out", str(tmp_path / "runs"),
                 "--quiet", "--sample-data")
    assert result.returncode == 0, result.stderr
    from tests.conftest import the_run

    assert (the_run(tmp_path / "runs" / "tiny-llama" / "bbq") / "manifest.json").is_file()
    assert (the_run(tmp_path / "runs" / "tiny-llama" / "crows_pairs") / "manifest.json").is_file()


def test_quant_vs_distill_suite_is_the_leaderboards_and_offline():
    """The matrix's suite repeats the full-* suites' entries (so its full run lands in their run folders), names
    every task, and scores toxicity with a classifier that needs nothing downloaded."""
    from bench.exec.plan import load_matrix
    from bench.tasks.registry import list_tasks
    entries = load_matrix(REPO / "configs/matrices/quant-vs-distill-smollm2.yaml").task_entries()
    assert set(entries) == {t.name for t in list_tasks()}
    for part in ("full-core", "full-tox-fair", "full-adult-zeroshot", "full-nli"):
        for name, entry in load_suite(str(REPO / f"configs/suites/{part}.yaml")).tasks.items():
            assert entries[name] == entry, (part, name)
    classifiers = {n: e.options["classifier"] for n, e in entries.items() if "classifier" in e.options}
    assert set(classifiers) == {"rtp_toxicity", "bold"}
    assert all(c.startswith("builtin:") for c in classifiers.values())
