"""Atomic file and folder writes: a reader sees the old version or the new one, never half of one."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.store.faults import fault


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# errno values that mean "the destination cannot take this write": a full disk, a quota, a file-size limit, a
# read-only file system. Libraries writing from Rust or C (safetensors) raise their own exception type with
# "os error N" in the message.
CANNOT_WRITE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)
_OS_ERROR = re.compile(r"os error (\d+)")


def write_failure(exc: BaseException) -> int | None:
    """The errno (one of CANNOT_WRITE) when `exc`, or the error it was raised from, means the destination cannot
    be written; else None."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, OSError) and node.errno in CANNOT_WRITE:
            return node.errno
        found = _OS_ERROR.search(str(node))
        if found and int(found.group(1)) in CANNOT_WRITE:
            return int(found.group(1))
        node = node.__cause__ or (None if node.__suppress_context__ else node.__context__)
    return None


def _to_destination(path: Path, exc: BaseException) -> BaseException:
    """The error of a write into a temporary file beside `path`, as an OSError naming `path` (the temporary file
    is gone); other errors as they are."""
    code = write_failure(exc)
    if code is not None:
        return OSError(code, os.strerror(code), str(path))
    if isinstance(exc, OSError):
        return OSError(exc.errno, exc.strerror or str(exc), str(path))
    return exc


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        fault("atomic-write")
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        error = _to_destination(path, e)
        if error is e:
            raise
        raise error from None


def write_json(path: Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode())


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let `writer` fill a temporary file beside `path` (e.g. a parquet writer), then move it in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        fault("atomic-write")
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        error = _to_destination(path, e)
        if error is e:
            raise
        raise error from None


OWNER = ".qdbench-owner"  # inside a staging folder: holds the builder's pid, locked while it builds
STALE_UNLOCKED_S = 3600  # a staging folder without an owner file is left alone for this long (it may be brand new)


@contextmanager
def staged_dir(final: Path, replace: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it to `final` only if the block succeeds; on failure
    the parent folders made for it are removed again (if still empty), so nothing half-made is left.

    An existing non-empty `final` is replaced only where `replace(final)` says it is the caller's own (an
    earlier import, a damaged cache entry); anything else is refused, never deleted. Staging folders left by a
    killed process are removed first (see `clean_stale_staging`). A write that fails for want of space (or on a
    read-only file system), in whatever library it happened, is one UserError naming `final`."""
    made = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
    _check_replaceable(final, replace)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(final.parent)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    owner = _hold_owner(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        fault("dir-staged")
        (tmp / OWNER).unlink(missing_ok=True)
        _check_replaceable(final, replace)
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".old.tmp"))
            os.replace(final, old / "d")
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except Exception as e:
        from bench.errors import UserError

        code = None if isinstance(e, UserError) else write_failure(e)
        if code is None:
            raise
        raise UserError(f"{final}: cannot be written ({os.strerror(code)}); nothing half-built was kept: free space "
                        "and run the same command again") from None
    finally:
        os.close(owner)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists():
            for p in made:  # deepest first
                try:
                    p.rmdir()
                except OSError:
                    break


def _check_replaceable(final: Path, replace: Callable[[Path], bool] | None) -> None:
    from bench.errors import UserError

    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise UserError(f"{final}: exists and is not a folder; refusing to replace it")
    if final.is_dir() and any(final.iterdir()) and not (replace and replace(final)):
        raise UserError(f"{final}: exists and was not made by qdbench; refusing to replace it (move it away)")


def _hold_owner(tmp: Path) -> int:
    fd = os.open(tmp / OWNER, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def clean_stale_staging(parent: Path) -> list[Path]:
    """Remove `.NAME.*.tmp` staging folders under `parent` that no live process holds (their builder was
    killed): a folder whose owner file is unlocked, or one without an owner file that is over an hour old."""
    removed = []
    for tmp in parent.glob(".*.tmp"):
        if not tmp.is_dir() or tmp.is_symlink():
            continue
        owner = tmp / OWNER
        if owner.is_file():
            try:
                fd = os.open(owner, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live builder holds it
            finally:
                os.close(fd)
        else:
            try:
                if time.time() - tmp.stat().st_mtime < STALE_UNLOCKED_S:
                    continue
            except OSError:
                continue
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    return removed
