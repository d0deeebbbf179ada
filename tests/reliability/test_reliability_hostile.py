"""Hostile input (issue 21, part A): task files whose templates reach for Python's internals, YAML bombs, hostile
chat templates, lm-eval samples files crafted to escape --out or to be scored as NaN, and options past what
the model or the data allow.

The promise is the malformed-input suite's, made stricter: exit 2 and one `qdbench: error:` line naming the
file or option (and field), nothing on stdout, nothing written or deleted anywhere in the test's folder — not
in --out, not in $QDBENCH_HOME, not next to --out, not beside the input — and no code run from a YAML file or a
template (a case that ran its payload leaves a file the snapshot sees). Each case builds its input in a fresh
folder and returns (argv, what the message must name).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.paths import repo_root
from reliability.harness import record

EXAMPLE = repo_root() / "examples" / "custom_task"
Case = Callable[[Path], tuple[list[str], list[str]]]
CASES: dict[str, Case] = {}


def case(name: str):
    def add(fn: Case) -> Case:
        CASES[name] = fn
        return fn
    return add


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


# ------------------------------------------------------------------------------------------------ task templates

def _example_task(tmp: Path, edit: Callable[[str], str]) -> Path:
    folder = tmp / "t01"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "trivia_mc.yaml"
    path.write_text(edit(path.read_text()))
    return path


def _payload(tmp: Path) -> str:
    """A shell command that, if a template ran it, leaves a file in the case's folder."""
    return f"id > {tmp / 'PWNED'}"


@case("task template: os.popen through cycler.__init__.__globals__ (validate)")
def _(tmp):
    path = _example_task(tmp, lambda t: t.replace(
        'template: "Question:', "template: \"{{ cycler.__init__.__globals__.os.popen('" + _payload(tmp)
        + "').read() }}Question:"))
    return ["tasks", "validate", str(path)], [path.name, "prompt.template"]


@case("task template: os.popen through cycler.__init__.__globals__ (run --include-path)")
def _(tmp):
    path = _example_task(tmp, lambda t: t.replace(
        'template: "Question:', "template: \"{{ cycler.__init__.__globals__.os.popen('" + _payload(tmp)
        + "').read() }}Question:"))
    return ["run", "--model", "builtin:tiny-llama", "--tasks", "trivia_mc", "--include-path", str(path.parent),
            "--out", "OUT", "--quiet"], [path.name, "prompt.template"]


@case("task template: item_id reads a file through lipsum.__globals__.__builtins__.open")
def _(tmp):
    secret = _write(tmp / "secret.txt", "s3cret")
    path = _example_task(tmp, lambda t: t.replace(
        'item_id: "{{ id }}"', "item_id: \"{{ lipsum.__globals__.__builtins__.open('" + str(secret)
        + "').read() }}{{ id }}\""))
    return ["tasks", "validate", str(path)], [path.name, "item_id"]


@case("task template: a choice walks ''.__class__.__mro__[1].__subclasses__()")
def _(tmp):
    path = _example_task(tmp, lambda t: t.replace('"{{ a }}"', "\"{{ ''.__class__.__mro__[1].__subclasses__() }}\""))
    return ["tasks", "validate", str(path)], [path.name, "prompt.choices[0]"]


@case("task template: three nested range(100000) loops (bounded, not a hang)")
def _(tmp):
    loops = "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}" \
            "{% endfor %}{% endfor %}{% endfor %}"
    path = _example_task(tmp, lambda t: t.replace('template: "Question:', f'template: "{loops}Question:'))
    return ["tasks", "validate", str(path)], [path.name, "prompt.template", "100,000"]


@case("task template: 'x' doubled 40 times (bounded memory)")
def _(tmp):
    grow = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    path = _example_task(tmp, lambda t: t.replace('template: "Question:', f'template: "{grow}Question:'))
    return ["tasks", "validate", str(path)], [path.name, "prompt.template", "longer than"]


@case("task: choices: [] (validate agrees with the run)")
def _(tmp):
    path = _example_task(tmp, lambda t: t.replace('choices: ["{{ a }}", "{{ b }}"]', "choices: []"))
    return ["tasks", "validate", str(path)], [path.name, "prompt.choices"]


