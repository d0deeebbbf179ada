"""`qdbench leaderboard build`: rows, paired deltas equal to `qdbench compare`, escaped data, no remote assets."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from conftest import the_run

from bench.cli.main import main

HOSTILE = "<img src=x onerror=alert(1)>"


def _submitted(family_runs: Path, tmp_path: Path, spec: str | None = None) -> Path:
    runs = tmp_path / "runs"
    shutil.copytree(family_runs / "tiny-llama", runs / "tiny-llama")
    if spec is not None:
        for m in runs.rglob("manifest.json"):
            doc = json.loads(m.read_text())
            doc["model"]["spec"] = spec
            m.write_text(json.dumps(doc))
    subs = tmp_path / "subs"
    assert main(["submit", str(runs), "--to", str(subs), "--notes", HOSTILE]) == 0
    return subs


def test_rows_and_deltas_match_the_paired_comparison(family_runs, tmp_path, capsys):
    subs = _submitted(family_runs, tmp_path)
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(subs), "--out", str(site), "--resamples", "300", "--seed", "3"]) == 0
    data = json.loads((site / "data" / "leaderboard.json").read_text())
    assert data["schema"] == "qdbench.leaderboard/1"
    rows = {r["variant"]: r for r in data["rows"]}
    assert set(rows) == {"base", "rtn-w8a16", "rtn-w4a16"}
    assert rows["rtn-w4a16"]["weight_bits"] == 4 and rows["rtn-w4a16"]["method"] == "RTN"
    assert rows["base"]["bytes"] > rows["rtn-w8a16"]["bytes"] > rows["rtn-w4a16"]["bytes"] > 0
    assert data["tasks"]["bbq"]["headline"] == "bias_score_ambig"
    assert set(rows["base"]["tasks"]) == {"bbq", "crows_pairs", "stereoset"}
    # the provenance of every row and task is in the data
    for r in data["rows"]:
        for task in r["tasks"]:
            p = data["provenance"][r["id"]][task]
            assert p["manifest"]["task"]["template_hash"] and p["files"]["items.parquet"]["sha256"]

    out = tmp_path / "cmp"
    [sub] = list((subs / "tiny-llama").iterdir())
    runs = sub / "runs"
    assert main(["compare", str(runs / "base" / "bbq"), str(runs / "rtn-w4a16" / "bbq"), "--out", str(out),
                 "--resamples", "300", "--seed", "3", "--no-plots"]) == 0
    [cmp] = json.loads((out / "compare.json").read_text())["comparisons"]
    deltas = rows["rtn-w4a16"]["tasks"]["bbq"]["deltas"]
    for m in cmp["metrics"]:
        for key in ("delta", "ci_low", "ci_high", "p_value"):
            assert deltas[m["name"]][key] == m["overall"][key], (m["name"], key)
    detail = data["details"][rows["rtn-w4a16"]["id"]]["bbq"]
    assert detail["flips"] == cmp["flips"]


def test_submitted_text_cannot_break_out_of_the_data_script(family_runs, tmp_path):
    subs = _submitted(family_runs, tmp_path, spec=HOSTILE + "</script><script>alert(2)</script>\u2028")
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(subs), "--out", str(site), "--resamples", "50"]) == 0
    js = (site / "data.js").read_text()
    assert "<" not in js and ">" not in js and "\u2028" not in js
    data = json.loads(js.removeprefix("window.QDBENCH_DATA = ").rstrip().removesuffix(";"))
    assert data["rows"][0]["model"].startswith(HOSTILE)
    assert data["submissions"][0]["notes"] == HOSTILE


def test_the_site_loads_nothing_from_elsewhere(family_runs, tmp_path):
    subs = _submitted(family_runs, tmp_path)
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(subs), "--out", str(site), "--resamples", "50"]) == 0
    assert {p.name for p in site.iterdir()} == {"index.html", "app.js", "style.css", "favicon.svg", "data.js",
                                                 "data"}
    for name in ("index.html", "app.js", "style.css"):
        text = (site / name).read_text()
        urls = set(re.findall(r"https?://[^\s\"')]+", text)) - {"http://www.w3.org/2000/svg"}
        assert urls == set(), (name, urls)
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text
    assert "script-src 'self'" in (site / "index.html").read_text()


def test_build_takes_run_folders_and_refuses_an_empty_or_bad_source(family_runs, tmp_path, capsys):
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(family_runs), "--out", str(site), "--resamples", "50"]) == 0
    assert "3 variants from 1 submissions" in capsys.readouterr().out
    assert main(["leaderboard", "build", str(tmp_path / "nothing"), "--out", str(site)]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["leaderboard", "serve", "--site", str(tmp_path / "nosite")]) == 2
    assert "no index.html" in capsys.readouterr().err


def test_a_metric_left_out_of_a_report_is_shown_as_recomputed_from_the_items(family_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(family_runs / "tiny-llama", runs / "tiny-llama")
    path = the_run(runs / "tiny-llama" / "rtn-w8a16" / "bbq") / "metrics.json"
    doc = json.loads(path.read_text())
    kept = doc["metrics"].pop("accuracy")
    path.write_text(json.dumps(doc))
    manifest = json.loads((path.parent / "manifest.json").read_text())
    del manifest["integrity"]  # as a run made before the task gained the metric, and before runs sealed their files
    (path.parent / "manifest.json").write_text(json.dumps(manifest))
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(runs), "--out", str(site), "--resamples", "50"]) == 0
    data = json.loads((site / "data" / "leaderboard.json").read_text())
    row = next(r for r in data["rows"] if r["variant"] == "rtn-w8a16")
    assert row["tasks"]["bbq"]["values"]["accuracy"] == kept
