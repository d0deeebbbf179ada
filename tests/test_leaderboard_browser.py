"""The built site in a real browser: headless Debian Chromium driven by Playwright, served from 127.0.0.1.

Built from the committed submissions (a real family and a random-weights placeholder, hidden until the toggle shows
it) plus one submitted here whose model name is an HTML payload. Skipped, with
the reason, where Chromium or Playwright is missing (`make test` installs both when it can; pytest -rs prints
the reason in CI's output). The screenshot is saved in the test's temp folder and its path printed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli.main import main

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = "<img src=x onerror=alert(1)>"
COMMITTED = Path(__file__).resolve().parents[1] / "leaderboard" / "submissions"


def _browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"browser test skipped: {CHROMIUM} is not installed (`make test` installs Debian's chromium "
                    "when run as root: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.skip(f"browser test skipped: playwright is not installed ({e}); `make setup` installs it")
    return sync_playwright


def _random_family_runs(request) -> Path:
    """Run folders of a random-weights family: the committed placeholder's (no model to build), else made here."""
    committed = sorted(COMMITTED.glob("tiny-llama-random-weights/*/runs"))
    return committed[0] if committed else request.getfixturevalue("family_runs") / "tiny-llama"


@pytest.fixture(scope="module")
def site(request, tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("browser-site")
    subs = root / "submissions"
    if COMMITTED.is_dir():
        shutil.copytree(COMMITTED, subs)
    hostile = root / "runs" / "hostile"
    shutil.copytree(_random_family_runs(request), hostile)
    for m in hostile.rglob("manifest.json"):
        doc = json.loads(m.read_text())
        doc["model"]["spec"] = HOSTILE
        doc["variant"]["family"] = "tiny-hostile"
        m.write_text(json.dumps(doc))
    assert main(["submit", str(hostile), "--to", str(subs), "--notes", HOSTILE]) == 0
    out = root / "site"
    assert main(["leaderboard", "build", str(subs), "--out", str(out), "--resamples", "300"]) == 0
    return out, json.loads((out / "data" / "leaderboard.json").read_text())


def test_the_site_in_a_real_browser(site, tmp_path):
    sync_playwright = _browser()
    from bench.leaderboard.serve import serve_in_thread

    folder, data = site
    srv, url = serve_in_thread(folder)
    errors, dialogs = [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url)
            page.wait_for_selector("#board tbody tr")
            rows = page.locator("#board tbody tr")
            shot = tmp_path / "leaderboard.png"
            page.screenshot(path=str(shot), full_page=True)  # as a visitor first sees it: the table and the plots
            print(f"screenshot: {shot}")
            assert shot.stat().st_size > 10_000

            # placeholder (random-weights) families are hidden at first; every other submitted variant is a row
            real = [r for r in data["rows"] if not r["placeholder"]]
            assert {r["family"] for r in data["rows"] if r["placeholder"]} == {"tiny-llama-random-weights"}
            assert rows.count() == len(real)
            shown = set(rows.evaluate_all("rs => rs.map(r => r.dataset.row)"))
            assert shown == {r["id"] for r in real}
            if COMMITTED.is_dir():  # the real family: every one of its variants, none hidden
                smol = [r for r in data["rows"] if r["family"] == "smollm2-135m"]
                assert len(smol) >= 5 and not any(r["placeholder"] for r in smol)
                assert page.locator("#board tbody tr[data-row^='smollm2-135m/']").count() == len(smol)

            # sorted by the first task's Δ from the start: rank intervals show without a click
            first = next(iter(data["tasks"]))
            assert page.locator(f"th button[data-key='d:{first}']").get_attribute("aria-sort") == "ascending"
            assert any(t.strip() not in ("—", "") for t in page.locator("#board td.rank").all_text_contents())

            # the table scrolls inside its box; the page itself does not grow past the window
            box = page.evaluate("(() => { const s = document.querySelector('#board').parentElement; return "
                                "[s.scrollWidth, s.clientWidth, document.documentElement.scrollWidth, "
                                "window.innerWidth, getComputedStyle(s).overflowX]; })()")
            assert box[2] <= box[3] and box[4] == "auto", box
            assert box[0] > box[1], box  # wide enough here (three tasks at 1400 px) that it does scroll

            # the toggle shows the placeholder families, and hides them again
            page.check("#show-placeholder")
            assert rows.count() == len(data["rows"])
            assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.row)")) == {r["id"] for r in data["rows"]}

            # an a16 recipe shows its activation bits: 16
            for r in data["rows"]:
                if "a16" in r["variant"] and r["kind"] == "quantized":
                    assert r["activation_bits"] == 16, r["id"]
                    cell = page.locator(f"#board tbody tr[data-row='{r['id']}'] td[data-key='activation_bits']")
                    assert cell.inner_text().strip() == "16"

            # each variant's Δ cell shows its paired delta and interval; the base rows say "base"
            head = data["tasks"]["bbq"]["headline"]
            for r in data["rows"]:
                cell = page.locator(f"#board tbody tr[data-row='{r['id']}'] td[data-key='d:bbq']").inner_text()
                d = r["tasks"]["bbq"]["deltas"].get(head)
                if r["variant"] == "base":
                    assert cell.strip() == "base", (r["id"], cell)
                elif d and d["ci_low"] is not None:
                    assert "[" in cell and "base" not in cell, (r["id"], cell)

            # sorting by weight bits orders the rows, and clicking again reverses them
            def column(key):
                return page.locator("#board tbody tr").evaluate_all(
                    "(rs, i) => rs.map(r => r.children[i].textContent)", _index(page, key))

            page.click("th button[data-key='weight_bits']")
            up = [float(x) for x in column("weight_bits")]
            assert up == sorted(up) and len(set(up)) > 1
            page.click("th button[data-key='weight_bits']")
            assert [float(x) for x in column("weight_bits")] == sorted(up, reverse=True)

            # sorting by a Δ column again keeps the rank intervals
            page.click("th button[data-key='d:bbq']")
            assert any(t.strip() not in ("—", "") for t in page.locator("#board td.rank").all_text_contents())

            # filtering by family and by bits changes the rows
            page.select_option("#filter-family", "tiny-hostile")
            assert rows.count() == sum(r["family"] == "tiny-hostile" for r in data["rows"])
            page.select_option("#filter-bits", "4")
            assert rows.count() == sum(r["family"] == "tiny-hostile" and r["weight_bits"] == 4 for r in data["rows"])
            assert 0 < rows.count() < len(data["rows"])
            page.select_option("#filter-family", "")
            page.select_option("#filter-bits", "")
            assert rows.count() == len(data["rows"])

            # plots render with content: points for every variant that has a value
            n_points = page.locator("#plots svg g.point").count()
            assert n_points >= len(data["rows"])
            assert page.locator("#plots svg path.line").count() > 0
            # one series per family and method: a line joins one family's base with variants of one method only
            by_id = {r["id"]: r for r in data["rows"]}
            lines = page.locator("#plots svg path.line").evaluate_all(
                "ps => ps.map(p => [p.dataset.family, p.dataset.method, p.dataset.rows])")
            assert len({(f, m) for f, m, _ in lines}) >= 3
            for family, method, ids in lines:
                members = [by_id[i] for i in ids.split()]
                assert {m["family"] for m in members} == {family}, (family, ids)
                assert {m["method"] for m in members} <= {method, "base"}, (method, ids)
                assert len({m["submission"] for m in members}) == 1

            # the findings view: every claim of the family shown, each row with its verdict and evidence
            page.uncheck("#show-placeholder")
            entries = [f for f in data["findings"] if not f["placeholder"]] or data["findings"]
            if not [f for f in data["findings"] if not f["placeholder"]]:
                page.check("#show-placeholder")
            chosen = entries[0]
            assert chosen["doc"] is not None, chosen["error"]
            shown_claims = page.locator("#findings .claim").evaluate_all("cs => cs.map(c => c.dataset.claim)")
            assert shown_claims == [c["id"] for c in chosen["doc"]["claims"]]
            for c in chosen["doc"]["claims"]:
                block = page.locator(f"#findings .claim[data-claim='{c['id']}']")
                assert block.locator("h3").inner_text() == c["text"]
                assert c["source"] in block.locator("p.small").inner_text()
                want = [r for r in chosen["doc"]["rows"] if r["claim"] == c["id"]]
                got = block.locator("tbody tr").evaluate_all(
                    "rs => rs.map(r => [r.dataset.verdict, r.querySelector('.verdict').textContent, "
                    "r.querySelector('td.evidence').textContent])")
                assert [g[0] for g in got] == [g[1] for g in got] == [r["verdict"] for r in want]
                for g, r in zip(got, want, strict=True):
                    assert g[1] in ("supported", "contradicted", "inconclusive", "not measured")
                    if r["why"]:
                        assert r["why"] in g[2]
                    if r["quality_reading"]:
                        assert r["quality_reading"] in g[2]
            page.check("#show-placeholder")
            page.select_option("#findings-family", next(f"{f['family']}/{f['submission']}" for f in data["findings"]
                                                        if f["family"] == "tiny-hostile"))
            assert page.locator("#findings .claim").count() == len(
                next(f for f in data["findings"] if f["family"] == "tiny-hostile")["doc"]["claims"])

            # group detail and provenance open
            page.locator("#board tbody tr", has_text="rtn-w4a16").first.locator("button.show-detail").click()
            assert page.locator("#detail").is_visible()
            assert page.locator("#detail table.groups").count() > 0
            page.locator("#board tbody tr", has_text="rtn-w4a16").first.locator("button.show-provenance").click()
            dialog = page.locator("dialog#provenance")
            assert dialog.is_visible()
            assert "model fingerprint" in dialog.inner_text() and "template hash" in dialog.inner_text()
            page.click("dialog#provenance button.close")

            # the hostile name is inert text: shown literally, no element made of it, no script ran
            assert page.locator("#board", has_text=HOSTILE).count() == 1
            assert page.locator("img").count() == 0
            assert page.locator("#submissions", has_text=HOSTILE).count() == 1
            page.wait_for_timeout(300)
            assert dialogs == [] and errors == []
            browser.close()
    finally:
        srv.shutdown()


def _index(page, key: str) -> int:
    """The cell index of a sortable column (the rank column comes first)."""
    return page.locator("#board tbody tr").first.evaluate(
        "(r, key) => [...r.children].findIndex(td => td.dataset.key === key)", key)