@case("task: an include-path task named bbq (would replace the built-in one)")
def _(tmp):
    path = _example_task(tmp, lambda t: t.replace("name: trivia_mc", "name: bbq"))
    return ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--include-path", str(path.parent),
            "--limit", "2", "--out", "OUT", "--quiet"], [str(path), "bbq.yaml", "defined twice"]


# ------------------------------------------------------------------------------------------------ YAML bombs

ALIAS_BOMB = "".join(f"{k}: &{k} [{', '.join([f'*{p}' if p else 'x'] * 10)}]\n"
                     for p, k in zip(["", "a", "b", "c", "d", "e"], "abcdef", strict=True))


def _bomb_in_options(text: str) -> str:
    bomb = "options:\n  bomb:\n" + "".join(f"    {line}\n" for line in ALIAS_BOMB.splitlines())
    return text.replace("scorer: multiple_choice", bomb + "scorer: multiple_choice")


@case("task YAML: a 6-level alias bomb in options")
def _(tmp):
    path = _example_task(tmp, _bomb_in_options)
    return ["tasks", "validate", str(path)], [path.name, "alias"]


@case("task YAML: 5,000 nested [")
def _(tmp):
    path = _example_task(tmp, lambda t: t + "notes: " + "[" * 5000 + "]" * 5000 + "\n")
    return ["tasks", "validate", str(path)], [path.name, "nested"]


@case("task YAML: a self-referencing alias")
def _(tmp):
    path = _example_task(tmp, lambda t: t.replace("scorer: multiple_choice",
                                                  "options: {loop: &loop [1, *loop]}\nscorer: multiple_choice"))
    return ["tasks", "validate", str(path)], [path.name, "self-referencing"]


@case("task YAML: 2 MB")
def _(tmp):
    path = _example_task(tmp, lambda t: t + "# " + "x" * (2 << 20) + "\n")
    return ["tasks", "validate", str(path)], [path.name, "bytes"]


@case("task YAML: an alias bomb through $QDBENCH_TASKS (any command)")
def _(tmp):
    path = _example_task(tmp, _bomb_in_options)
    os.environ["QDBENCH_TASKS"] = str(path.parent)
    return ["tasks", "list"], [path.name, "alias"]


@case("matrix YAML: an alias bomb")
def _(tmp):
    path = _write(tmp / "m.yaml", "name: m\nfamilies: [{base: builtin:tiny-llama}]\ntasks: [bbq]\n" + ALIAS_BOMB)
    return ["run", str(path), "--out", "OUT", "--quiet"], [path.name, "alias"]


@case("recipe YAML: a self-referencing alias")
def _(tmp):
    path = _write(tmp / "r.yaml", "method: rtn\nweight_bits: 8\nignore: &i [lm_head, *i]\n")
    return ["compress", "--model", "builtin:tiny-llama", "--recipe", str(path), "--out", "OUT"], [path.name,
                                                                                                 "self-referencing"]


# ------------------------------------------------------------------------------------------------ chat templates

def _chat(tmp: Path, text: str | bytes, *extra: str) -> tuple[list[str], list[str]]:
    path = _write(tmp / "chat.jinja", text)
    return ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "2", "--mode", "generate",
            "--max-new-tokens", "2", "--chat-template", str(path), *extra, "--out", "OUT", "--quiet"], \
        ["--chat-template", path.name]


CHAT = {
    "{% include %}": ('{% include "secrets.txt" %}', "cannot read other files"),
    "__subclasses__": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "sandbox"),
    "os.popen through cycler": ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "sandbox"),
    "raise_exception": ("{{ raise_exception('System role not supported') }}", "System role not supported"),
    "a syntax error": ("{% for m in messages %}{{ m.content }", "syntax error"),
    "an empty render": ("{% if false %}x{% endif %}", "empty prompt"),
    "three nested range(100000) loops": ("{% for a in range(100000) %}{% for b in range(100000) %}"
                                         "{% for c in range(100000) %}{% endfor %}{% endfor %}{% endfor %}",
                                         "100,000"),
}
def _chat_case(text: str, says: str) -> Case:
    return lambda tmp: _with(_chat(tmp, text), says)


for _name, (_text, _says) in CHAT.items():
    CASES[f"chat template: {_name}"] = _chat_case(_text, _says)


