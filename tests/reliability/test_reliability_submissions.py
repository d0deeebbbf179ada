"""Hostile submissions, submissions folders and run folders (issue 21, part B): a submission.json edited after
acceptance, a variant whose items disagree with its base on what the items are, a manifest whose fields have the
wrong type or no finite value, a bundle nested too deep, a re-indented duplicate, a run whose `integrity` field was
deleted. Each ends with exit 2 and one `qdbench: error:` line naming the file (and field): no traceback, nothing on
stdout (no "all checks passed" first), nothing written or deleted in the case's folder or $QDBENCH_HOME.

Each case builds its input in a fresh folder and returns (argv, what the message must name). The cases are kept
apart from test_reliability_inputs' table (other work adds `submit` inputs there); they join the same tally under
"hostile submission", with the accepted-but-safe cases (a forgery shows the manifests' bits, a site built twice).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from reliability.harness import record

KIND = "hostile submission"


@dataclass
class Inputs:
    family: Path  # `qdbench run MATRIX` output of one family (tests/conftest.py: family_runs)
    subs: Path  # a submissions folder holding that family, accepted by `qdbench submit`


Case = Callable[[Path, Inputs], tuple[list[str], list[str]]]
CASES: dict[str, Case] = {}


def case(name: str):
    def add(fn: Case) -> Case:
        CASES[name] = fn
        return fn
    return add


# ------------------------------------------------------------------------------------------------ helpers

def _edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def _family(tmp: Path, inputs: Inputs) -> Path:
    dst = tmp / "in" / "tiny-llama"
    shutil.copytree(inputs.family, dst)
    return dst


def _run(family: Path, variant: str, task: str) -> Path:
    (manifest,) = (family / variant / task).rglob("manifest.json")
    return manifest.parent


def _submit(tmp: Path, *extra: str) -> list[str]:
    return ["submit", str(tmp / "in"), "--to", str(tmp / "subs"), *extra]


def _reseal(run: Path) -> None:
    """Record the files' current sha256s in the manifest, as a forger editing consistently would."""
    from bench.data.jsonl import sha256_file

    _edit_json(run / "manifest.json", lambda d: d.update(
        integrity={n: sha256_file(run / n) for n in ("items.parquet", "metrics.json")}))


def _forge_items(run: Path, edit: Callable[[pd.DataFrame], None]) -> None:
    """Edit a run's items, then write the metrics the task computes from them (trusting the `nonfinite` column,
    as a forger would) and reseal the manifest: every number consistent with the edited items."""
    from bench.store.atomic import write_json
    from bench.tasks.registry import get_task

    items = pd.read_parquet(run / "items.parquet")
    edit(items)
    items.to_parquet(run / "items.parquet", index=False)
    task = json.loads((run / "manifest.json").read_text())["task"]["name"]
    bad = items["nonfinite"].astype(bool)
    write_json(run / "metrics.json", {**get_task(task).metrics(items[~bad]), "n_nonfinite": int(bad.sum())})
    _reseal(run)


def _set(column: str, value: Callable[[pd.DataFrame], object]) -> Callable[[pd.DataFrame], None]:
    return lambda d: d.__setitem__(column, value(d))


def _accepted(tmp: Path, inputs: Inputs) -> Path:
    """A copy of the accepted submissions folder; its one submission's folder."""
    shutil.copytree(inputs.subs, tmp / "subs")
    (sub,) = (tmp / "subs" / "tiny-llama").iterdir()
    return sub


def _build(tmp: Path) -> list[str]:
    return ["leaderboard", "build", str(tmp / "subs"), "--out", str(tmp / "site"), "--resamples", "20"]


# ------------------------------------------------------------------------------------------------ submission.json

@case("submission.json: a variant's bits, bytes, kind and method edited after acceptance")
def _(tmp, inputs):
    sub = _accepted(tmp, inputs)
    _edit_json(sub / "submission.json", lambda d: d["variants"]["rtn-w4a16"].update(
        weight_bits=1, bytes=12, kind="distilled", method="KD student"))
    return _build(tmp), [str(sub / "submission.json"), "submission_sha256"]


@case("submission.json: a control character in the notes")
def _(tmp, inputs):
    sub = _accepted(tmp, inputs)
    _edit_json(sub / "submission.json", lambda d: d.update(notes="fine\x1b[2Jprint"))
    return _build(tmp), [str(sub / "submission.json"), "notes", "control"]


@case("submission.json: the submitter a number")
def _(tmp, inputs):
    sub = _accepted(tmp, inputs)
    _edit_json(sub / "submission.json", lambda d: d.update(submitter=5))
    return _build(tmp), [str(sub / "submission.json"), "submitter"]


