"""A model's fingerprint is a hash of what decides its answers: equal for two builds of the same model (in two
caches, at two times), different as soon as a weight, the config, the tokenizer or the recipe differs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.models.loading import fingerprint


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _edit_json(path, **fields):
    record = json.loads(path.read_text())
    record.update(fields)
    path.write_text(json.dumps(record, indent=2))


def test_a_built_in_model_s_description_is_not_in_its_fingerprint(tmp_path, tiny_model_dir):
    """QDBENCH_BUILTIN.json records how long the conversion took: a second conversion is the same model."""
    other = _copy(tiny_model_dir, tmp_path / "other")
    _edit_json(other / "QDBENCH_BUILTIN.json", conversion_seconds=123.4, note="converted on another machine")
    assert fingerprint(other) == fingerprint(tiny_model_dir)


@pytest.mark.parametrize(("file", "change"), [
    ("config.json", lambda p: _edit_json(p, rms_norm_eps=1e-5)),
    ("tokenizer_config.json", lambda p: _edit_json(p, chat_template="{{ messages[0]['content'] }}")),
    ("model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:-4] + b"\x00\x00\x00\x40")),
])
def test_what_decides_outputs_is_in_the_fingerprint(tmp_path, tiny_model_dir, file, change):
    other = _copy(tiny_model_dir, tmp_path / "other")
    change(other / file)
    assert fingerprint(other)["sha256"] != fingerprint(tiny_model_dir)["sha256"]


def test_a_variant_s_recipe_counts_and_its_build_record_does_not(tmp_path, tiny_model_dir):
    folder = _copy(tiny_model_dir, tmp_path / "variant")
    record = {"recipe_hash": "r1", "created": "2026-12-04T10:00:00+00:00", "wall_s": 1.5, "peak_rss_bytes": 10,
              "base": {"path": "/home/a/.cache/qdbench/models/x"}, "files": {"model.safetensors": {"bytes": 1}}}
    (folder / "qdbench_variant.json").write_text(json.dumps(record))
    first = fingerprint(folder)
    _edit_json(folder / "qdbench_variant.json", created="2026-12-05T11:00:00+00:00", wall_s=2.25,
               peak_rss_bytes=99, base={"path": "/home/b/models/x"})
    assert fingerprint(folder) == first
    _edit_json(folder / "qdbench_variant.json", recipe_hash="r2")
    assert fingerprint(folder)["sha256"] != first["sha256"]
    _edit_json(folder / "qdbench_variant.json", recipe_hash="r1", load_time_quantization={"load_in_4bit": True})
    assert fingerprint(folder)["sha256"] != first["sha256"]


def test_two_builds_of_one_recipe_in_two_caches_have_one_fingerprint(tmp_path, tiny_model_dir):
    """Two machines (two fresh caches) building the same variant get the same folder name and fingerprint,
    although their build records (time, memory, paths) differ."""
    pytest.importorskip("llmcompressor")
    from bench.compress.recipes import load_recipe
    from bench.compress.variants import materialize, read_provenance
    from bench.models.loading import resolve

    base, recipe = resolve("builtin:tiny-llama"), load_recipe("rtn-w8a16")
    one, two = (materialize(base, recipe, tmp_path / name / "variants") for name in ("a", "b"))
    assert one.path != two.path and one.slug == two.slug
    record = read_provenance(one.path)
    _edit_json(Path(two.path) / "qdbench_variant.json", wall_s=record["wall_s"] + 61.5,
               peak_rss_bytes=record["peak_rss_bytes"] * 2, created="2001-01-01T00:00:00+00:00")
    assert read_provenance(two.path)["wall_s"] != record["wall_s"]
    assert fingerprint(Path(one.path)) == fingerprint(Path(two.path))
