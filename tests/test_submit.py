"""`qdbench submit`: a family from `qdbench run MATRIX` is accepted; every kind of tampered copy is refused with
a message naming the file and field, and nothing is added."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import the_run

from bench.cli.main import main


def _copy(family_runs: Path, dst: Path) -> Path:
    shutil.copytree(family_runs / "tiny-llama", dst / "tiny-llama")
    return dst / "tiny-llama"


def _edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _reseal(run: Path) -> None:
    """Record the files' current sha256s in the manifest, as a forger editing consistently would."""
    from bench.data.jsonl import sha256_file

    _edit_json(run / "manifest.json", lambda d: d.update(
        integrity={n: sha256_file(run / n) for n in ("items.parquet", "metrics.json")}))


def _submit(capsys, *args) -> tuple[int, str, str]:
    rc = main(["submit", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_a_family_from_a_matrix_run_is_accepted_and_a_duplicate_is_not(family_runs, tmp_path, capsys):
    to = tmp_path / "subs"
    rc, out, err = _submit(capsys, family_runs / "tiny-llama", "--to", to, "--submitter", "ci",
                           "--total-seconds", "12.5")
    assert rc == 0, err
    assert "3 variants (base, rtn-w4a16, rtn-w8a16) × 3 tasks" in out and "added" in out
    [sub] = list((to / "tiny-llama").iterdir())
    doc = json.loads((sub / "submission.json").read_text())
    assert doc["schema"] == "qdbench.submission/2" and doc["submitter"] == "ci"
    assert doc["production"]["reported_total_s"] == 12.5 and doc["production"]["evaluation_wall_s"] > 0
    assert doc["variants"]["rtn-w4a16"]["method"] == "RTN" and doc["variants"]["rtn-w4a16"]["weight_bits"] == 4
    assert doc["variants"]["base"]["bytes"] > doc["variants"]["rtn-w8a16"]["bytes"] > 0
    assert len(doc["runs"]) == 9
    for r in doc["runs"]:
        for name, f in r["files"].items():
            assert (sub / r["path"] / name).stat().st_size == f["bytes"]
    before = _tree(to)
    rc, _, err = _submit(capsys, family_runs / "tiny-llama", "--to", to)
    assert rc == 2 and "duplicate submission" in err and str(sub) in err
    assert _tree(to) == before


@pytest.mark.parametrize("case", ["metric", "group_metric", "missing_base", "traversal", "hostile_family",
                                  "items_changed", "declared_hash", "unsealed_edit", "interval", "symlink_out",
                                  "extra_file", "other_items", "two_builds"])
def test_tampered_copies_are_refused_whole(case, family_runs, tmp_path, capsys):
    fam = _copy(family_runs, tmp_path / "in")
    run = the_run(fam / "rtn-w4a16" / "bbq")
    expect: tuple[str, ...]
    if case == "metric":
        _edit_json(run / "metrics.json", lambda d: d["metrics"].update(accuracy=0.99))
        _reseal(run)
        expect = (f"{run / 'metrics.json'}", "field 'metrics.accuracy'", "reported 0.99 but the items give")
    elif case == "interval":
        _edit_json(run / "metrics.json", lambda d: d["intervals"]["metrics"]["accuracy"].update(low=-0.5))
        _reseal(run)
        expect = (f"{run / 'metrics.json'}", "field 'intervals.metrics.accuracy.low'", "reported -0.5")
    elif case == "unsealed_edit":  # edited without updating the manifest: issue 16's verify_run catches it
        _edit_json(run / "metrics.json", lambda d: d["metrics"].update(accuracy=0.99))
        expect = (f"{run / 'metrics.json'}", "sha256 differs from the one in manifest.json")
    elif case == "group_metric":
        def bump(d):
            group = next(iter(d["by_group"]["category"]))
            d["by_group"]["category"][group]["accuracy"] = 0.5 + 0.25 * (d["by_group"]["category"][group]
                                                                          ["accuracy"] != 0.5)
        _edit_json(run / "metrics.json", bump)
        _reseal(run)
        expect = ("field 'by_group.category.", "but the items give")
    elif case == "missing_base":
        shutil.rmtree(fam / "base" / "bbq")
        expect = ("missing base", "task 'bbq'")
    elif case == "traversal":
        _edit_json(run / "manifest.json", lambda d: d["variant"].update(name="../../escaped"))
        expect = (f"{run / 'manifest.json'}", "field 'variant.name'", "not an accepted name")
    elif case == "hostile_family":
        for m in fam.rglob("manifest.json"):
            _edit_json(m, lambda d: d["variant"].update(family="<img src=x onerror=alert(1)>"))
        expect = ("field 'variant.family'", "not an accepted name")
    elif case == "items_changed":
        items = pd.read_parquet(run / "items.parquet")
        items.iloc[1:].to_parquet(run / "items.parquet", index=False)
        _reseal(run)
        expect = (f"{run / 'items.parquet'}", "data.n_items")
    elif case == "declared_hash":
        _edit_json(run / "manifest.json", lambda d: d["integrity"].update({"items.parquet": "0" * 64}))
        expect = (f"{run / 'items.parquet'}", "sha256 differs from the one in manifest.json")
    elif case == "symlink_out":
        outside = tmp_path / "elsewhere.parquet"
        shutil.move(run / "items.parquet", outside)
        os.symlink(outside, run / "items.parquet")
        expect = (f"{run / 'items.parquet'}", "symbolic link")
    elif case == "extra_file":
        (run / "model.pkl").write_bytes(b"\x80\x04")
        expect = (f"{run / 'model.pkl'}", "unexpected file")
    elif case == "two_builds":  # one task of the variant measured on another build of its weights
        _edit_json(run / "manifest.json", lambda d: d["model"]["fingerprint"].update(sha256="ab" * 32))
        expect = ("variant 'rtn-w4a16' was measured on 2 builds", "abababababab: bbq", "run every task")
    else:  # the same number of items, but other ones: the ids no longer hash to the manifest's value
        items = pd.read_parquet(run / "items.parquet")
        items.loc[0, "item_id"] = "forged-0"
        items.to_parquet(run / "items.parquet", index=False)
        _reseal(run)
        expect = ("hash mismatch", "data.items_sha256")
    to = tmp_path / "subs"
    rc, out, err = _submit(capsys, fam, "--to", to)
    assert rc == 2, out
    assert err.startswith("qdbench: error: ") and err.count("\n") == 1, err
    for text in expect:
        assert text in err, err
    assert _tree(to) == []


def test_a_failure_while_adding_the_second_family_removes_the_first(family_runs, tmp_path, capsys, monkeypatch):
    src = _copy(family_runs, tmp_path / "in")
    other = tmp_path / "in" / "other"
    shutil.copytree(src, other)
    for m in other.rglob("manifest.json"):
        _edit_json(m, lambda d: d["variant"].update(family="tiny-other"))
    import bench.leaderboard.accept as accept

    real, calls = os.replace, []

    def flaky(a, b):
        calls.append(b)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(a, b)

    monkeypatch.setattr(accept.os, "replace", flaky)
    to = tmp_path / "subs"
    rc, _, err = _submit(capsys, tmp_path / "in", "--to", to)  # the CLI reports an OSError as one error line
    assert rc == 2 and "No space left on device" in err
    assert len(calls) == 2
    assert [p for p in to.rglob("*") if p.is_file()] == []


def test_size_limits_are_enforced(family_runs, tmp_path, capsys, monkeypatch):
    from bench.leaderboard import limits

    monkeypatch.setattr(limits, "MAX_ITEMS_BYTES", 100)
    rc, _, err = _submit(capsys, family_runs / "tiny-llama", "--to", tmp_path / "subs", "--dry-run")
    assert rc == 2 and "items.parquet" in err and "at most 100 are accepted" in err


def test_free_text_with_control_characters_is_refused(family_runs, tmp_path, capsys):
    rc, _, err = _submit(capsys, family_runs / "tiny-llama", "--to", tmp_path / "subs", "--notes", "a\x1b[2Jb")
    assert rc == 2 and "--notes: contains control characters" in err


def test_an_accepted_submission_edited_later_is_refused_by_the_build(family_runs, tmp_path, capsys):
    to = tmp_path / "subs"
    assert _submit(capsys, family_runs / "tiny-llama", "--to", to)[0] == 0
    [sub] = list((to / "tiny-llama").iterdir())
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(to), "--out", str(site), "--resamples", "200"]) == 0
    data = json.loads((site / "data" / "leaderboard.json").read_text())
    assert {r["variant"] for r in data["rows"]} == {"base", "rtn-w8a16", "rtn-w4a16"}
    path = sub / "runs" / "rtn-w8a16" / "bbq" / "metrics.json"
    _edit_json(path, lambda d: d["metrics"].update(accuracy=1.0))
    capsys.readouterr()
    assert main(["leaderboard", "build", str(to), "--out", str(site)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: hash mismatch with submission.json" in err
    assert (site / "index.html").is_file()  # the previous site stays whole


def test_a_submission_is_superseded_only_by_one_that_keeps_all_its_runs(family_runs, tmp_path, capsys, monkeypatch):
    """`--supersedes`: more runs of the same family replace an accepted submission; variants whose folders are not
    on this machine keep the bytes it measured for the same weights; one that drops a run is refused whole."""
    from bench.leaderboard import variants

    to = tmp_path / "subs"
    fam = family_runs / "tiny-llama"
    first = sorted(fam.glob("*/bbq")) + sorted(fam.glob("*/crows_pairs"))
    rc, _, err = _submit(capsys, *first, "--to", to)
    assert rc == 0, err
    [old] = list((to / "tiny-llama").iterdir())
    old_doc = json.loads((old / "submission.json").read_text())
    monkeypatch.setattr(variants, "own_folder", lambda path: None)  # no variant folder on "this machine"

    rc, _, err = _submit(capsys, *sorted(fam.glob("*/bbq")), *sorted(fam.glob("*/stereoset")), "--to", to,
                         "--supersedes", old)
    assert rc == 2 and "crows_pairs is not among the runs given" in err
    assert list((to / "tiny-llama").iterdir()) == [old]

    monkeypatch.chdir(tmp_path)  # named as the help has it, FAMILY/ID under --to
    rc, out, err = _submit(capsys, fam, "--to", to, "--supersedes", old.relative_to(to))
    assert rc == 0, err
    assert not old.exists() and "superseded" in out
    [new] = list((to / "tiny-llama").iterdir())
    doc = json.loads((new / "submission.json").read_text())
    assert len(doc["runs"]) == 9
    for name, size in doc["variants"].items():
        assert size["bytes"] == old_doc["variants"][name]["bytes"] > 0
        assert f"measured for submission {old_doc['id']}" in size["bytes_source"]

    assert main(["leaderboard", "build", str(to), "--out", str(tmp_path / "site"), "--resamples", "50"]) == 0


def test_carried_bytes_name_the_submission_that_measured_them_once():
    from bench.leaderboard.accept import carry

    manifest = {"model": {"fingerprint": {"sha256": "ab"}}}
    size = {"bytes": None, "bytes_source": None}
    first = carry(size, manifest, "20261201-aaa", ("ab", {"bytes": 7, "bytes_source": "qdbench_variant.json"}))
    assert first["bytes"] == 7
    assert first["bytes_source"] == "qdbench_variant.json (measured for submission 20261201-aaa, the same weights by " \
        "fingerprint)"
    assert carry(size, manifest, "20261202-bbb", ("ab", first)) == first
    assert carry(size, manifest, "20261202-bbb", ("cd", first)) == size  # other weights carry nothing


def test_a_run_measured_again_replaces_its_old_copy_only_when_named(family_runs, tmp_path, capsys):
    """--remeasured VARIANT/TASK: the new run of that variant and task stands in for the old one; every other
    run must still be there byte for byte, and a name the old submission does not hold is refused."""
    to = tmp_path / "subs"
    earlier = _copy(family_runs, tmp_path / "earlier")
    _edit_json(the_run(earlier / "rtn-w4a16" / "crows_pairs") / "manifest.json",
               lambda d: d["timings"].update(wall_s_last_session=999.0))  # the same task, measured another time
    rc, _, err = _submit(capsys, *sorted(earlier.glob("*/bbq")), *sorted(earlier.glob("*/crows_pairs")), "--to", to)
    assert rc == 0, err
    [old] = list((to / "tiny-llama").iterdir())
    fam = family_runs / "tiny-llama"

    rc, _, err = _submit(capsys, fam, "--to", to, "--supersedes", old)
    assert rc == 2 and "rtn-w4a16/crows_pairs is not among the runs given" in err
    rc, _, err = _submit(capsys, fam, "--to", to, "--supersedes", old, "--remeasured", "rtn-w4a16/stereoset")
    assert rc == 2 and "--remeasured rtn-w4a16/stereoset" in err and "has no run of that variant and task" in err
    rc, _, err = _submit(capsys, fam, "--to", to, "--remeasured", "rtn-w4a16/crows_pairs")
    assert rc == 2 and "give --supersedes" in err
    assert list((to / "tiny-llama").iterdir()) == [old]

    rc, out, err = _submit(capsys, fam, "--to", to, "--supersedes", old, "--remeasured", "rtn-w4a16/crows_pairs")
    assert rc == 0, err
    assert not old.exists() and "superseded" in out


def test_compare_reads_an_accepted_submission_and_its_measured_sizes(family_runs, tmp_path, capsys):
    """`compare --family F --submission PATH`: the verified submission's runs, its measured bytes beside each pair;
    the same refusals as findings (exit 2, one line)."""
    to = tmp_path / "subs"
    assert _submit(capsys, family_runs / "tiny-llama", "--to", to)[0] == 0
    [sub] = list((to / "tiny-llama").iterdir())
    doc = json.loads((sub / "submission.json").read_text())
    out = tmp_path / "cmp"
    assert main(["compare", "--family", "tiny-llama", "--submission", str(sub), "--pair", "rtn-w8a16:rtn-w4a16",
                 "--out", str(out), "--resamples", "100", "--no-plots", "--format", "json"]) == 0
    capsys.readouterr()
    cmp = json.loads((out / "compare.json").read_text())
    [pair] = cmp["variant_pairs"]
    assert (pair["a"]["weight_bytes"], pair["b"]["weight_bytes"]) == (doc["variants"]["rtn-w8a16"]["bytes"],
                                                                      doc["variants"]["rtn-w4a16"]["bytes"])
    assert {c["task"] for c in pair["comparisons"]} == {"bbq", "crows_pairs", "stereoset"}
    assert not list(sub.rglob("compare*"))  # nothing written into the accepted submission
    for args, match in ((["--submission", str(sub), "--runs", str(family_runs)], "exactly one of"),
                        (["--submission", str(tmp_path)], "no submission.json"),
                        (["--submission", str(sub), "--family", "other"], "holds family 'tiny-llama'")):
        if "--family" not in args:
            args = ["--family", "tiny-llama", *args]
        assert main(["compare", *args, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert match in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()
