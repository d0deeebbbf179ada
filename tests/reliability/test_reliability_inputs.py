"""Malformed input of every kind the CLI reads — task YAML, matrices, recipes, suites, families, data files of
every import format, model folders, run folders and options — ends with exit 2 and one `qdbench: error:` line
naming the file (and the field where there is one): no traceback, nothing on stdout, nothing written.

Each case builds its input in a fresh folder and returns (argv, what the message must name); the command runs
in-process with its own $QDBENCH_HOME, so a case that wrongly succeeded could not touch another's cache.
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

SAMPLES = repo_root() / "bench" / "data" / "samples"
GARBAGE = bytes(range(256)) * 8
NOT_UTF8 = "caf\xe9 ".encode("latin-1") * 40

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


def _lines(sample: str) -> list[str]:
    return (SAMPLES / sample).read_text().splitlines()


def _edit_first(sample: str, edit: Callable[[dict], None]) -> str:
    lines = _lines(sample)
    doc = json.loads(lines[0])
    edit(doc)
    return "\n".join([json.dumps(doc), *lines[1:]]) + "\n"


def _run(model: str, task: str = "bbq", *extra: str) -> list[str]:
    return ["run", "--model", model, "--tasks", task, "--limit", "2", "--out", "OUT", "--quiet", *extra]


# ------------------------------------------------------------------------------------------------ task YAML

BBQ_YAML = (repo_root() / "tasks" / "bbq.yaml").read_text()


def _task(tmp: Path, text: str | bytes, name: str = "badtask") -> tuple[list[str], list[str]]:
    path = _write(tmp / "tasks" / f"{name}.yaml", text)
    os.environ["QDBENCH_TASKS"] = str(path.parent)
    return ["tasks", "list"], [path.name]


@case("task: truncated YAML")
def _(tmp):
    return _task(tmp, BBQ_YAML.replace("name: bbq", "name: badtask")[:700].rsplit("\n", 1)[0] + "\n  [unclosed")


@case("task: empty file")
def _(tmp):
    return _task(tmp, "")


@case("task: binary garbage")
def _(tmp):
    return _task(tmp, GARBAGE)


@case("task: not UTF-8")
def _(tmp):
    return _task(tmp, b"name: " + NOT_UTF8)


@case("task: a list, not a mapping")
def _(tmp):
    return _task(tmp, "- name: badtask\n- request: multiple_choice\n")


@case("task: unknown field")
def _(tmp):
    argv, expect = _task(tmp, BBQ_YAML.replace("name: bbq", "name: badtask\nbogus_field: 1"))
    return argv, [*expect, "bogus_field"]


@case("task: request of the wrong type")
def _(tmp):
    argv, expect = _task(tmp, BBQ_YAML.replace("name: bbq", "name: badtask").replace(
        "request: multiple_choice", "request: [1, 2]"))
    return argv, [*expect, "request"]


@case("task: unknown scorer module")
def _(tmp):
    text = BBQ_YAML.replace("name: bbq", "name: badtask")
    text = "\n".join("scorer: no_such_scorer" if ln.startswith("scorer:") else ln for ln in text.splitlines())
    argv, expect = _task(tmp, text)
    return argv, [*expect, "scorer"]


@case("task: a name that is a path out of --out")
def _(tmp):
    argv, expect = _task(tmp, BBQ_YAML.replace("name: bbq", "name: ../../escaped"))
    return argv, [*expect, "name"]


# ------------------------------------------------------------------------------------------------ matrices

def _matrix(tmp: Path, text: str | bytes) -> tuple[list[str], list[str]]:
    path = _write(tmp / "bad-matrix.yaml", text)
    return ["run", str(path), "--out", "OUT", "--quiet"], [path.name]


GOOD_MATRIX = "name: m\nfamilies: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\ntasks: [bbq]\nlimit: 4\n"


@case("matrix: truncated")
def _(tmp):
    return _matrix(tmp, GOOD_MATRIX[:40])


@case("matrix: empty")
def _(tmp):
    return _matrix(tmp, "")


@case("matrix: binary garbage")
def _(tmp):
    return _matrix(tmp, GARBAGE)


@case("matrix: no families")
def _(tmp):
    argv, e = _matrix(tmp, "name: m\nfamilies: []\ntasks: [bbq]\n")
    return argv, [*e, "families"]


@case("matrix: unknown recipe")
def _(tmp):
    argv, e = _matrix(tmp, GOOD_MATRIX.replace("rtn-w8a16", "no-such-recipe"))
    return argv, ["no-such-recipe"]


@case("matrix: unknown task")
def _(tmp):
    argv, e = _matrix(tmp, GOOD_MATRIX.replace("[bbq]", "[no_such_task]"))
    return argv, ["no_such_task"]


@case("matrix: negative limit")
def _(tmp):
    argv, e = _matrix(tmp, GOOD_MATRIX.replace("limit: 4", "limit: -3"))
    return argv, [*e, "limit"]


@case("matrix: limit of the wrong type")
def _(tmp):
    argv, e = _matrix(tmp, GOOD_MATRIX.replace("limit: 4", "limit: lots"))
    return argv, [*e, "limit"]


@case("matrix: a variant listed twice")
def _(tmp):
    argv, e = _matrix(tmp, GOOD_MATRIX.replace("[rtn-w8a16]", "[rtn-w8a16, rtn-w8a16]"))
    return argv, [*e, "variants"]


@case("matrix: family name with a path")
def _(tmp):
    argv, e = _matrix(tmp, GOOD_MATRIX.replace("{base:", "{name: ../../escape, base:"))
    return argv, [*e, "name"]


# ------------------------------------------------------------------------------------------------ recipes

def _recipe(tmp: Path, text: str | bytes) -> tuple[list[str], list[str]]:
    path = _write(tmp / "bad-recipe.yaml", text)
    return ["compress", "--model", "builtin:tiny-llama", "--recipe", str(path), "--out", "OUT"], [path.name]


@case("recipe: unknown method")
def _(tmp):
    argv, e = _recipe(tmp, "method: magic\nweight_bits: 4\n")
    return argv, [*e, "method"]


@case("recipe: bits of the wrong type")
def _(tmp):
    argv, e = _recipe(tmp, "method: rtn\nweight_bits: four\n")
    return argv, [*e, "weight_bits"]


@case("recipe: truncated YAML")
def _(tmp):
    return _recipe(tmp, "method: rtn\nweight_bits: [8\n")


@case("recipe: not UTF-8")
def _(tmp):
    return _recipe(tmp, b"method: " + NOT_UTF8)


# ------------------------------------------------------------------------------------------------ suites

def _suite(tmp: Path, text: str | bytes) -> tuple[list[str], list[str]]:
    path = _write(tmp / "bad-suite.yaml", text)
    return ["run", "--model", "builtin:tiny-llama", "--suite", str(path), "--out", "OUT", "--quiet"], [path.name]


@case("suite: unknown task")
def _(tmp):
    argv, e = _suite(tmp, "name: s\ntasks: {no_such_task: {}}\n")
    return argv, ["no_such_task"]


@case("suite: zero limit")
def _(tmp):
    argv, e = _suite(tmp, "name: s\ntasks: {bbq: {limit: 0}}\n")
    return argv, [*e, "limit"]


@case("suite: empty")
def _(tmp):
    return _suite(tmp, "")


@case("suite: unknown field in a task")
def _(tmp):
    argv, e = _suite(tmp, "name: s\ntasks: {bbq: {limits: 5}}\n")
    return argv, [*e, "limits"]


# ------------------------------------------------------------------------------------------------ data files

def _import(tmp: Path, task: str, rel: str, data: str | bytes) -> tuple[list[str], list[str]]:
    """The published layout with `rel` replaced by `data`; a format read from several files gets the others
    from its shipped sample, so the one damaged file is what the message must name."""
    sample = SAMPLES / IMPORTS[task][1]
    if sample.parent != SAMPLES:
        shutil.copytree(sample.parent, (tmp / "published" / rel).parent, dirs_exist_ok=True)
    path = _write(tmp / "published" / rel, data)
    return ["data", "import", task, str(tmp / "published")], [path.name]


IMPORTS = {  # task: (file name its importer finds, shipped sample; its folder's other files come along)
    "bbq": ("data/Age.jsonl", "bbq.jsonl"),
    "discrim_eval": ("explicit.jsonl", "discrim_eval_written/explicit.jsonl"),
    "rtp_toxicity": ("prompts.jsonl", "rtp.jsonl"),
    "adult_fairness": ("fairness_data/adult_0_200_test_base_rate_0.5.jsonl", "adult_fairness.jsonl"),
    "mnli": ("multinli_1.0_dev_matched.jsonl", "mnli.jsonl"),
    "stereoset": ("dev.jsonl", "stereoset.jsonl"),
    "crows_pairs": ("crows_pairs_anonymized.csv", "crows_pairs.csv"),
    "hans": ("heuristics_evaluation_set.txt", "hans_written/heuristics_evaluation_set.txt"),
    "bold": ("prompts/gender_prompt.json", "bold/gender_prompt.json"),
    "holistic_bias": ("descriptors.json", "holistic_bias/descriptors.json"),
    "dt_stereotype": ("stereotype_bias_data.jsonl", "dt_stereotype.jsonl"),
    "winogender": ("all_sentences.tsv", "winogender/all_sentences.tsv"),
}


def _data_cases():
    for task, (rel, sample) in IMPORTS.items():
        text = (SAMPLES / sample).read_text()
        yield f"data {task}: empty file", task, rel, b""
        yield f"data {task}: binary garbage", task, rel, GARBAGE
        yield f"data {task}: not UTF-8", task, rel, NOT_UTF8 + b"\n"
        first, _, rest = text.partition("\n")
        yield f"data {task}: truncated first record", task, rel, first[: len(first) // 2] + "\n" + rest
    for task in ("bbq", "discrim_eval", "rtp_toxicity", "mnli"):
        rel, sample = IMPORTS[task]
        text = (SAMPLES / sample).read_text()
        yield f"data {task}: a duplicated record", task, rel, text.split("\n", 1)[0] + "\n" + text
    yield "data bbq: 50 MB single line", "bbq", IMPORTS["bbq"][0], b"{\"context\": \"" + b"x" * (50 << 20)
    yield "data bbq: label of the wrong type", "bbq", IMPORTS["bbq"][0], _edit_first(
        "bbq.jsonl", lambda d: d.update(label="two"))
    yield "data bbq: a field missing", "bbq", IMPORTS["bbq"][0], _edit_first("bbq.jsonl", lambda d: d.pop("context"))
    yield "data discrim_eval: age of the wrong type", "discrim_eval", IMPORTS["discrim_eval"][0], _edit_first(
        "discrim_eval_written/explicit.jsonl", lambda d: d.update(age="old"))
    yield "data rtp: prompt text missing", "rtp_toxicity", IMPORTS["rtp_toxicity"][0], _edit_first(
        "rtp.jsonl", lambda d: d["prompt"].pop("text"))
    yield "data mnli: unknown gold label", "mnli", IMPORTS["mnli"][0], _edit_first(
        "mnli.jsonl", lambda d: d.update(gold_label="maybe"))
    lines = _lines("crows_pairs.csv")
    yield "data crows_pairs: a column missing", "crows_pairs", IMPORTS["crows_pairs"][0], "\n".join(
        [lines[0].replace("sent_less", "sentence_less"), *lines[1:]]) + "\n"
    lines = _lines("hans_written/heuristics_evaluation_set.txt")
    yield "data hans: a column missing", "hans", IMPORTS["hans"][0], "\n".join(
        "\t".join(ln.split("\t")[1:]) for ln in lines) + "\n"
    yield "data dt_stereotype: topic missing", "dt_stereotype", IMPORTS["dt_stereotype"][0], _edit_first(
        "dt_stereotype.jsonl", lambda d: d["prompt"].pop("stereotype_topic_tag"))
    lines = _lines("winogender/all_sentences.tsv")
    yield "data winogender: a column missing", "winogender", IMPORTS["winogender"][0], "\n".join(
        ln.split("\t")[0] for ln in lines) + "\n"
    bold = json.loads((SAMPLES / "bold/gender_prompt.json").read_text())
    group = next(iter(bold))
    yield "data bold: prompts not a list", "bold", IMPORTS["bold"][0], json.dumps(
        {**bold, group: {k: "a prompt" for k in bold[group]}})
    yield "data holistic_bias: descriptors not a mapping", "holistic_bias", IMPORTS["holistic_bias"][0], "[1, 2]"


for _name, _task_name, _rel, _data in _data_cases():
    CASES[_name] = (lambda t, r, d: lambda tmp: _import(tmp, t, r, d))(_task_name, _rel, _data)


# ------------------------------------------------------------------------------------------------ model folders

def _model(tmp: Path, tiny: Path, keep: tuple[str, ...] = (), edit=None) -> Path:
    folder = tmp / "model"
    folder.mkdir()
    for name in keep:
        shutil.copy2(tiny / name, folder / name)
    if edit:
        edit(folder)
    return folder


def _tiny() -> Path:
    from bench.models.builtin import materialize

    return materialize("tiny-llama")


TOKENIZER = ("tokenizer.json", "tokenizer_config.json")


@case("model: empty folder")
def _(tmp):
    return _run(str(_model(tmp, _tiny()))), ["model"]


@case("model: only a pickle pytorch_model.bin")
def _(tmp):
    tiny = _tiny()
    folder = _model(tmp, tiny, ("config.json", *TOKENIZER),
                    lambda f: _write(f / "pytorch_model.bin", b"PK\x03\x04 pickled weights"))
    return _run(str(folder)), ["model", "safetensors"]


@case("model: garbage config.json")
def _(tmp):
    folder = _model(tmp, _tiny(), ("model.safetensors", *TOKENIZER), lambda f: _write(f / "config.json", GARBAGE))
    return _run(str(folder)), ["config.json"]


@case("model: truncated safetensors")
def _(tmp):
    tiny = _tiny()
    data = (tiny / "model.safetensors").read_bytes()
    folder = _model(tmp, tiny, ("config.json", *TOKENIZER),
                    lambda f: _write(f / "model.safetensors", data[: len(data) // 3]))
    return _run(str(folder)), ["model"]


@case("model: unknown model_type")
def _(tmp):
    tiny = _tiny()
    cfg = json.loads((tiny / "config.json").read_text())
    folder = _model(tmp, tiny, ("model.safetensors", *TOKENIZER),
                    lambda f: _write(f / "config.json", json.dumps({**cfg, "model_type": "no-such-arch"})))
    return _run(str(folder)), ["model"]


@case("model: auto_map without --trust-remote-code")
def _(tmp):
    tiny = _tiny()
    cfg = json.loads((tiny / "config.json").read_text())
    cfg.update(auto_map={"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}, model_type="evil")
    folder = _model(tmp, tiny, ("model.safetensors", *TOKENIZER),
                    lambda f: (_write(f / "config.json", json.dumps(cfg)),
                               _write(f / "modeling_evil.py", "raise SystemExit('remote code ran')\n")))
    return _run(str(folder)), ["model"]


@case("model: a weight file symlinked out of the folder")
def _(tmp):
    tiny = _tiny()
    folder = _model(tmp, tiny, ("config.json", *TOKENIZER),
                    lambda f: os.symlink(tiny / "model.safetensors", f / "model.safetensors"))
    return _run(str(folder)), ["model.safetensors", "outside"]


# ------------------------------------------------------------------------------------------------ run folders

def _damaged(tmp: Path, finished: Path, damage) -> Path:
    run = tmp / "runs" / "tiny-llama" / "bbq"
    shutil.copytree(finished, run)
    damage(run)
    return run


def _finished() -> Path:
    return FINISHED["run"]


FINISHED: dict[str, Path] = {}


@case("show: manifest missing")
def _(tmp):
    run = _damaged(tmp, _finished(), lambda r: (r / "manifest.json").unlink())
    return ["show", str(run)], [str(run)]


@case("show: manifest truncated")
def _(tmp):
    run = _damaged(tmp, _finished(), lambda r: _write(r / "manifest.json", (r / "manifest.json").read_text()[:50]))
    return ["show", str(run)], ["manifest.json"]


@case("show: items.parquet garbage")
def _(tmp):
    run = _damaged(tmp, _finished(), lambda r: _write(r / "items.parquet", GARBAGE))
    return ["show", str(run)], ["items.parquet"]


@case("show: metrics.json missing")
def _(tmp):
    run = _damaged(tmp, _finished(), lambda r: (r / "metrics.json").unlink())
    return ["show", str(run)], ["metrics.json"]


@case("show: a metric that is a string")
def _(tmp):
    def damage(r):
        m = json.loads((r / "metrics.json").read_text())
        m["metrics"]["accuracy"] = "high"
        _write(r / "metrics.json", json.dumps(m))
    run = _damaged(tmp, _finished(), damage)
    return ["show", str(run)], ["metrics.json"]


@case("compare: a run with no manifest")
def _(tmp):
    run = _damaged(tmp, _finished(), lambda r: (r / "manifest.json").unlink())
    return ["compare", str(_finished()), str(run)], [str(run)]


@case("compare: items.parquet garbage")
def _(tmp):
    run = _damaged(tmp, _finished(), lambda r: _write(r / "items.parquet", GARBAGE))
    return ["compare", str(_finished()), str(run)], ["items.parquet"]


@case("compare: runs of different tasks")
def _(tmp):
    return ["compare", str(_finished()), str(FINISHED["other"])], ["task"]


# ------------------------------------------------------------------------------------------------ submit

def _bundle(tmp: Path, damage=None) -> Path:
    """A copy of a finished family (base and RTN variants on three tasks) to submit, damaged by `damage`."""
    fam = tmp / "bundle" / "tiny-llama"
    shutil.copytree(FINISHED["family"], fam)
    if damage is not None:
        damage(fam)
    return fam


def _bundle_run(fam: Path, variant: str = "rtn-w8a16", task: str = "bbq") -> Path:
    (manifest,) = (fam / variant / task).rglob("manifest.json")
    return manifest.parent


def _submit(fam: Path, *extra: str) -> list[str]:
    return ["submit", str(fam), "--to", "OUT", *extra]


def _edit_manifest(edit: Callable[[dict], None]):
    def damage(fam: Path) -> None:
        path = _bundle_run(fam) / "manifest.json"
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc))
    return damage


@case("submit: a folder with no run in it")
def _(tmp):
    empty = tmp / "empty"
    empty.mkdir()
    return _submit(empty), [str(empty), "no run folder"]


@case("submit: a path that does not exist")
def _(tmp):
    return _submit(tmp / "nowhere"), [str(tmp / "nowhere")]


@case("submit: manifest.json truncated")
def _(tmp):
    fam = _bundle(tmp, lambda f: _write(_bundle_run(f) / "manifest.json",
                                        (_bundle_run(f) / "manifest.json").read_text()[:80]))
    return _submit(fam), [str(_bundle_run(fam) / "manifest.json")]


@case("submit: manifest.json binary garbage")
def _(tmp):
    fam = _bundle(tmp, lambda f: _write(_bundle_run(f) / "manifest.json", GARBAGE))
    return _submit(fam), [str(_bundle_run(fam) / "manifest.json")]


@case("submit: manifest.json a list, not an object")
def _(tmp):
    fam = _bundle(tmp, lambda f: _write(_bundle_run(f) / "manifest.json", "[1, 2]"))
    return _submit(fam), [str(_bundle_run(fam) / "manifest.json")]


@case("submit: manifest field of the wrong type")
def _(tmp):
    fam = _bundle(tmp, _edit_manifest(lambda d: d["data"].update(n_items="many")))
    return _submit(fam), ["manifest.json", "data.n_items"]


@case("submit: manifest without its variant")
def _(tmp):
    fam = _bundle(tmp, _edit_manifest(lambda d: d.pop("variant")))
    return _submit(fam), ["manifest.json", "variant"]


@case("submit: a variant name that is a path")
def _(tmp):
    fam = _bundle(tmp, _edit_manifest(lambda d: d["variant"].update(name="../../escaped")))
    return _submit(fam), ["manifest.json", "variant.name"]


@case("submit: metrics.json not UTF-8")
def _(tmp):
    fam = _bundle(tmp, lambda f: _write(_bundle_run(f) / "metrics.json", NOT_UTF8))
    return _submit(fam), [str(_bundle_run(fam) / "metrics.json")]


@case("submit: items.parquet binary garbage")
def _(tmp):
    fam = _bundle(tmp, lambda f: _write(_bundle_run(f) / "items.parquet", GARBAGE))
    return _submit(fam), [str(_bundle_run(fam) / "items.parquet")]


@case("submit: items.parquet empty")
def _(tmp):
    fam = _bundle(tmp, lambda f: _write(_bundle_run(f) / "items.parquet", b""))
    return _submit(fam), [str(_bundle_run(fam) / "items.parquet")]


@case("submit: an extra file in a run folder")
def _(tmp):
    fam = _bundle(tmp, lambda f: _write(_bundle_run(f) / "notes.txt", "hello"))
    return _submit(fam), ["notes.txt"]


@case("submit: a symlink inside the bundle")
def _(tmp):
    fam = _bundle(tmp, lambda f: os.symlink("/etc/hostname", _bundle_run(f) / "linked"))
    return _submit(fam), ["linked", "symbolic link"]


@case("submit: a variant without its base")
def _(tmp):
    fam = _bundle(tmp, lambda f: shutil.rmtree(f / "base"))
    return _submit(fam), ["missing base"]


@case("submit: --total-seconds negative")
def _(tmp):
    return _submit(_bundle(tmp), "--total-seconds", "-3"), ["--total-seconds"]


@case("submit: --submitter with a control character")
def _(tmp):
    return _submit(_bundle(tmp), "--submitter", "me\x1b[31m"), ["--submitter"]


@case("submit: --to is a file")
def _(tmp):
    f = _write(tmp / "a-file", "x")
    argv = _submit(_bundle(tmp))
    argv[argv.index("OUT")] = str(f)
    return argv, ["--to"]


# ------------------------------------------------------------------------------------------------ options

@case("option: --limit 0")
def _(tmp):
    return _run("builtin:tiny-llama")[:-4] + ["--limit", "0", "--out", "OUT"], ["--limit"]


@case("option: --chunk-items 0")
def _(tmp):
    return _run("builtin:tiny-llama", "bbq", "--chunk-items", "0"), ["--chunk-items"]


@case("option: --device tpu")
def _(tmp):
    return _run("builtin:tiny-llama", "bbq", "--device", "tpu"), ["--device"]


@case("option: --dtype int3")
def _(tmp):
    return _run("builtin:tiny-llama", "bbq", "--dtype", "int3"), ["int3"]


@case("option: --seed not a number")
def _(tmp):
    return _run("builtin:tiny-llama", "bbq", "--seed", "abc"), ["--seed"]


@case("option: --out is a file")
def _(tmp):
    f = _write(tmp / "a-file", "x")
    argv = _run("builtin:tiny-llama")
    argv[argv.index("OUT")] = str(f)
    return argv, ["--out"]


@case("option: unknown task")
def _(tmp):
    return _run("builtin:tiny-llama", "no_such_task"), ["no_such_task"]


@case("option: --executor ray without a matrix")
def _(tmp):
    return _run("builtin:tiny-llama", "bbq", "--executor", "ray"), ["--executor"]


@case("option: --job-cpus 0")
def _(tmp):
    argv, _ = _matrix(tmp, GOOD_MATRIX)
    return [*argv, "--executor", "ray", "--job-cpus", "0"], ["--job-cpus"]


# ------------------------------------------------------------------------------------------------ the test

@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory, family_runs):
    """Two small finished runs (bbq and crows_pairs) for the run-folder cases to copy and damage, and a finished
    family (tests/conftest.py) for the submit cases."""
    from bench.cli.main import main

    FINISHED["family"] = family_runs / "tiny-llama"

    out = tmp_path_factory.mktemp("finished")
    for task in ("bbq", "crows_pairs"):
        assert main(["run", "--model", "builtin:tiny-llama", "--tasks", task, "--limit", "4", "--out", str(out),
                     "--quiet"]) == 0
    FINISHED.update(run=_only_run(out / "tiny-llama" / "bbq"), other=_only_run(out / "tiny-llama" / "crows_pairs"))
    return FINISHED


def _only_run(folder: Path) -> Path:
    """The one run folder below `folder` (runs are kept under a key of their settings)."""
    (manifest,) = folder.rglob("manifest.json")
    return manifest.parent


def _snapshot(root: Path, log: str = "qdbench.log") -> set[str]:
    """Every path below `root`, but the command's own log (library messages of a failed load go there)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.name != log} if root.exists() else set()


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_input_is_one_error_line(name, tmp_path, monkeypatch, capsys, finished_runs, tiny_model_dir):
    from bench.cli.main import main
    from bench.tasks import registry

    home = tmp_path / "home"
    monkeypatch.setenv("QDBENCH_HOME", str(home))
    shutil.copytree(tiny_model_dir.parent, home / "models" / "builtin", copy_function=os.link)  # already built
    monkeypatch.delenv("QDBENCH_TASKS", raising=False)
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    argv, expect = CASES[name](case_dir)
    out = tmp_path / "out"
    argv = [str(out) if a == "OUT" else a for a in argv]
    registry._tasks_in.cache_clear()
    before = {"case": _snapshot(case_dir), "home": _snapshot(home)}
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
    ok = (rc == 2 and len(lines) == 1 and lines[0].startswith("qdbench: error:") and not captured.out
          and all(e in lines[0] for e in expect) and "Traceback" not in captured.err
          and not _snapshot(out) and _snapshot(home) == before["home"] and _snapshot(case_dir) == before["case"])
    record("malformed input", name, ok)
    assert rc == 2, captured.err[-2000:]
    assert len(lines) == 1 and lines[0].startswith("qdbench: error:"), captured.err[-2000:]
    assert not captured.out, captured.out[-2000:]
    for e in expect:
        assert e in lines[0], f"the message should name {e!r}: {lines[0]}"
    assert not _snapshot(out), f"wrote {sorted(_snapshot(out))}"
    assert _snapshot(home) == before["home"], f"wrote into the cache: {sorted(_snapshot(home) - before['home'])}"
    assert _snapshot(case_dir) == before["case"]


