"""Checks of command-line arguments made before any work, so that a bad one costs nothing and writes nothing."""

from __future__ import annotations

from pathlib import Path

from bench.errors import UserError


def out_folder(path: Path | None, flag: str = "--out") -> None:
    """An output folder must be a folder or not exist yet; a file in its place (or in its parents') is refused."""
    if path is None:
        return
    for p in (Path(path).absolute(), *Path(path).absolute().parents):
        if p.exists():
            if not p.is_dir():
                where = "" if p == Path(path).absolute() else f" ({p} is a file)"
                raise UserError(f"{flag} {path}: expected a folder or a path that does not exist, not a file{where}")
            break
    from bench.safepath import check_writable

    check_writable(path, flag)


def stat_flags(resamples: int, alpha: float, power: float) -> None:
    """The statistical flags `compare` and `findings` share, checked before any run is read."""
    if resamples < 1:
        raise UserError(f"--resamples must be positive (got {resamples})")
    if not 0 < alpha < 1:
        raise UserError(f"--alpha must lie in (0, 1) (got {alpha})")
    if not 0 < power < 1:
        raise UserError(f"--power must lie in (0, 1) (got {power})")
