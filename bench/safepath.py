"""Names that become folder names, and paths that must stay inside their root.

A task, family, variant or model name ends up as a path component (runs/<model>/<task>, the data cache, the
variants cache). A name such as "../../x" or "/tmp/x" would move a write, or a replacing rename, out of its
folder; so every such name is checked against one pattern, and every path built from names is checked to
resolve inside its root.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UserError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)


def is_safe_name(name: object) -> bool:
    return isinstance(name, str) and bool(_NAME.match(name)) and ".." not in name


def safe_name(name: object, what: str) -> str:
    """`name` if it can be one folder name; a UserError naming `what` (e.g. "task file X: field 'name'")."""
    if not is_safe_name(name):
        raise UserError(f"{what}: {name!r} is not a safe name (expected letters, digits and _ . + = -, starting "
                        "with a letter or digit, no '..', no '/', at most 128 characters)")
    return name  # type: ignore[return-value]


def confined(root: Path, *names: str, what: str = "name") -> Path:
    """root / names..., each checked with `safe_name`, and refused unless it resolves inside `root`."""
    path = Path(root)
    for n in names:
        path = path / safe_name(n, what)
    base = Path(root).resolve()
    if not path.resolve().is_relative_to(base):
        raise UserError(f"{what}: {path} lies outside {root}")
    return path


def check_writable(path: Path, what: str) -> None:
    """A UserError unless a file can be created where `path` is (or would be made): probed with a real file in
    the nearest existing folder, since permissions alone do not show a read-only mount."""
    import errno
    import os
    import tempfile

    existing = Path(path).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".qdbench-write-probe.")
    except OSError as e:
        reason = "read-only" if e.errno == errno.EROFS else (e.strerror or str(e)).lower()
        raise UserError(f"{what} {path}: cannot write in {existing} ({reason})") from None
    os.close(fd)
    os.unlink(probe)
