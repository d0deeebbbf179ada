"""Issue 16, item 4: non-finite log-likelihoods are flagged per item, kept out of metrics, fail the run above
the threshold, and are refused or left out by compare."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.store.finite import MAX_NONFINITE_FRACTION, NONFINITE, flag_row, nonfinite_mask
from tests.conftest import the_run
from tests.test_cli import cli, run_bbq
from tests.test_cli_errors import refused
from tests.test_compare import synthetic, write_run


def nan_weight_copy(src: Path, dst: Path) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    tensors = load_file(dst / "model.safetensors")
    name = "model.layers.0.mlp.down_proj.weight"
    tensors[name] = tensors[name].clone()
    tensors[name][0, 0] = float("nan")
    save_file(tensors, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_nan_weight_fails_the_run(tmp_path, tiny_model_dir):
    model = nan_weight_copy(tiny_model_dir, tmp_path / "nan-model")
    result = cli("run", "--model", str(model), "--tasks", "bbq", "--limit", "12", "--out", str(tmp_path / "o"),
                 "--quiet")
    refused(result, "12 of 12 items", "non-finite", f"{MAX_NONFINITE_FRACTION:.0%}")
    assert not list((tmp_path / "o").rglob("manifest.json"))


class NaNFor:
    """The tiny backend, but NaN for the requests whose context is one given text."""

    def __init__(self, inner, context: str):
        self.inner, self.context = inner, context
        self.name, self.device, self.dtype, self.model = inner.name, inner.device, inner.dtype, inner.model

    def loglikelihood(self, requests):
        out = self.inner.loglikelihood(requests)
        return [dataclasses.replace(r, logprob=float("nan")) if q.context == self.context else r
                for q, r in zip(requests, out, strict=True)]


def test_a_few_nonfinite_items_are_flagged_and_left_out(tmp_path, tiny_backend):
    from bench.exec.local import RunOptions, evaluate, prepare
    from bench.models.loading import resolve
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    opts = RunOptions(out=tmp_path, quiet=True, dtype="float32")
    docs = prepare(task, opts).docs
    target = task.render(docs[0])
    n_bad = sum(task.render(d) == target for d in docs)
    assert 0 < n_bad / len(docs) <= MAX_NONFINITE_FRACTION
    [run_dir] = evaluate(resolve("builtin:tiny-llama"), [task], opts, backend=NaNFor(tiny_backend, target))
    items = pd.read_parquet(run_dir / "items.parquet")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert items[NONFINITE].sum() == n_bad and items[NONFINITE].iloc[0]
    assert metrics["n_nonfinite"] == n_bad and metrics["n_items"] == len(docs) - n_bad
    assert manifest["data"]["n_nonfinite"] == n_bad
    finite = items[~items[NONFINITE]]
    assert metrics["metrics"]["accuracy"] == pytest.approx((finite["pred"] == finite["gold"]).mean())


def test_flag_row_looks_at_model_outputs_not_data_fields():
    class R:
        logprob = -1.0

    assert not flag_row({"item_id": "a", "ll": [-1.0, -2.0]}, [R()])[NONFINITE]
    assert flag_row({"item_id": "a", "ll": [-1.0, float("inf")]}, [])[NONFINITE]
    assert flag_row({"item_id": "a", "p_yes": float("nan")}, [])[NONFINITE]
    assert not flag_row({"item_id": "a", "target_loc": float("nan")}, [], ["target_loc"])[NONFINITE]
    old = pd.DataFrame({"item_id": ["a", "b"], "ll": [[-1.0, math.nan], [-1.0, -2.0]]})
    assert nonfinite_mask(old).tolist() == [True, False]


def _with_nan_ll(df: pd.DataFrame, n: int) -> pd.DataFrame:
    df = df.copy()
    df["ll"] = [[-1.0, -2.0, -3.0]] * len(df)
    df.loc[: n - 1, "ll"] = pd.Series([[np.nan, np.nan, np.nan]] * n)
    return df


def test_compare_refuses_a_mostly_nonfinite_run(tmp_path):
    df = synthetic(30)
    base = write_run(tmp_path / "b", _with_nan_ll(df, 0))
    var = write_run(tmp_path / "v", _with_nan_ll(df, len(df)))
    refused(cli("compare", str(base), str(var), "--no-plots", "--resamples", "10", "--out", str(tmp_path / "c")),
            "non-finite", str(var))
    assert not (tmp_path / "c").exists()


def test_compare_leaves_out_a_few_nonfinite_items(tmp_path):
    df = synthetic(300)
    base = write_run(tmp_path / "b", _with_nan_ll(df, 0))
    var = write_run(tmp_path / "v", _with_nan_ll(df, 2))
    result = cli("compare", str(base), str(var), "--no-plots", "--resamples", "10", "--out", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert "2 items with non-finite scores" in result.stderr
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert doc["comparisons"][0]["excluded_nonfinite"] == 2


def test_finite_run_has_no_flags(tmp_path, tiny_model_dir):
    assert run_bbq(tmp_path, "--limit", "6").returncode == 0
    items = pd.read_parquet(the_run(tmp_path / "tiny-llama" / "bbq") / "items.parquet")
    assert not items[NONFINITE].any()