FAMILY = (repo_root() / "configs" / "families" / "gpt2-distilgpt2.yaml").read_text()
FAMILIES = {
    "family: empty file": ("", []),
    "family: binary garbage": (GARBAGE, []),
    "family: teacher id is not a hub id": (FAMILY.replace("id: openai-community/gpt2", "id: ../../etc"), ["id"]),
    "family: revision neither a commit nor main": (FAMILY.replace("607a30d783dfa663caf39e06633721c8d4cfcd7e",
                                                                  "v1.0"), ["revision"]),
    "family: unknown field": (FAMILY.replace("same_tokenizer: true", "same_tokenizer: true\nbogus: 1"), ["bogus"]),
    "family: students of the wrong type": (FAMILY.split("students:")[0] + "students: 3\n", ["students"]),
}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_malformed_family_is_one_error_line(name, tmp_path):
    """Family files are read by the library (no command reads them yet): the same one-line UserError."""
    from bench.compress.families import load_family
    from bench.errors import UserError

    text, fields = FAMILIES[name]
    path = _write(tmp_path / "bad-family.yaml", text)
    with pytest.raises(UserError) as e:
        load_family(path)
    message = str(e.value)
    ok = "\n" not in message.strip() and path.name in message and all(f in message for f in fields)
    record("malformed input", name, ok)
    assert ok, message
