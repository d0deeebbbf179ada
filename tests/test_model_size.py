"""One size measure (bench/compress/size.py): `show`, compare (its tables and equal-memory pairing) and the
leaderboard give the same bytes and bits for a model whose weight files are links, and for a bitsandbytes
variant, whose files hold full precision while its memory holds 4 bits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.cli.cmd_compare import sizes_of
from bench.cli.summary import model_size
from bench.compare.equal_memory import member
from bench.compress.size import measure
from bench.leaderboard import variants as board
from bench.paths import home


def three_ways(folder: Path, variant: dict) -> dict[str, tuple]:
    """(weights in memory, bits per parameter[, bytes on disk]) as each part of qdbench reports them."""
    manifest = {"model": {"path": str(folder), "spec": str(folder)}, "variant": variant}
    run = SimpleNamespace(label="v", manifest=manifest)
    size, _ = model_size(str(folder))
    compare = sizes_of([run], {})["v"]
    site = board.measure(manifest)
    return {"show": (size.weights_in_memory, size.bits_per_param, size.bytes_on_disk),
            "compare": (compare["weight_bytes"], compare["bits_per_param"], compare["bytes"]),
            "equal memory": (member(run).weight_bytes, size.bits_per_param, size.bytes_on_disk),
            "leaderboard": (site["bytes"], site["bits_per_param"], size.bytes_on_disk)}


def snapshot_copy(src: Path) -> tuple[Path, int]:
    """`src` laid out as a Hugging Face cache snapshot inside qdbench's variant cache: every file a symlink into
    blobs/, plus one weight file linked to outside the model (not its own, so counted by nobody)."""
    repo = home() / "variants" / "links" / "models--x--tiny"
    snap, blobs = repo / "snapshots" / "abc", repo / "blobs"
    shutil.rmtree(repo, ignore_errors=True)
    snap.mkdir(parents=True)
    blobs.mkdir()
    weights = 0
    for p in src.iterdir():
        if p.is_file():
            shutil.copy2(p, blobs / p.name)
            os.symlink(blobs / p.name, snap / p.name)
            weights += p.stat().st_size if p.suffix == ".safetensors" else 0
    outside = home() / "variants" / "links" / "elsewhere.safetensors"
    shutil.copy2(next(src.glob("*.safetensors")), outside)
    os.symlink(outside, snap / "extra.safetensors")
    return snap, weights


def test_linked_weight_files_count_alike_everywhere(tiny_model_dir):
    snap, weights = snapshot_copy(tiny_model_dir)
    got = three_ways(snap, {"name": "base"})
    assert set(got.values()) == {got["show"]}, got
    in_memory, bits, on_disk = got["show"]
    assert in_memory == on_disk == weights  # the links into blobs/ count, the link to outside does not
    assert bits == pytest.approx(32, abs=0.5)  # tiny-llama is stored in float32


def test_a_load_time_quantized_variant_counts_alike_everywhere(tiny_model_dir):
    pytest.importorskip("bitsandbytes")
    from bench.compress.variants import materialize, read_provenance
    from bench.models.loading import resolve
    from tests.test_compress_variants import small

    ref = materialize(resolve("builtin:tiny-llama"), small("bnb-nf4"))
    got = three_ways(Path(ref.path), {"name": "bnb-nf4", "recipe": {"method": "bnb-nf4"}})
    assert set(got.values()) == {got["show"]}, got
    in_memory, bits, on_disk = got["show"]
    prov = read_provenance(ref.path)
    assert (in_memory, on_disk) == (prov["weights_bytes_in_memory"], prov["bytes_on_disk"])
    assert in_memory < on_disk / 3 and bits < 6  # 4-bit in memory; its hard-linked files are the fp32 base's


def test_no_folder_no_figures():
    assert measure("").bytes_on_disk is None and measure("/no/such/folder").weights_in_memory is None
