"""Write the static site: the page, its script and style (shipped in static/), and the data as JSON and JS.

The data is written twice: `data/leaderboard.json` for programs, and `data.js` (the same JSON assigned to a
global) so the page also works opened from disk, where browsers refuse to fetch files. The JSON is escaped so
that no submitted text can close the script (`<`, `>`, `&` and the JS line separators become \\u escapes).
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from bench.store.atomic import staged_dir, write_bytes

ASSETS = ("index.html", "app.js", "style.css", "favicon.svg")


def safe_json(doc: dict) -> str:
    text = json.dumps(doc, allow_nan=False, separators=(",", ":"), sort_keys=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def write_site(data: dict, out: Path) -> Path:
    """Replace `out` with the built site, atomically (a reader sees the old site or the new one)."""
    static = resources.files("bench.leaderboard") / "static"
    with staged_dir(out) as tmp:
        for name in ASSETS:
            with resources.as_file(static / name) as src:
                shutil.copyfile(src, tmp / name)
        body = safe_json(data)
        write_bytes(tmp / "data.js", f"window.QDBENCH_DATA = {body};\n".encode())
        write_bytes(tmp / "data" / "leaderboard.json", (body + "\n").encode())
    return out
