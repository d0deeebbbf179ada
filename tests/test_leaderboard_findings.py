"""The site's data from the committed submissions: placeholder families marked from their manifests, the recipe's
activation bits, and the findings of each family (the same document `qdbench findings` writes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import main
from bench.compress.recipes import ACTIVATION_BITS
from bench.leaderboard.aggregate import build_data, placeholder
from bench.leaderboard.bundle import variant_of
from bench.leaderboard.submissions import load_all
from bench.leaderboard.variants import METHODS

COMMITTED = Path(__file__).resolve().parents[1] / "leaderboard" / "submissions"
MIN_VARIANTS = 8


@pytest.fixture(scope="module")
def data() -> dict:
    if not COMMITTED.is_dir():
        pytest.skip("no committed submissions")
    return build_data(load_all(COMMITTED), n_resamples=200)


def test_placeholders_bits_and_findings(data, tmp_path, capsys):
    fams = {r["family"]: r["placeholder"] for r in data["rows"]}
    assert fams == {"smollm2-135m": False, "gemma3-270m": False, "tiny-llama-random-weights": True}
    a8 = {METHODS[m] for m in ACTIVATION_BITS}  # the recipes': SmoothQuant W8A8 and FP8; the rest are a16
    assert a8 == {"SmoothQuant", "FP8"}
    for r in data["rows"]:
        if r["kind"] == "quantized":
            assert r["activation_bits"] == (8 if r["method"] in a8 else 16), r["id"]
        if r["kind"] == "base":  # SmolLM2's ran in fp32, Gemma 3's in bf16 (configs/matrices/gemma3-quant.yaml)
            assert r["activation_bits"] == (16 if r["family"] == "gemma3-270m" else 32), r["id"]
    by_family = {f["family"]: f for f in data["findings"]}
    assert set(by_family) == set(fams)
    smol = by_family["smollm2-135m"]
    assert smol["error"] is None and not smol["placeholder"]
    claims = {c["id"] for c in smol["doc"]["claims"]}
    assert {"more-stereotyped", "dose-response", "3bit-stereotyped", "distilled-ood-gap"} <= claims
    rows = smol["doc"]["rows"]
    assert all(r["verdict"] in ("supported", "contradicted", "inconclusive", "not measured") for r in rows)
    tested = [r for r in rows if r["verdict"] != "not measured"]
    # a row without a test, or whose items never vary (no MDE: the bootstrap's spread is 0), says why
    undefined = "the effect or its test is undefined on these items"
    assert tested and all((r["mde"] is not None and r["p_holm"] is not None) or r["why"] in (undefined, r["unmet"])
                          for r in tested)
    constant = [r for r in tested if r["claim"] == "less-fair" and str(r["unmet"]).count("to every prompt") == 2]
    assert constant and all(r["mde"] is None for r in constant)
    # DiscrimEval on the written set's 24 decision questions: enough units to resample (3 were not)
    tested_tasks = ("bbq", "stereoset", "crows_pairs", "discrim_eval")
    assert all(r["p_holm"] is not None for r in tested if r["task"] in tested_tasks)
    assert {r["variant"] for r in tested if r["task"] == "discrim_eval" and r["claim"] == "less-fair"} >= {
        "gptq-w4a16", "rtn-w3a16", "smoothquant-w8a8"}
    # at full scale some claims are decided; an underpowered row still says inconclusive, never "no effect"
    assert {"supported", "contradicted"} & {r["verdict"] for r in tested}
    # students meet their equal-memory quantized variant by the bytes the submission measured: no model folder
    versus = {r["versus"] for r in rows if r["claim"] == "distilled-ood-gap" and r["verdict"] != "not measured"}
    assert versus - {"base"} and not any("weight bytes" in str(r["why"]) for r in rows)
    # Adult (zero-shot) ran for every quantized variant: the base answers "no" to every prompt, so its decision
    # parity rows say why they are inconclusive, while the parity of P(yes) is tested
    fair = [r for r in rows if r["claim"] == "less-fair" and r["task"] == "adult_fairness"]
    assert fair and all(r["verdict"] != "not measured" for r in fair)
    assert all(r["unmet"].startswith("the base answers 'no' to every prompt") for r in fair
               if r["metric"] == "demographic_parity_difference")
    assert all(r["p_holm"] is not None for r in fair if r["metric"] == "p_yes_parity_difference")
    # the students carry their proof of distillation against their control (measured when submitted)
    proofs = {r["variant"]: r["distillation"] for r in data["rows"] if r["family"] == "smollm2-135m"}
    assert all(proofs[v].startswith("distilled: closer to the teacher")
               for v in ("kd15-t1", "kd15-t2", "kd15-t4", "kd20-t1", "kd20-t2", "kd20-t4"))
    # the same numbers as the command line, from the same submission
    sub = next(COMMITTED.glob("smollm2-135m/*"))
    out = tmp_path / "f"
    assert main(["findings", "--family", "smollm2-135m", "--submission", str(sub), "--out", str(out),
                 "--resamples", "200"]) == 0
    capsys.readouterr()
    import json

    cli = json.loads((out / "findings.json").read_text())
    assert [(r["claim"], r["variant"], r["metric"], r["effect"], r["p_holm"]) for r in cli["rows"]] == \
        [(r["claim"], r["variant"], r["metric"], r["effect"], r["p_holm"]) for r in rows]


def test_the_real_family_is_at_full_scale():
    """Issue 23's bar for the shipped SmolLM2 family: every variant on at least 5,000 BBQ items, every CrowS-Pairs
    pair and at least 3,000 StereoSet clusters; quantized at three bit widths by several methods, and distilled
    students with their non-distilled control."""
    if not COMMITTED.is_dir():
        pytest.skip("no committed submissions")
    (sub,) = [s for s in load_all(COMMITTED) if s.family.name == "smollm2-135m"]
    floor = {"bbq": 5000, "crows_pairs": 1508, "stereoset": 3000}
    sizes = {(variant_of(r), r.task): r.manifest["data"]["n_items"] for r in sub.family.runs}
    variants = {v for v, _ in sizes}
    assert all(sizes.get((v, t), 0) >= n for v in variants for t, n in floor.items()), sizes
    kinds = {v: sub.variant(v) for v in variants}
    quantized = {v for v, d in kinds.items() if d["kind"] == "quantized"}
    distilled = {v for v, d in kinds.items() if d["kind"] == "distilled"}
    assert len(variants - {"base"}) >= MIN_VARIANTS and len(distilled) >= 2
    assert {kinds[v]["weight_bits"] for v in quantized} >= {8, 4, 3}
    assert len({kinds[v]["method"] for v in quantized}) >= 2


def test_the_second_real_family_is_at_full_scale():
    """Issue 23's second family: Gemma 3 270M and GPTQ variants at two or more bit widths on the three bias tasks
    at the leaderboard's scale, with findings of its own."""
    if not COMMITTED.is_dir():
        pytest.skip("no committed submissions")
    (sub,) = [s for s in load_all(COMMITTED) if s.family.name == "gemma3-270m"]
    sizes = {(variant_of(r), r.task): r.manifest["data"]["n_items"] for r in sub.family.runs}
    variants = {v for v, _ in sizes}
    floor = {"bbq": 5000, "crows_pairs": 1508, "stereoset": 3000}
    assert all(sizes.get((v, t), 0) >= n for v in variants for t, n in floor.items()), sizes
    bits = {sub.variant(v)["weight_bits"] for v in variants - {"base"}}
    assert len(bits) >= 2 and bits <= {8, 4, 3}


def test_placeholder_is_read_from_the_manifest():
    class R:
        def __init__(self, model):
            self.manifest = {"model": model}
    assert placeholder([R({"kind": "builtin", "spec": "builtin:tiny-llama"})])
    assert placeholder([R({"kind": "local", "spec": "/m", "about": {"random": True}})])
    assert not placeholder([R({"kind": "builtin", "spec": "builtin:smollm2-135m", "about": {"random": False}})])
    assert not placeholder([R({"kind": "hf", "spec": "gpt2"})])


def test_a_student_shows_the_bits_it_is_stored_in():
    from bench.leaderboard.variants import describe

    recipe = {"method": "distill", "save_dtype": "bfloat16"}
    manifest = {"variant": {"name": "kd15", "recipe": recipe}, "model": {"dtype": "float32"}}
    assert describe(manifest) == {"method": "KD student", "kind": "distilled", "weight_bits": 16,
                                  "activation_bits": 32}
    recipe["save_dtype"] = "float32"
    assert describe(manifest)["weight_bits"] == 32
    recipe["weight_bits"] = 4  # distilled, then quantized
    assert describe(manifest)["weight_bits"] == 4