@case("submission.json: content_sha256 edited")
def _(tmp, inputs):
    sub = _accepted(tmp, inputs)
    _edit_json(sub / "submission.json", lambda d: d.update(content_sha256="0" * 64))
    return _build(tmp), [str(sub / "submission.json")]


@case("submission.json: edited and resealed, in the folder of the original id")
def _(tmp, inputs):
    from bench.leaderboard.accept import seal

    sub = _accepted(tmp, inputs)

    def forge(d):
        d["variants"]["rtn-w4a16"].update(weight_bits=1, bytes=12)
        d.update(seal({k: v for k, v in d.items() if k != "id"}))  # a new hash, so a new id: not this folder's
    _edit_json(sub / "submission.json", forge)
    return _build(tmp), [str(sub / "submission.json"), "id"]


@case("submission.json: 1e999 in production")
def _(tmp, inputs):
    sub = _accepted(tmp, inputs)
    path = sub / "submission.json"
    doc = json.loads(path.read_text())
    doc["production"]["evaluation_wall_s"] = "INF"
    path.write_text(json.dumps(doc).replace('"INF"', "1e999"))
    return _build(tmp), [str(path), "production.evaluation_wall_s"]


# ------------------------------------------------------------------------------------------------ pairing

@case("variant items: gold shifted, metrics recomputed, hashes resealed")
def _(tmp, inputs):
    fam = _family(tmp, inputs)
    run = _run(fam, "rtn-w4a16", "bbq")
    _forge_items(run, _set("gold", lambda d: (d["gold"] + 1) % 3))
    return _submit(tmp), [str(run), "gold"]


@case("variant items: every category 'Religion', metrics recomputed, hashes resealed")
def _(tmp, inputs):
    fam = _family(tmp, inputs)
    run = _run(fam, "rtn-w4a16", "bbq")
    _forge_items(run, _set("category", lambda d: "Religion"))
    return _submit(tmp), [str(run), "category"]


@case("variant items: a NaN log-likelihood left unflagged, metrics recomputed, hashes resealed")
def _(tmp, inputs):
    fam = _family(tmp, inputs)
    run = _run(fam, "rtn-w4a16", "bbq")

    def nan(d):
        d["ll"] = d["ll"].astype(object)
        d.at[0, "ll"] = [math.nan, *list(d.at[0, "ll"])[1:]]
    _forge_items(run, nan)
    return _submit(tmp), [str(run / "items.parquet"), "nonfinite"]


@case("variant items: a bbq biased_index changed, metrics recomputed, hashes resealed")
def _(tmp, inputs):
    fam = _family(tmp, inputs)
    run = _run(fam, "rtn-w4a16", "bbq")
    _forge_items(run, _set("biased_index", lambda d: (d["biased_index"] + 1) % 3))
    return _submit(tmp), [str(run), "biased_index"]


@case("compare: a variant whose gold was shifted")
def _(tmp, inputs):
    fam = _family(tmp, inputs)
    run = _run(fam, "rtn-w4a16", "bbq")
    _forge_items(run, _set("gold", lambda d: (d["gold"] + 1) % 3))
    return ["compare", str(_run(fam, "base", "bbq")), str(run), "--no-plots", "--resamples", "20", "--out",
            str(tmp / "cmp")], ["gold"]


# ------------------------------------------------------------------------------------------------ manifest fields

def _raw_manifest(tmp: Path, inputs: Inputs, field: tuple[str, ...], raw: str) -> tuple[list[str], list[str]]:
    """A base manifest whose field `field` holds the JSON text `raw` (e.g. 1e999, which json.dumps cannot write)."""
    fam = _family(tmp, inputs)
    path = _run(fam, "base", "bbq") / "manifest.json"
    doc = json.loads(path.read_text())
    node = doc
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = "@@RAW@@"
    path.write_text(json.dumps(doc, indent=2).replace('"@@RAW@@"', raw))
    return _submit(tmp), [str(path), ".".join(field)]


@case("manifest: 1e999 as a wall time")
def _(tmp, inputs):
    return _raw_manifest(tmp, inputs, ("timings", "wall_s_last_session"), "1e999")


@case("manifest: 1e999 in a field the schema does not name")
def _(tmp, inputs):
    return _raw_manifest(tmp, inputs, ("settings", "batch_tokens"), "-1e999")


@case("manifest: timings.started not an ISO time")
def _(tmp, inputs):
    return _raw_manifest(tmp, inputs, ("timings", "started"), '"yesterday at noon"')


@case("manifest: a string where the load average belongs")
def _(tmp, inputs):
    return _raw_manifest(tmp, inputs, ("hardware", "load_avg_1m"), '"high"')


