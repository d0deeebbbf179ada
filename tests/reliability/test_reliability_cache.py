"""The request cache under damage (issue 21, part B): its SQLite file overwritten with random bytes or truncated, a
stored answer that no longer parses, an edited or NaN log-probability, a read-only or immutable file or folder when
new answers are needed, a full disk. A damaged file is moved aside (inside $QDBENCH_HOME) with a warning and
rebuilt, a damaged row is computed again with a warning, a read-only cache is used read-only: the run exits 0 and
every number equals a run without the cache (log-likelihoods to float precision: a request computed again in
another batch differs in its last digits). Never a traceback, never a wrong number.

Commands run in forked children (tests/reliability/conftest.py: `child`), so no SQLite connection stays open in
the test process while a test damages the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from reliability.harness import record

KIND = "damaged request cache"
RUN = ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--quiet"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir) -> dict[int, pd.DataFrame]:
    """Items of runs of 8 and 12 items without the request cache: what every run below must give."""
    from bench.cli.main import main

    out = tmp_path_factory.mktemp("no-cache")
    refs = {}
    for limit in (8, 12):
        assert main([*RUN, "--limit", str(limit), "--out", str(out / str(limit)), "--no-request-cache"]) == 0
        refs[limit] = _items(out / str(limit))
    return refs


def _items(out: Path) -> pd.DataFrame:
    (path,) = out.rglob("items.parquet")
    return pd.read_parquet(path)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> bool:
    """The same items and answers: log-likelihoods to float precision (a request scored in another batch, as a
    recomputed one is, differs in the last digits), everything else exactly."""
    import numpy as np

    if list(got.columns) != list(want.columns) or len(got) != len(want):
        return False
    for col in got.columns:
        for x, y in zip(got[col], want[col], strict=True):
            if isinstance(x, np.ndarray | list | float):
                if not np.allclose(np.asarray(x, dtype=float), np.asarray(y, dtype=float), rtol=1e-6, atol=1e-5,
                                   equal_nan=True):
                    return False
            elif not (x == y or (x is None and y is None)):
                return False
    return True


def _cache_file(home: Path) -> Path:
    (path,) = (home / "request-cache").glob("*.sqlite")
    return path


def _filled(tmp_path: Path, child) -> tuple[Path, Path]:
    """A $QDBENCH_HOME whose request cache holds the answers of 8 items, checkpointed into its one file."""
    home = tmp_path / "home"
    rc, _, err = child([*RUN, "--limit", "8", "--out", tmp_path / "first"], QDBENCH_HOME=str(home))
    assert rc == 0, err
    path = _cache_file(home)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    return home, path


def _edit_first_row(path: Path, change) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        key, value = db.execute("SELECT key, value FROM answers ORDER BY key LIMIT 1").fetchone()
        db.execute("UPDATE answers SET value = ? WHERE key = ?", (change(value), key))
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _changed_logprob(value: str, new) -> str:
    doc = json.loads(value)
    doc["logprob"] = new(doc["logprob"])
    return json.dumps(doc)


def _damage_file(data: bytes):
    def damage(path: Path) -> None:
        path.write_bytes(data(path.read_bytes()))
    return damage


DAMAGE = {
    "the file overwritten with random bytes": (_damage_file(lambda b: os.urandom(len(b))), "moved aside"),
    "the file truncated to half": (_damage_file(lambda b: b[: len(b) // 2]), "moved aside"),
    "the file truncated to 100 bytes": (_damage_file(lambda b: b[:100]), "moved aside"),
    "a stored answer set to '{broken'": (lambda p: _edit_first_row(p, lambda v: "{broken"), "computed again"),
    "a stored log-probability edited": (lambda p: _edit_first_row(p, lambda v: _changed_logprob(v, lambda x: x + 5)),
                                        "computed again"),
    "a stored log-probability set to NaN": (lambda p: _edit_first_row(
        p, lambda v: _changed_logprob(v, lambda x: math.nan)), "computed again"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_damaged_cache_is_rebuilt_with_a_warning_and_the_numbers_stay_right(name, tmp_path, child, reference):
    damage, words = DAMAGE[name]
    home, path = _filled(tmp_path, child)
    damage(path)
    rc, out, err = child([*RUN, "--limit", "8", "--out", tmp_path / "again"], QDBENCH_HOME=str(home))
    ok = rc == 0 and "Traceback" not in err and "warning" in err and path.name in err and words in err
    if ok:
        ok = _same(_items(tmp_path / "again"), reference[8])
    if ok and words == "moved aside":  # the damaged file is kept for a look, beside the new one, in $QDBENCH_HOME
        ok = any(p.name.startswith(path.name + ".damaged") for p in path.parent.iterdir())
    if ok:  # the rebuilt cache answers the next run without a warning
        rc2, _, err2 = child([*RUN, "--limit", "8", "--out", tmp_path / "third"], QDBENCH_HOME=str(home))
        ok = rc2 == 0 and "warning" not in err2 and _same(_items(tmp_path / "third"), reference[8])
    record(KIND, f"{name}: a warning, the right numbers, the cache rebuilt", ok)
    assert rc == 0, err[-3000:]
    assert ok, err[-3000:]


def _chattr(flag: str, *paths: Path) -> bool:
    try:
        return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True).returncode == 0
    except OSError:
        return False


@contextlib.contextmanager
def _read_only(*paths: Path):
    """Paths nobody may write: immutable where root can set that, else without write permission."""
    if os.geteuid() == 0:
        if not _chattr("+i", *paths):
            pytest.skip("chattr +i is not supported here (root ignores file permissions)")
        try:
            yield
        finally:
            _chattr("-i", *paths)
    else:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_cache_is_used_read_only(what, tmp_path, child, reference):
    home, path = _filled(tmp_path, child)
    before = path.read_bytes()
    locked = (path,) if what == "file" else (path.parent,)
    with _read_only(*locked):
        rc, out, err = child([*RUN, "--limit", "12", "--out", tmp_path / "more"], QDBENCH_HOME=str(home))
    ok = (rc == 0 and "Traceback" not in err and "warning" in err and "read-only" in err
          and _same(_items(tmp_path / "more"), reference[12]) and path.read_bytes() == before)
    record(KIND, f"a read-only cache {what} when new answers are needed: used read-only, the right numbers", ok)
    assert rc == 0, err[-3000:]
    assert ok, err[-3000:]


def test_a_full_disk_under_the_cache_leaves_the_answers_uncached(tmp_path, child, reference):
    home = tmp_path / "home"
    cache = home / "request-cache"
    cache.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(cache)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        rc, out, err = child([*RUN, "--limit", "12", "--out", tmp_path / "runs"], QDBENCH_HOME=str(home))
    finally:
        subprocess.run(["umount", "-l", str(cache)], capture_output=True)
    ok = (rc == 0 and "Traceback" not in err and "warning" in err and "full" in err
          and _same(_items(tmp_path / "runs"), reference[12]))
    record(KIND, "a full disk under the cache: a warning, answers computed and not cached, the right numbers", ok)
    assert rc == 0, err[-3000:]
    assert ok, err[-3000:]
