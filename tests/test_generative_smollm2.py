"""Generate mode on the real instruct model (SmolLM2-135M-Instruct): through its own chat template and as a
plain prompt, a handful of items with a small token budget (CPU time is scarce)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.exec.local import RunOptions, evaluate
from bench.tasks.registry import get_task


def run(backend, tmp_path, **kw):
    opts = RunOptions(out=tmp_path / "runs", limit=3, sample_data=True, device="cpu", dtype="float32", quiet=True,
                      mode="generate", max_new_tokens=8, **kw)
    (run_dir,) = evaluate(backend.ref, [get_task("bbq")], opts, backend=backend)
    return run_dir, pd.read_parquet(run_dir / "items.parquet")


def test_bbq_generate_with_the_chat_template_and_without(smollm2_backend, tmp_path):
    chat_dir, chat = run(smollm2_backend, tmp_path / "chat")
    plain_dir, plain = run(smollm2_backend, tmp_path / "plain", chat_template="none")
    assert chat["template_used"].all() and not plain["template_used"].any()
    assert chat["prompt_tokens"].gt(plain["prompt_tokens"]).all()  # the template's role markers
    for df in (chat, plain):
        assert df["generation"].str.len().gt(0).all()
        assert set(df["parse_status"]) <= {"ok", "empty", "no_answer", "ambiguous", "invalid_letter"}
        assert ((df["choice"] >= 0) == df["parsed"]).all()
    manifest = json.loads((chat_dir / "manifest.json").read_text())
    template = smollm2_backend.tokenizer.chat_template
    import hashlib

    assert manifest["settings"]["chat_template_sha256"] == hashlib.sha256(template.encode()).hexdigest()
    metrics = json.loads((chat_dir / "metrics.json").read_text())["metrics"]
    assert metrics["parse_failure_rate"] == pytest.approx(1 - chat["parsed"].mean())
    # the model knows what a letter answer is: through its template most of these parse
    assert chat["parsed"].sum() >= 1
