"""Issue 16, items 7 and 13: a cached variant is checked against the sha256 of its files before reuse and
rebuilt when damaged; staging folders a killed build left are removed, those a live build holds are kept."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.test_cli import cli


def compress(root: Path):
    return cli("compress", "--model", "builtin:tiny-llama", "--recipe", "rtn-w8a16", "--out", str(root))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model_dir) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("variants")
    result = compress(root)
    assert result.returncode == 0, result.stderr
    return root, Path(result.stdout.strip().splitlines()[-1])


def test_provenance_records_file_hashes(built):
    _, folder = built
    record = json.loads((folder / "qdbench_variant.json").read_text())
    assert record["files"]["model.safetensors"]["sha256"] == sha(folder / "model.safetensors")


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x10  # inside the tensor data, past the header
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])


@pytest.mark.parametrize("damage", [_flip, _truncate])
def test_damaged_variant_is_rebuilt(built, damage):
    root, folder = built
    weights = folder / "model.safetensors"
    good = sha(weights)
    damage(weights)
    result = compress(root)
    assert result.returncode == 0, result.stderr
    assert "is damaged" in result.stderr and "building it again" in result.stderr
    assert sha(weights) == good
    assert "damaged" not in compress(root).stderr  # and reused as is from then on


def test_stale_staging_folders_are_removed_live_ones_kept(built):
    root, folder = built
    stale = folder.parent / f".{folder.name}.dead.tmp"
    live = folder.parent / f".{folder.name}.live.tmp"
    for d in (stale, live):
        d.mkdir()
        (d / ".qdbench-owner").write_text("123\n")
        (d / "model.safetensors").write_bytes(b"half")
    fd = os.open(live / ".qdbench-owner", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert compress(root).returncode == 0
    finally:
        os.close(fd)
    assert not stale.exists() and live.exists()
    assert compress(root).returncode == 0
    assert not live.exists()
