"""Shipped recipes on the real model, whose hidden size 576 is not a multiple of the usual group size 128.

Quantizing SmolLM2 on a CPU is slow (GPTQ takes minutes), so the real quantization here is round-to-nearest
int4 and GPTQ int4 (both meet the group-size fallback); every recipe's group plan is checked against the real
model's layers, and every recipe quantizes the tiny model in tests/test_compress_variants.py.
"""

import json
from pathlib import Path

import pytest

pytest.importorskip("llmcompressor")

from bench.compress import variants as variants_mod  # noqa: E402
from bench.compress.quantize import layer_inputs  # noqa: E402
from bench.compress.recipes import available, group_sizes, load_recipe, parse_recipe  # noqa: E402
from bench.models.loading import load_causal_lm, resolve  # noqa: E402
from bench.models.requests import LoglikelihoodRequest as R  # noqa: E402

SMALL_CALIBRATION = {"source": "builtin", "samples": 8, "seq_len": 32, "seed": 7}


def test_every_shipped_recipe_plans_group_sizes_on_the_real_layers(smollm2_backend):
    for name in available():
        recipe = load_recipe(name)
        sizes = group_sizes(recipe, layer_inputs(smollm2_backend.model, recipe))
        assert len(sizes) == 30 * 7 and not any("lm_head" in k for k in sizes)
        for layer, g in sizes.items():
            if recipe.group_size is None:
                assert g is None
            else:
                assert g == (128 if layer.endswith("down_proj") else 64), (name, layer)


@pytest.mark.parametrize("name", ["rtn-w4a16", "gptq-w4a16"])
def test_group_size_128_recipes_quantize_the_real_model(smollm2_backend, name):
    raw = load_recipe(name).model_dump()
    if load_recipe(name).calibrated:
        raw["calibration"] = SMALL_CALIBRATION
    ref = variants_mod.materialize(resolve("builtin:smollm2-135m"), parse_recipe(raw, name))
    groups = json.loads((Path(ref.path) / "config.json").read_text())["quantization_config"]["config_groups"]
    by_size = {g["weights"]["group_size"]: g["targets"] for g in groups.values()}
    assert set(by_size) == {128, 64} and by_size[128] == [r"re:^model\.layers\.\d+\.mlp\.down_proj$"]
    prov = variants_mod.read_provenance(ref.path)["group_sizes"]
    assert prov["recipe_group_size"] == 128
    assert prov["layers"]["model.layers.N.self_attn.q_proj"] == {"in_features": 576, "group_size": 64, "layers": 30}
    assert prov["layers"]["model.layers.N.mlp.down_proj"]["group_size"] == 128
    from bench.models.hf import HFBackend

    variant = HFBackend(ref, device="cpu", dtype="float32", model=load_causal_lm(ref, dtype="float32"))
    reqs = [R("The capital of France is", " Paris."), R("The capital of France is", " Berlin.")]
    base_paris, _ = smollm2_backend.loglikelihood(reqs)
    paris, berlin = variant.loglikelihood(reqs)
    assert paris.logprob > berlin.logprob + 3  # 4-bit keeps what it knows
    assert paris.logprob != base_paris.logprob
