"""Two machines, one answer: the same commands run with two fresh caches (`HOME`, `QDBENCH_HOME`, the model
cache), standing for two machines, give identical model fingerprints, run keys, settings keys, variant hashes
and items.parquet bytes, for a built-in model, a compressed (calibrated) variant and a distilled student; the
real model converted anew agrees with the one the test session converted earlier. Both "machines" are this
one: a CPU with another instruction set is covered by the GPTQ build test (tests/test_compress_variants.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reliability.harness import record

pytest.importorskip("llmcompressor")

MATRIX = """name: machines
families:
  - base: builtin:tiny-llama
    variants:
      - gptq-w4a16
      - name: kd
        distill: {student: builtin:tiny-llama-small, corpus: ["synthetic:64"], steps: 3, batch_size: 4, seq_len: 32,
                  seed: 0, checkpoint_every: 100}
tasks: [bbq]
limit: 8
sample_data: true
calibration: {source: builtin, samples: 8, seq_len: 32}
"""


def machine(root: Path, model_cache: Path | None = None) -> dict[str, str]:
    """The environment of a fresh machine under `root` (its own home, qdbench cache and model cache)."""
    return {"HOME": str(root / "home"), "QDBENCH_HOME": str(root / "qdbench"),
            "QDBENCH_MODEL_CACHE": str(model_cache or root / "models")}


def what_it_says(runs: Path) -> dict[str, dict]:
    """Per run folder (relative: model/task/settings key): what must not depend on the machine."""
    out = {}
    for manifest_path in sorted(runs.rglob("manifest.json")):
        m = json.loads(manifest_path.read_text())
        out[str(manifest_path.parent.relative_to(runs))] = {
            "fingerprint": m["model"]["fingerprint"], "run_key": m["run_key"], "variant": m["variant"],
            "model_folder": Path(m["model"]["path"]).name if m["model"]["kind"] != "builtin" else m["model"]["spec"],
            "items_sha256": hashlib.sha256((manifest_path.parent / "items.parquet").read_bytes()).hexdigest(),
            "metrics": json.loads((manifest_path.parent / "metrics.json").read_text())["metrics"]}
    return out


def test_two_fresh_machines_agree_on_every_model_run_and_item(tmp_path, child):
    matrix = tmp_path / "machines.yaml"
    matrix.write_text(MATRIX)
    seen = {}
    for name in ("a", "b"):
        rc, _, err = child(["run", matrix, "--out", tmp_path / name / "runs", "--quiet"], **machine(tmp_path / name))
        assert rc == 0, err[-3000:]
        seen[name] = what_it_says(tmp_path / name / "runs")
    a, b = seen["a"], seen["b"]
    assert sorted(a) == sorted(b) and len(a) == 3  # the same run folders: base, gptq-w4a16, kd
    names = {run["variant"]["name"]: run["model_folder"] for run in a.values()}
    assert names["gptq-w4a16"].startswith("gptq-w4a16-") and names["kd"].startswith("distill-")
    for run in sorted(a):
        for field in a[run]:
            ok = a[run][field] == b[run][field]
            record("two machines", f"{run}: {field}", ok)
            assert ok, f"{run}: {field} differs between two fresh caches: {a[run][field]} vs {b[run][field]}"


def test_the_real_model_converted_again_is_the_same_model(tmp_path, child, smollm2_dir):
    """builtin:smollm2-135m converted in a fresh cache (its QDBENCH_BUILTIN.json then records another conversion
    time) is the model the session's cache holds: one fingerprint, run key and items.parquet."""
    argv = ["run", "--model", "builtin:smollm2-135m", "--tasks", "bbq", "--limit", "4", "--sample-data", "--quiet"]
    seen = {}
    for name, cache in (("converted-before", smollm2_dir.parent.parent), ("converted-now", None)):
        rc, _, err = child([*argv, "--out", tmp_path / name / "runs"], **machine(tmp_path / name, cache))
        assert rc == 0, err[-3000:]
        seen[name] = what_it_says(tmp_path / name / "runs")
    fresh = next((tmp_path / "converted-now" / "models" / "builtin").glob("smollm2-135m-*"))
    assert json.loads((fresh / "QDBENCH_BUILTIN.json").read_text())["conversion_seconds"] > 0
    ok = seen["converted-before"] == seen["converted-now"]
    record("two machines", "builtin:smollm2-135m converted twice: fingerprint, run key, items", ok)
    assert ok, (seen["converted-before"], seen["converted-now"])
