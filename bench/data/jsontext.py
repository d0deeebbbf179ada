"""Reading published JSON files (not JSON-lines) with errors that name the file, the line and the entry.

Several data sets publish one JSON document per file, sometimes on a single line (BOLD). A syntax error is
reported at the decoder's line and column; a well-formed file whose content is wrong is reported at the line
and column where the offending entry's key path first appears in the text, with the path itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from bench.errors import UserError


def read_json(path: Path) -> tuple[object, str]:
    """(the parsed document, its text); a file that cannot be read or parsed is a UserError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"data file {path}: cannot read: {e}") from None
    if not text.strip():
        raise UserError(f"data file {path}: empty; expected a JSON document")
    try:
        return json.loads(text), text
    except json.JSONDecodeError as e:
        raise UserError(f"data file {path} line {e.lineno} column {e.colno}: not valid JSON ({e.msg})") from None
    except RecursionError:
        raise UserError(f"data file {path}: nested too deeply to be this data set's JSON") from None


def where(text: str, keys: Sequence[str]) -> str:
    """'line L column C' of the last of `keys` found in order (each searched from the previous one's place)."""
    at = 0
    for key in keys:
        found = text.find(json.dumps(key, ensure_ascii=False), at)
        if found < 0:
            found = text.find(json.dumps(key), at)
        if found < 0:
            break
        at = found
    line = text.count("\n", 0, at) + 1
    return f"line {line} column {at - (text.rfind(chr(10), 0, at) + 1) + 1}"


def fail(path: Path, text: str, keys: Sequence[str], problem: str) -> UserError:
    """The error for a wrong entry at key path `keys`."""
    shown = " → ".join(str(k) for k in keys)
    return UserError(f"data file {path} {where(text, [k for k in keys if isinstance(k, str)])}: "
                     f"{shown + ': ' if shown else ''}{problem}")
