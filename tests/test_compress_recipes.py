"""Recipe and matrix validation: every shipped file parses; bad values name the file and the field."""

from __future__ import annotations

import pytest

from bench.compress.recipes import available, group_sizes, load_recipe, parse_recipe
from bench.errors import UserError

SHIPPED = {"rtn-w8a16", "rtn-w4a16", "rtn-w3a16", "gptq-w8a16", "gptq-w4a16", "gptq-w3a16", "gptq-w2a16", "awq-w4a16",
           "smoothquant-w8a8", "fp8-dynamic", "bnb-nf4", "bnb-int8"}


def test_every_shipped_recipe_loads():
    assert set(available()) >= SHIPPED
    for name in available():
        r = load_recipe(name)
        assert r.name == name and len(r.hash()) == 64


def test_recipe_hash_ignores_name_but_not_content():
    a = load_recipe("gptq-w4a16")
    renamed = parse_recipe({**a.model_dump(), "name": "other", "description": "x"})
    assert renamed.hash() == a.hash()
    assert parse_recipe({**a.model_dump(), "group_size": 64}).hash() != a.hash()


def write(tmp_path, text: str):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,expected", [
    ("method: hqq\nweight_bits: 4\n", "field 'method'"),
    ("method: gptq\nweight_bits: 5\n", "field 'weight_bits': 5 is not supported by method 'gptq'"),
    ("method: bnb-nf4\nweight_bits: 8\n", "expected one of [4]"),
    ("method: gptq\nweight_bits: 4\nactivation_bits: 8\n", "field 'activation_bits"),
    ("method: gptq\nweight_bits: 4\ngroup_size: 0\n", "field 'group_size'"),
    ("method: gptq\nweight_bits: 4\ncalibration: {samples: -1}\n", "field 'calibration.samples'"),
    ("method: gptq\nweight_bits: 4\nbits: 4\n", "field 'bits'"),
    ("method: prequantized\n", "needs `model`"),
    ("- a list\n", "expected a mapping"),
])
def test_bad_recipe_names_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as e:
        load_recipe(path)
    assert str(path) in str(e.value) and expected in str(e.value)


def test_unknown_recipe_lists_the_shipped_ones():
    with pytest.raises(UserError, match="unknown variant recipe 'gptq-w5'.*gptq-w4a16"):
        load_recipe("gptq-w5")


def test_group_size_falls_back_to_a_power_of_two_that_divides_the_layer():
    smollm2 = {"layers.0.self_attn.q_proj": 576, "layers.0.self_attn.o_proj": 576, "layers.0.mlp.down_proj": 1536}
    assert group_sizes(load_recipe("gptq-w4a16"), smollm2) == {
        "layers.0.self_attn.q_proj": 64, "layers.0.self_attn.o_proj": 64, "layers.0.mlp.down_proj": 128}
    assert group_sizes(load_recipe("gptq-w8a16"), smollm2) == dict.fromkeys(smollm2)  # per channel
    g96 = parse_recipe({"name": "g96", "method": "rtn", "weight_bits": 4, "group_size": 96})
    assert group_sizes(g96, {"a": 288, "b": 256, "c": 96}) == {"a": 96, "b": 64, "c": 96}


def test_group_size_nothing_divides_names_the_layer_and_dimension():
    with pytest.raises(UserError, match=r"recipe 'gptq-w4a16': layer 'x.up' has input dimension 200, which no group "
                                        r"size of 128, 64, 32 divides.*group_size: null"):
        group_sizes(load_recipe("gptq-w4a16"), {"x.q": 256, "x.up": 200})
    g24 = parse_recipe({"name": "g24", "method": "rtn", "weight_bits": 4, "group_size": 24})
    with pytest.raises(UserError, match="dimension 256, which no group size of 24 divides"):
        group_sizes(g24, {"a": 256})


def test_group_size_error_before_anything_is_written(tiny_model_dir, qdbench_home):
    from bench.compress.variants import materialize
    from bench.models.loading import resolve

    r = parse_recipe({"name": "g24", "method": "gptq", "weight_bits": 4, "group_size": 24})
    with pytest.raises(UserError, match=r"layer 'model.layers.0.self_attn.q_proj' has input dimension 256"):
        materialize(resolve("builtin:tiny-llama"), r, qdbench_home / "v-bad")
    assert not (qdbench_home / "v-bad").exists()


def test_calibration_is_seeded_and_file_sources_validated(tmp_path):
    from bench.compress.calibration import calibration_texts

    assert calibration_texts("builtin", 5, 1) == calibration_texts("builtin", 5, 1)
    assert calibration_texts("builtin", 5, 1) != calibration_texts("builtin", 5, 2)
    good = tmp_path / "c.jsonl"
    good.write_text('{"text": "one"}\n{"text": "two"}\n')
    assert sorted(calibration_texts(str(good), 10, 0)) == ["one", "two"]
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"txt": "one"}\n')
    with pytest.raises(UserError, match=r"d.jsonl:1: expected an object with a string field 'text'"):
        calibration_texts(str(bad), 10, 0)


def test_matrix_validation(tmp_path):
    from bench.exec.plan import load_matrix, plan

    m = load_matrix(__import__("bench.paths").paths.repo_root() / "configs" / "matrices" / "quickstart.yaml")
    runs = plan(m)
    assert [(r.variant, r.task) for r in runs] == [("base", "bbq"), ("gptq-w4a16", "bbq"), ("rtn-w8a16", "bbq")]
    assert runs[1].run_name == "tiny-llama/gptq-w4a16"
    p = write(tmp_path, "families: [{base: builtin:tiny-llama, variants: [gptq-w9]}]\ntasks: [bbq]\n")
    with pytest.raises(UserError, match="unknown variant recipe 'gptq-w9'"):
        plan(load_matrix(p))
    p = write(tmp_path, "families: []\ntasks: [bbq]\n")
    with pytest.raises(UserError, match=r"bad.yaml: field 'families'"):
        load_matrix(p)
    p = write(tmp_path, "families: [{base: builtin:tiny-llama, variant: [x]}]\ntasks: [bbq]\n")
    with pytest.raises(UserError, match=r"field 'families.0.variant'"):
        load_matrix(p)