@case("manifest: a string where the wall time belongs")
def _(tmp, inputs):
    return _raw_manifest(tmp, inputs, ("timings", "wall_s_last_session"), '"12 s"')


@case("manifest: the seed a string")
def _(tmp, inputs):
    return _raw_manifest(tmp, inputs, ("seed",), '"1234"')


@case("manifest: model.path names a cached variant whose qdbench_variant.json says bytes_on_disk 'abc'")
def _(tmp, inputs):
    from bench.paths import home

    folder = home() / "variants" / "tiny-llama" / "rtn-w4a16-forged"
    folder.mkdir(parents=True)
    (folder / "qdbench_variant.json").write_text(json.dumps({"bytes_on_disk": "abc"}))
    fam = _family(tmp, inputs)
    for run in (fam / "rtn-w4a16").rglob("manifest.json"):
        _edit_json(run, lambda d: d["model"].update(path=str(folder), spec=str(folder)))
    return _submit(tmp), [str(folder / "qdbench_variant.json"), "bytes_on_disk"]


@case("option: --total-seconds inf")
def _(tmp, inputs):
    _family(tmp, inputs)
    return _submit(tmp, "--total-seconds", "inf"), ["--total-seconds"]


# ------------------------------------------------------------------------------------------------ shapes

@case("bundle: nested 1,300 folders deep")
def _(tmp, inputs):
    _family(tmp, inputs)
    deep = tmp / "in"
    for _ in range(1300):
        deep = deep / "d"
        deep.mkdir()
    (deep / "notes.txt").write_text("deep\n")
    return _submit(tmp), ["nested"]


@case("duplicate: the same runs with one manifest re-indented")
def _(tmp, inputs):
    shutil.copytree(inputs.subs, tmp / "subs")
    fam = _family(tmp, inputs)
    path = _run(fam, "rtn-w8a16", "crows_pairs") / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=7) + "\n\n")
    return _submit(tmp), ["duplicate submission"]


@case("show: the integrity field deleted and metrics.json edited")
def _(tmp, inputs):
    fam = _family(tmp, inputs)
    run = _run(fam, "base", "bbq")
    _edit_json(run / "metrics.json", lambda d: d["metrics"].update(accuracy=0.9))
    _edit_json(run / "manifest.json", lambda d: d.pop("integrity"))
    return ["show", str(run)], [str(run / "manifest.json"), "integrity"]


# ------------------------------------------------------------------------------------------------ the tests

@pytest.fixture(scope="module")
def accepted(family_runs, tmp_path_factory) -> Path:
    """The family accepted by `qdbench submit` into a submissions folder of its own."""
    from bench.cli.main import main

    subs = tmp_path_factory.mktemp("accepted") / "subs"
    assert main(["submit", str(family_runs / "tiny-llama"), "--to", str(subs), "--submitter", "ci",
                 "--notes", "made by the reliability suite"]) == 0
    return subs


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path below `root` with its size and mtime, walked without recursion (a case nests 1,300 folders),
    but the command's own log."""
    out: dict[str, tuple[int, int]] = {}
    stack = [root] if root.exists() else []
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name == "qdbench.log":
                    continue
                st = e.stat(follow_symlinks=False)
                out[os.path.relpath(e.path, root)] = (st.st_size if not e.is_dir(follow_symlinks=False) else 0,
                                                      st.st_mtime_ns if e.is_file(follow_symlinks=False) else 0)
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
    return out


def _remove(root: Path) -> None:
    """rmtree without recursion (shutil's recurses once per level)."""
    folders = [root]
    i = 0
    while i < len(folders):
        with os.scandir(folders[i]) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    folders.append(Path(e.path))
                else:
                    os.unlink(e.path)
        i += 1
    for folder in reversed(folders):
        folder.rmdir()


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from bench.cli.main import main

    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    except Exception:  # noqa: BLE001 - a traceback is what the case must not end in
        rc = 70
        print(traceback.format_exc(), end="", file=__import__("sys").stderr)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_submission_is_one_error_line(name, tmp_path, monkeypatch, capsys, family_runs, accepted):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("QDBENCH_HOME", str(home))
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    try:
        argv, expect = CASES[name](case_dir, Inputs(family_runs / "tiny-llama", accepted))
        before = {"case": _snapshot(case_dir), "home": _snapshot(home)}
        rc, out, err = _cli(argv, capsys)
        lines = err.strip().splitlines()
        after = {"case": _snapshot(case_dir), "home": _snapshot(home)}
        ok = (rc == 2 and len(lines) == 1 and lines[0].startswith("qdbench: error:") and not out
              and all(e in lines[0] for e in expect) and "Traceback" not in err and after == before)
        record(KIND, name, ok)
        assert rc == 2, (out + err)[-3000:]
        assert len(lines) == 1 and lines[0].startswith("qdbench: error:"), err[-3000:]
        assert not out, out[-2000:]
        for e in expect:
            assert e in lines[0], f"the message should name {e!r}: {lines[0]}"
        assert after["case"] == before["case"], "wrote or deleted in the case's folder: " + str(
            sorted(set(after["case"].items()) ^ set(before["case"].items()))[:5])
        assert after["home"] == before["home"], "wrote into $QDBENCH_HOME: " + str(
            sorted(set(after["home"]) ^ set(before["home"])))
    finally:
        _remove(case_dir)