@case("chat template: not UTF-8")
def _(tmp):
    return _chat(tmp, b"\xff\xfe{{ messages }}")


@case("option: --max-new-tokens 1000000000 (the model's context is 4,096)")
def _(tmp):
    argv, _ = _chat(tmp, "{% for m in messages %}{{ m.content }}{% endfor %}")
    argv[argv.index("--max-new-tokens") + 1] = "1000000000"
    return argv, ["--max-new-tokens", "4,096"]


# ------------------------------------------------------------------------------------------------ lm-eval samples

def sample(doc_id: int, ll: list, target=0, **over) -> dict:
    conts = [f" option {k}" for k in range(len(ll))]
    rec = {"doc_id": doc_id, "doc": {"id": doc_id, "category": "ab"[doc_id % 2]}, "target": target,
           "arguments": {f"gen_args_{k}": {"arg_0": f"Question {doc_id}?", "arg_1": c} for k, c in enumerate(conts)},
           "filtered_resps": [[str(x), False] for x in ll], "doc_hash": f"h{doc_id}"}
    return {**rec, **over}


def samples_file(tmp: Path, records: list[dict], model: str = "m") -> Path:
    return _write(tmp / model / "samples_mc_2026-01-01T00-00-00.jsonl",
                  "".join(json.dumps(r) + "\n" for r in records))


def _import(tmp: Path, records: list[dict], *extra: str) -> tuple[list[str], list[str]]:
    path = samples_file(tmp, records)
    return ["import-lmeval", str(path), "--out", "OUT", *extra], [path.name]


GOOD = [sample(i, [-1.0, -2.0, -3.0]) for i in range(3)]


@case("import-lmeval: --model .. (a folder outside --out)")
def _(tmp):
    argv, _ = _import(tmp, GOOD, "--model", "..")
    return argv, ["--model", "'..'"]


@case("import-lmeval: --model with a slash")
def _(tmp):
    argv, _ = _import(tmp, GOOD, "--model", "a/../../b")
    return argv, ["--model"]


@case("import-lmeval: every log-likelihood NaN")
def _(tmp):
    return _with(_import(tmp, [sample(i, ["nan", "nan", "nan"]) for i in range(3)]), "3 of 3", "non-finite")


@case("import-lmeval: one item of three with [nan, -1, -2]")
def _(tmp):
    return _with(_import(tmp, [sample(0, ["nan", -1, -2]), *GOOD[1:]]), "1 of 3", "non-finite")


@case("import-lmeval: target NaN")
def _(tmp):
    return _with(_import(tmp, [sample(0, [-1, -2, -3], target=float("nan")), *GOOD[1:]]), "doc_id 0", "target")


@case("import-lmeval: target 10**30")
def _(tmp):
    return _with(_import(tmp, [sample(0, [-1, -2, -3], target=10**30), *GOOD[1:]]), "doc_id 0", "target")


@case("import-lmeval: filtered_resps: []")
def _(tmp):
    return _with(_import(tmp, [sample(0, [], filtered_resps=[]), *GOOD[1:]]), "line 1", "filtered_resps")


@case("import-lmeval: doc: \"hello\"")
def _(tmp):
    return _with(_import(tmp, [sample(0, [-1, -2, -3], doc="hello"), *GOOD[1:]]), "line 1", "'doc'")


@case("import-lmeval: string arguments")
def _(tmp):
    return _with(_import(tmp, [sample(0, [-1, -2, -3], arguments="context and continuation"), *GOOD[1:]]),
                 "doc_id 0", "arguments")


@case("import-lmeval: a list-valued group field")
def _(tmp):
    bad = sample(0, [-1, -2, -3])
    bad["doc"]["category"] = ["a", "b"]
    return _with(_import(tmp, [bad, *GOOD[1:]], "--fields", "category"), "doc_id 0", "category")


@case("import-lmeval: a boolean log-likelihood")
def _(tmp):
    return _with(_import(tmp, [sample(0, [-1, -2, -3], filtered_resps=[[True, False]] * 3), *GOOD[1:]]),
                 "doc_id 0", "filtered_resps")


def _with(argv_expect: tuple[list[str], list[str]], *more: str) -> tuple[list[str], list[str]]:
    argv, expect = argv_expect
    return argv, [*expect, *more]


