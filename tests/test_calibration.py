"""Calibration data as a recipe field: sources, the papers' defaults for real models, windows, provenance."""

from __future__ import annotations

import pytest

from bench.compress import calibration as cal_mod
from bench.compress.recipes import Calibration, load_recipe, parse_recipe
from bench.errors import UserError
from bench.models.loading import ModelRef


def test_auto_is_the_papers_setting_for_real_models_and_builtin_for_tiny_ones():
    auto = Calibration()
    real = cal_mod.resolve(auto, "meta-llama/Llama-3.2-1B")
    assert (real.source, real.samples, real.seq_len) == ("wikitext", 128, 2048)
    tiny = cal_mod.resolve(auto, "builtin:tiny-llama")
    assert (tiny.source, tiny.samples, tiny.seq_len) == ("builtin", 64, 128)
    mine = cal_mod.resolve(Calibration(source="c4", samples=16), "org/model")
    assert (mine.samples, mine.seq_len) == (16, 2048)
    assert load_recipe("gptq-w4a16").calibration.source == "auto"


def test_token_windows_are_seeded_and_of_the_asked_length():
    ids = list(range(10_000))
    a = cal_mod.token_windows(ids, 8, 512, seed=3)
    assert a == cal_mod.token_windows(ids, 8, 512, seed=3) != cal_mod.token_windows(ids, 8, 512, seed=4)
    assert len(a) == 8 and all(len(w) == 512 and w == ids[w[0]:w[0] + 512] for w in a)
    assert cal_mod.token_windows(ids[:100], 8, 512, seed=3) == [ids[:100]]


def test_dataset_source_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = load_recipe("gptq-w4a16")
    with pytest.raises(UserError, match=r"wikitext.*offline.*local \.txt/\.jsonl file"):
        cal_mod.calibration_for(recipe, ModelRef("org/model", "org/model", None, "hub"))


def test_local_file_and_provenance(tmp_path):
    path = tmp_path / "calib.jsonl"
    path.write_text('{"body": "first text"}\n{"body": "second text"}\n')
    recipe = parse_recipe({"name": "g", "method": "gptq", "weight_bits": 4,
                           "calibration": {"source": str(path), "text_field": "body", "samples": 8}})
    resolved, texts, record = cal_mod.calibration_for(recipe, ModelRef("builtin:tiny-llama", "/x", None, "builtin"))
    assert sorted(texts) == ["first text", "second text"]
    assert record["sha256"] == cal_mod.texts_sha256(texts) and record["unit"] == "texts"
    assert resolved.calibration.seq_len == 2048 and record["seq_len"] == 2048
    other = recipe.model_copy(update={"calibration": recipe.calibration.model_copy(update={"seed": 9})})
    assert other.hash() != recipe.hash()


def test_matrix_calibration_replaces_the_recipes(tmp_path):
    from bench.exec.plan import load_matrix, plan

    path = tmp_path / "m.yaml"
    path.write_text("families: [{base: builtin:tiny-llama, variants: [gptq-w4a16, rtn-w8a16]}]\ntasks: [bbq]\n"
                    "calibration: {source: builtin, samples: 8, seq_len: 32}\n")
    runs = {r.variant: r.recipe for r in plan(load_matrix(path))}
    assert runs["gptq-w4a16"].calibration.samples == 8 and runs["gptq-w4a16"].calibration.source == "builtin"
