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

from bench.errors import UserError
from bench.leaderboard.aggregate import SCHEMA
from bench.leaderboard.safety import walk_plain
from bench.store.atomic import staged_dir, write_bytes

ASSETS = ("index.html", "app.js", "style.css", "favicon.svg")
FILES = {*ASSETS, "data.js", "data/leaderboard.json"}  # everything write_site writes


def safe_json(doc: dict) -> str:
    text = json.dumps(doc, allow_nan=False, separators=(",", ":"), sort_keys=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def is_site(folder: Path) -> bool:
    """Whether `folder` holds a site `write_site` wrote, and nothing else: exactly its files, plain ones, with data
    of this schema. Only such a folder is replaced; anything else at --out is someone's own and is refused."""
    try:
        files = {str(p.relative_to(folder)) for p in walk_plain(folder)}
        doc = json.loads((folder / "data" / "leaderboard.json").read_text(encoding="utf-8"))
    except (UserError, OSError, ValueError):
        return False
    return files == FILES and isinstance(doc, dict) and doc.get("schema") == SCHEMA


def write_site(data: dict, out: Path) -> Path:
    """Replace `out` with the built site, atomically (a reader sees the old site or the new one); an existing
    `out` is replaced only if it is a site built here before (`is_site`)."""
    static = resources.files("bench.leaderboard") / "static"
    with staged_dir(out, replace=is_site) as tmp:
        for name in ASSETS:
            with resources.as_file(static / name) as src:
                shutil.copyfile(src, tmp / name)
        body = safe_json(data)
        write_bytes(tmp / "data.js", f"window.QDBENCH_DATA = {body};\n".encode())
        write_bytes(tmp / "data" / "leaderboard.json", (body + "\n").encode())
    return out