# ------------------------------------------------------------------------------------------------ tasks export

@case("tasks export: --limit 0")
def _(tmp):
    return ["tasks", "export", "--lm-eval", "OUT", "--tasks", "bbq", "--sample-data", "--limit", "0"], ["--limit"]


@case("tasks export: --limit -3")
def _(tmp):
    return ["tasks", "export", "--lm-eval", "OUT", "--tasks", "bbq", "--sample-data", "--limit", "-3"], ["--limit"]


@case("tasks export: rtp_toxicity (not a multiple-choice task)")
def _(tmp):
    return ["tasks", "export", "--lm-eval", "OUT", "--tasks", "bbq,rtp_toxicity", "--sample-data"], [
        "rtp_toxicity", "cannot be exported"]


# ------------------------------------------------------------------------------------------------ the test

def _snapshot(root: Path, skip: Path) -> set[str]:
    """Every path below `root` but those below `skip` (--out, checked on its own) and command logs."""
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.name != "qdbench.log" and skip not in (p, *p.parents)}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_error_line(name, tmp_path, monkeypatch, capsys, tiny_model_dir):
    from bench.cli.main import main
    from bench.tasks import registry

    home = tmp_path / "home"
    monkeypatch.setenv("QDBENCH_HOME", str(home))
    shutil.copytree(tiny_model_dir.parent, home / "models" / "builtin", copy_function=os.link)  # already built
    monkeypatch.delenv("QDBENCH_TASKS", raising=False)
    monkeypatch.chdir(tmp_path)
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    argv, expect = CASES[name](case_dir)
    out = tmp_path / "out"
    argv = [str(out) if a == "OUT" else a for a in argv]
    registry._tasks_in.cache_clear()
    before = _snapshot(tmp_path, out)
    capsys.readouterr()
    try:
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse
            rc = e.code
    finally:
        registry._tasks_in.cache_clear()
        os.environ.pop("QDBENCH_TASKS", None)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    written = sorted((_snapshot(tmp_path, out) ^ before) | ({str(p) for p in out.rglob("*")} if out.exists() else
                                                             set()))
    ok = (rc == 2 and len(lines) == 1 and lines[0].startswith("qdbench: error:") and not captured.out
          and all(e in lines[0] for e in expect) and not written)
    record("hostile input", name, ok)
    assert rc == 2, captured.err[-2000:]
    assert len(lines) == 1 and lines[0].startswith("qdbench: error:"), captured.err[-2000:]
    assert not captured.out, captured.out[-2000:]
    for e in expect:
        assert e in lines[0], f"the message should name {e!r}: {lines[0]}"
    assert not written, f"written or deleted: {written}"


# ------------------------------------------------------------------------------------------------ no wrong number

