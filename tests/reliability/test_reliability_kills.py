"""kill -9 at seeded random points of `run` (one task, and a matrix), `compress` and `distill`: the same command
again finishes with every item exactly once, the same metrics and weights as an uninterrupted run, and no
half-built variant is ever taken for a finished one.

Each command first runs uninterrupted with QDBENCH_FAULT_LOG, which lists every fault point it reaches; a seeded
draw picks one of them (QDBENCH_KILL_AT=any:N), and the command is killed there in a fresh cache.
"""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reliability.harness import record

SEED = 20261202
KILLS = {"run": 4, "matrix": 3, "compress": 3, "distill": 3}
MATRIX = "name: k\nfamilies: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\ntasks: [bbq]\nlimit: 6\n"


def _command(kind: str, root: Path) -> list[str]:
    out = root / "out"
    if kind == "run":
        return ["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "12", "--chunk-items", "3",
                "--out", out, "--quiet"]
    if kind == "matrix":
        (root / "m.yaml").write_text(MATRIX)
        return ["run", root / "m.yaml", "--chunk-items", "2", "--out", out, "--quiet"]
    if kind == "compress":
        return ["compress", "--model", "builtin:tiny-llama", "--recipe", "rtn-w8a16", "--out", out]
    return ["distill", "--teacher", "builtin:tiny-llama", "--student", "builtin:tiny-llama-small", "--corpus",
            "synthetic:24", "--steps", "6", "--checkpoint-every", "2", "--seq-len", "16", "--batch-size", "4",
            "--out", out / "student", "--quiet"]


def _result(kind: str, out: Path) -> dict:
    """What the command produced, comparable across runs: items and metrics per run folder, or tensors."""
    if kind in ("run", "matrix"):
        runs = {}
        for m in sorted(out.rglob("manifest.json")):
            runs[str(m.parent.relative_to(out))] = (pd.read_parquet(m.parent / "items.parquet"),
                                                   json.loads((m.parent / "metrics.json").read_text()))
        return runs
    from safetensors.torch import load_file

    folders = [p.parent for p in out.rglob("model.safetensors")
               if not any(part.startswith(".") for part in p.relative_to(out).parts)]  # staged, never used
    assert len(folders) == 1, f"expected one finished model folder in {out}, found {folders}"
    return {"weights": load_file(folders[0] / "model.safetensors")}


def _half_built(out: Path) -> list[Path]:
    """Model folders that look finished (a final name, weights) but lack the record written last into them."""
    return [p.parent for p in out.rglob("model.safetensors")
            if not any(part.startswith(".") for part in p.relative_to(out).parts)
            and not any((p.parent / m).is_file() for m in ("qdbench_variant.json", "QDBENCH_BUILTIN.json"))]


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict:
    """Each command once, uninterrupted, in its own cache: its result and the fault points it reaches. The
    built-in models live in the machine-wide model cache; they are made first, so the reference and the killed
    runs reach the same points whether or not an earlier session made them."""
    from bench.models.builtin import materialize
    from reliability.harness import fork_cli

    for name in ("tiny-llama", "tiny-llama-small"):
        materialize(name)

    refs = {}
    for kind in KILLS:
        root = tmp_path_factory.mktemp(f"ref-{kind}")
        log = root / "points.txt"
        rc = fork_cli([str(a) for a in _command(kind, root)], {"QDBENCH_HOME": str(root / "home"),
                                                                "QDBENCH_FAULT_LOG": str(log)}, root / "ref.log")
        assert rc == 0, (root / "ref.err").read_text()[-3000:]
        refs[kind] = (_result(kind, root / "out"), log.read_text().split())
    return refs


def _draws() -> list[tuple[str, int]]:
    return [(kind, i) for kind, n in KILLS.items() for i in range(n)]


@pytest.mark.parametrize(("kind", "i"), _draws())
def test_kill9_at_a_seeded_random_point_then_rerun(kind, i, references, tmp_path, child):
    ref, points = references[kind]
    n = random.Random(f"{SEED}:{kind}:{i}").randint(1, len(points))
    point = points[n - 1]
    env = {"QDBENCH_HOME": str(tmp_path / "home")}
    argv = _command(kind, tmp_path)
    rc, _, err = child(argv, **env, QDBENCH_KILL_AT=f"any:{n}")
    assert rc == -signal.SIGKILL, f"not killed at point {n} ({point}): rc {rc}\n{err[-2000:]}"
    assert not _half_built(tmp_path / "out") and not _half_built(tmp_path / "home")
    rc, _, err = child(argv, **env)
    assert rc == 0, f"rerun after a kill at {point} (#{n}) failed:\n{err[-3000:]}"
    got = _result(kind, tmp_path / "out")
    lost = dup = 0
    if kind in ("run", "matrix"):
        assert sorted(got) == sorted(ref)
        for name, (items, metrics) in got.items():
            ref_items, ref_metrics = ref[name]
            lost += len(set(ref_items["item_id"]) - set(items["item_id"]))
            dup += len(items) - items["item_id"].nunique()
            assert items["item_id"].tolist() == ref_items["item_id"].tolist()
            assert np.allclose(np.stack(items["ll"]), np.stack(ref_items["ll"]), atol=1e-5)
            assert metrics == ref_metrics
    else:
        assert got["weights"].keys() == ref["weights"].keys()
        assert all((got["weights"][k] == ref["weights"][k]).all() for k in ref["weights"])
    assert not list((tmp_path / "out").rglob(".work"))
    record(f"kill -9 {kind}", f"{point} (#{n} of {len(points)})", lost == dup == 0, lost, dup)
    assert lost == dup == 0