# ------------------------------------------------------------------------------------------------ accepted, safely

def test_a_resealed_forgery_shows_the_bits_its_manifests_give(tmp_path, accepted, capsys):
    """A forger who edits submission.json and seals it again under the new id it hashes to gets a new submission,
    not a new truth: method, kind and bits on the site come from the verified manifests."""
    from bench.leaderboard import variants
    from bench.leaderboard.accept import seal

    shutil.copytree(accepted, tmp_path / "subs")
    (sub,) = (tmp_path / "subs" / "tiny-llama").iterdir()
    doc = json.loads((sub / "submission.json").read_text())
    doc["variants"]["rtn-w4a16"].update(weight_bits=1, kind="distilled", method="KD student", activation_bits=1)
    doc = {**doc, **seal({k: v for k, v in doc.items() if k != "id"})}
    forged = sub.parent / doc["id"]
    sub.rename(forged)
    (forged / "submission.json").write_text(json.dumps(doc, indent=2))
    rc, _, err = _cli(["leaderboard", "build", str(tmp_path / "subs"), "--out", str(tmp_path / "site"),
                       "--resamples", "20"], capsys)
    assert rc == 0, err
    data = json.loads((tmp_path / "site" / "data" / "leaderboard.json").read_text())
    row = next(r for r in data["rows"] if r["variant"] == "rtn-w4a16")
    (manifest,) = (forged / "runs" / "rtn-w4a16" / "bbq").glob("manifest.json")
    truth = variants.describe(json.loads(manifest.read_text()))
    shown = {k: row[k] for k in truth}
    record(KIND, "a resealed forgery under its new id: the site shows the manifests' method, kind and bits",
           shown == truth)
    assert shown == truth == {"method": "RTN", "kind": "quantized", "weight_bits": 4, "activation_bits": 16}


def test_submit_reads_no_file_a_manifest_names_outside_the_caches(tmp_path, family_runs, capsys):
    """model.path is the submitter's word: a folder outside qdbench's caches is not opened (its
    qdbench_variant.json here says bytes_on_disk "abc"), and the variant's bytes are recorded as not measured."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "qdbench_variant.json").write_text(json.dumps({"bytes_on_disk": "abc"}))
    fam = tmp_path / "in" / "tiny-llama"
    shutil.copytree(family_runs / "tiny-llama", fam)
    for path in (fam / "rtn-w4a16").rglob("manifest.json"):
        _edit_json(path, lambda d: d["model"].update(path=str(elsewhere)))
    rc, _, err = _cli(["submit", str(tmp_path / "in"), "--to", str(tmp_path / "subs")], capsys)
    ok = rc == 0
    if ok:
        (sub,) = (tmp_path / "subs" / "tiny-llama").iterdir()
        info = json.loads((sub / "submission.json").read_text())["variants"]["rtn-w4a16"]
        ok = info["bytes"] is None and "not measured" in info["bytes_source"]
    record(KIND, "model.path outside qdbench's caches: not read, bytes recorded as not measured", ok)
    assert ok, err[-3000:]


def test_the_site_is_built_twice_into_the_same_folder(tmp_path, accepted, capsys):
    """`leaderboard build --out site` recognizes the site it wrote and replaces it whole; a folder it did not
    write is still refused and left alone."""
    argv = ["leaderboard", "build", str(accepted), "--out", str(tmp_path / "site"), "--resamples", "20"]
    first = _cli(argv, capsys)
    stamp = (tmp_path / "site" / "data" / "leaderboard.json").stat().st_mtime_ns
    second = _cli(argv, capsys)
    ok = first[0] == 0 and second[0] == 0 and (
        tmp_path / "site" / "data" / "leaderboard.json").stat().st_mtime_ns != stamp
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("my own page\n")
    refused = _cli([*argv[:4], str(mine), *argv[5:]], capsys)
    ok = ok and refused[0] == 2 and (mine / "index.html").read_text() == "my own page\n"
    record(KIND, "the site built twice into one folder: replaced; a folder qdbench did not write: refused", ok)
    assert ok, (first, second, refused)