def test_an_imported_nan_item_is_flagged_and_left_out(tmp_path, capsys):
    """One NaN item of 30 (under the 5 % rule): flagged `nonfinite`, counted, and left out of accuracy, which is
    then 19 of the 29 finite items (every third item predicts option 1, the others the gold option 0)."""
    import pandas as pd

    from bench.cli.main import main

    records = [sample(i, [-3, -1, -2] if i % 3 == 0 else [-1, -2, -3]) for i in range(30)]
    records[5] = sample(5, ["nan", -1, -2])
    path = samples_file(tmp_path, records)
    out = tmp_path / "runs"
    assert main(["import-lmeval", str(path), "--out", str(out), "--model", "base", "--fields", "category"]) == 0
    run = out / "base" / "lmeval-mc"
    items = pd.read_parquet(run / "items.parquet").set_index("item_id")
    assert items["nonfinite"].sum() == 1 and items.loc["5", "nonfinite"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_nonfinite"] == 1 and metrics["n_items"] == 29
    assert metrics["metrics"]["accuracy"] == pytest.approx(19 / 29)
    assert json.loads((run / "manifest.json").read_text())["data"]["n_nonfinite"] == 1
    capsys.readouterr()
    assert main(["show", str(run)]) == 0
    assert "0.655" in capsys.readouterr().out
    record("lm-eval import", "one NaN item of 30: flagged, counted, accuracy 19/29 over the finite items; show reads "
                             "it", True)


def _exported_samples(tmp_path: Path, pick: Callable[[int, dict], int]) -> Callable[[str], Path]:
    """lm-eval samples of the exported bbq task with the option `pick(i, doc)` most likely, per model."""
    from bench.cli.main import main

    assert main(["tasks", "export", "--lm-eval", str(tmp_path / "tasks"), "--tasks", "bbq", "--sample-data",
                 "--limit", "12"]) == 0
    docs = [json.loads(line) for line in (tmp_path / "tasks" / "qdbench_bbq" / "items.jsonl").read_text().splitlines()]

    def write(model: str, shift: int = 0) -> Path:
        records = []
        for i, doc in enumerate(docs):
            n = len(doc["qd_choices"])
            ll = [-1.0 if k == (pick(i, doc) + (shift if i < 3 else 0)) % n else -5.0 for k in range(n)]
            records.append({"doc_id": i, "doc": doc, "target": doc["qd_gold"],
                            "arguments": {f"gen_args_{k}": {"arg_0": doc["qd_context"], "arg_1": c}
                                          for k, c in enumerate(doc["qd_choices"])},
                            "filtered_resps": [[str(x), False] for x in ll], "doc_hash": doc["qd_id"]})
        return _write(tmp_path / model / "samples_qdbench_bbq_2026-01-01T00-00-00.jsonl",
                      "".join(json.dumps(r) + "\n" for r in records))
    return write


def test_the_lmeval_round_trip_compares_with_the_tasks_declaration(tmp_path, capsys):
    """The documented round trip: an exported qdbench task, lm-eval's samples of a base and a variant (here
    written by hand: the base always right, the variant wrong on the first 3 of 12 items), imported and
    compared with bbq's declared metrics: accuracy Δ = -3/12, with a paired test."""
    from bench.cli.main import main

    write = _exported_samples(tmp_path, lambda i, doc: doc["qd_gold"])
    out = tmp_path / "runs"
    for model, shift in (("base", 0), ("variant", 1)):
        assert main(["import-lmeval", str(write(model, shift)), "--out", str(out), "--model", model]) == 0
    assert main(["compare", str(out / "base" / "lmeval-qdbench_bbq"), str(out / "variant" / "lmeval-qdbench_bbq"),
                 "--out", str(tmp_path / "cmp"), "--no-plots", "--resamples", "200"]) == 0
    (c,) = json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparisons"]
    assert c["skipped"] is None and c["n_items"] == 12
    from bench.tasks.registry import get_task

    metrics = {m["name"]: m for m in c["metrics"]}
    assert set(metrics) == {m.name for m in get_task("bbq").declared_metrics}
    acc = metrics["accuracy"]["overall"]
    assert (acc["base"], acc["variant"], acc["delta"]) == (1.0, pytest.approx(0.75), pytest.approx(-0.25))
    assert metrics["accuracy"]["test"] == "mcnemar_exact" and acc["discordant"]["base_only"] == 3
    assert c["group_fields"] == get_task("bbq").spec.group_by
    assert c["flips"]["overall"]["n_flipped"] == 3
    record("lm-eval import", "round trip of exported bbq: compared with bbq's declared metrics, accuracy Δ -0.25",
           True)


def test_other_imported_multiple_choice_tasks_compare_by_accuracy(tmp_path, capsys):
    from bench.cli.main import main

    out = tmp_path / "runs"
    base = [sample(i, [-1, -2, -3]) for i in range(8)]
    variant = [sample(i, [-2, -1, -3] if i < 2 else [-1, -2, -3]) for i in range(8)]
    for model, records in (("base", base), ("variant", variant)):
        path = samples_file(tmp_path, records, model)
        assert main(["import-lmeval", str(path), "--out", str(out), "--model", model]) == 0
    assert main(["compare", str(out / "base" / "lmeval-mc"), str(out / "variant" / "lmeval-mc"),
                 "--out", str(tmp_path / "cmp"), "--no-plots", "--resamples", "200"]) == 0
    (c,) = json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparisons"]
    acc = next(m for m in c["metrics"] if m["name"] == "accuracy")["overall"]
    assert c["skipped"] is None and acc["delta"] == pytest.approx(-2 / 8)
    record("lm-eval import", "a task qdbench did not export: compared by accuracy, Δ -2/8", True)
