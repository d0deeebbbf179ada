"""Reading untrusted folders safely: no symlinks, no paths outside a root, bounded sizes, safe names.

Nothing here loads code: JSON is parsed as data and items.parquet through pyarrow (no pickle).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from bench.errors import UserError
from bench.leaderboard.limits import MAX_DEPTH, MAX_JSON_BYTES, MAX_TEXT, NAME


def check_name(value: object, where: str) -> str:
    """A name used as a folder or identifier: letters, digits, '_', '.', '-', starting with a letter or digit."""
    if not isinstance(value, str) or not NAME.match(value) or value in {".", ".."}:
        raise UserError(f"{where}: {json.dumps(value)[:80]} is not an accepted name (expected 1-64 characters "
                        "from A-Z a-z 0-9 _ . -, starting with a letter or digit)")
    return value


def text_problem(value: str) -> str | None:
    """What makes `value` unfit as free text shown on a page or a terminal, or None."""
    if len(value) > MAX_TEXT:
        return f"text of {len(value)} characters; at most {MAX_TEXT} are accepted"
    if any((ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0 for c in value):
        return "contains control characters; expected plain text"
    return None


def check_text(value: object, where: str) -> str:
    """Free text (shown escaped on pages): a string without control characters, at most MAX_TEXT long."""
    if not isinstance(value, str):
        raise UserError(f"{where}: expected text, got {type(value).__name__}")
    problem = text_problem(value)
    if problem:
        raise UserError(f"{where}: {problem}")
    return value


def inside(root: Path, path: Path) -> Path:
    """`path` resolved, refused unless it lies inside `root` (after resolving symlinks)."""
    real_root, real = root.resolve(), path.resolve()
    if real != real_root and real_root not in real.parents:
        raise UserError(f"{path}: lies outside {root}; paths must stay inside it")
    return real


def regular_file(path: Path, max_bytes: int) -> int:
    """The size of a plain file (not a symlink, not a device) of at most `max_bytes`; a clear error otherwise."""
    if path.is_symlink():
        raise UserError(f"{path}: is a symbolic link; submissions hold plain files only")
    if not path.is_file():
        raise UserError(f"{path}: missing (expected a plain file)")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError(f"{path}: {size} bytes; at most {max_bytes} are accepted")
    return size


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> dict:
    """A JSON object from an untrusted file: bounded in size, every number finite (`1e999` parses as infinity,
    which no later step can write or add), the first offending field named."""
    regular_file(path, max_bytes)
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise UserError(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a JSON object")
    where = _nonfinite(doc)
    if where is not None:
        raise UserError(f"{path}: field '{where}': not a finite number; undefined values are null")
    return doc


def _nonfinite(doc: object) -> str | None:
    """The dotted path of the first number that is not finite, or None (walked with a stack of its own)."""
    stack: list[tuple[str, object]] = [("", doc)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return where or "(top level)"
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in reversed(list(children)))
    return None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON; undefined values are null")


def walk_plain(root: Path) -> list[Path]:
    """Every file under `root` (sorted); a symlink or special file anywhere below it is refused, and so are
    folders nested deeper than MAX_DEPTH (a bundle is <family>/<variant>/<task>/<settings>/: a few levels). The
    walk keeps its own stack: a recursive one fails on a deep enough tree."""
    if root.is_symlink():
        raise UserError(f"{root}: is a symbolic link; give the folder itself")
    out = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            raise UserError(f"{folder}: cannot be read ({e.strerror or e})") from None
        for entry in entries:
            p = Path(entry.path)
            if entry.is_symlink():
                raise UserError(f"{p}: is a symbolic link; submissions hold plain files only")
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 > MAX_DEPTH:
                    raise UserError(f"{root}: folders nested more than {MAX_DEPTH} deep; a bundle holds run folders "
                                    "a few levels down (<family>/<variant>/<task>/<settings>/)")
                stack.append((p, depth + 1))
            elif entry.is_file(follow_symlinks=False):
                out.append(p)
            else:
                raise UserError(f"{p}: not a plain file")
    return sorted(out)
