"""The built site in a real browser: headless Debian Chromium driven by Playwright, served from 127.0.0.1.

Built from the committed submissions plus one submitted here whose model name is an HTML payload. Skipped, with
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


@pytest.fixture(scope="module")
def site(family_runs, tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("browser-site")
    subs = root / "submissions"
    if COMMITTED.is_dir():
        shutil.copytree(COMMITTED, subs)
    hostile = root / "runs" / "hostile"
    shutil.copytree(family_runs / "tiny-llama", hostile)
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
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
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

            # every submitted variant is a row
            assert rows.count() == len(data["rows"])
            shown = set(rows.evaluate_all("rs => rs.map(r => r.dataset.row)"))
            assert shown == {r["id"] for r in data["rows"]}

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

            # rank intervals appear once sorted by a Δ column
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
