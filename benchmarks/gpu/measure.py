"""The GPU measurement, made to fit one call of a lent device (about 8 minutes), or `--dry-run` on a CPU.

What it measures, each section on its own so one failure leaves the others (results are written to
`$OUT/gpu_results.json` after every section, and a table to `gpu_results.md`):

1. the machine: GPU, torch/transformers/CUDA versions, and the bf16 matrix rate measured there (the ceiling
   the FLOP floor is counted against);
2. BBQ multiple-choice scoring in bf16 on SmolLM2-135M (its real weights when the GGUF file is given, else its
   architecture with random weights, labelled) and on a 1B-parameter random Llama (Llama-3.2-1B's shape with
   SmolLM2's tokenizer): qdbench's packed prefix-tree scorer (default and GPU-sized token budgets), one
   sequence per option, and lm-eval 0.4's HFLM, on the same items and weights, each against the floor of
   benchmarks/bbq_scoring.py (distinct prefixes once), with |ΔLL| and equal picks against one sequence per
   option; on SmolLM2 also bf16 against fp32 (how many picks bf16 changes);
3. sampled generation, k samples per prompt: qdbench's `generate` against HF `generate` called per sample;
4. a GPTQ int4 build of SmolLM2 on CUDA through qdbench's own recipe path (llm-compressor);
5. vLLM: not run (its wheel set is 355 MB in seven parts, more than one call carries; see RESULTS.md).

    python benchmarks/gpu/measure.py --data DIR [--gguf FILE] [--dry-run] [--budget-s 420]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/: the floor is counted as bbq_scoring.py counts it
sys.path.insert(0, str(HERE.parents[1]))  # the checkout, for `bench`

from bbq_scoring import floor_flops  # noqa: E402

RESULTS: dict = {"sections": {}}
ONLY: set[str] = set()
START = time.perf_counter()


def out_dir() -> Path:
    path = Path(os.environ.get("OUT") or "/tmp/qdbench-gpu-out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def save() -> None:
    RESULTS["elapsed_s"] = round(time.perf_counter() - START, 1)
    (out_dir() / "gpu_results.json").write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")
    (out_dir() / "gpu_results.md").write_text(table() + "\n")


def section(name: str, budget_s: float, needs_s: float):
    """Run a section when the time left allows it; its error is recorded, never fatal."""
    def wrap(fn):
        if ONLY and name not in ONLY and name != "environment":
            return fn
        left = budget_s - (time.perf_counter() - START)
        if left < needs_s:
            RESULTS["sections"][name] = {"skipped": f"{left:.0f} s left of the budget, {needs_s:.0f} s needed"}
            print(f"[{name}] skipped: time budget", flush=True)
            save()
            return fn
        t0 = time.perf_counter()
        print(f"[{name}] start at {t0 - START:.0f} s", flush=True)
        try:
            RESULTS["sections"][name] = {**fn(), "section_s": round(time.perf_counter() - t0, 1)}
        except Exception as e:  # a measurement that breaks is reported; the next one still runs
            RESULTS["sections"][name] = {"error": f"{type(e).__name__}: {e}"[:2000],
                                         "traceback": traceback.format_exc()[-4000:]}
            print(f"[{name}] FAILED: {type(e).__name__}: {e}", flush=True)
        save()
        return fn
    return wrap


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str):
    sync(device)
    t0 = time.perf_counter()
    value = fn()
    sync(device)
    return value, time.perf_counter() - t0


def matmul_rate(device: str, dtype: torch.dtype, n: int, repeats: int) -> float:
    """FLOP/s of an n×n×n product on random data (median of `repeats` after warm-up): the ceiling."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    times = [timed(lambda: a @ b, device)[1] for _ in range(repeats)]
    return 2 * n**3 / statistics.median(times)


def environment(device: str) -> dict:
    import transformers

    info = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "device": device, "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, cuda=torch.version.cuda)
    try:
        import lm_eval

        info["lm_eval"] = getattr(lm_eval, "__version__", "installed")
    except ImportError:
        info["lm_eval"] = None
    return info


def bbq_requests(data: Path, n: int):
    """`n` BBQ items drawn as `qdbench run --limit n` draws them (stratified, seed 0), with their requests."""
    from bench.data import store
    from bench.data.sampling import stratified_sample
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    docs = store.load(task.spec, data).docs
    docs = [docs[i] for i in stratified_sample(docs, n, task.spec.stratify_by, seed=0)]
    per_item = [task.requests(d) for d in docs]
    return per_item, [r for rs in per_item for r in rs]


def picks(per_item, lls: list[float]) -> list[int]:
    out, k = [], 0
    for rs in per_item:
        scores = lls[k:k + len(rs)]
        out.append(max(range(len(rs)), key=scores.__getitem__))
        k += len(rs)
    return out


def agreement(per_item, ref: list[float], other: list[float]) -> dict:
    diffs = [abs(a - b) for a, b in zip(ref, other, strict=True)]
    same = sum(a == b for a, b in zip(picks(per_item, ref), picks(per_item, other), strict=True))
    return {"max_abs_dll": max(diffs), "median_abs_dll": statistics.median(diffs), "same_pick": same,
            "items": len(per_item)}


def backend(model, tokenizer, device: str, dtype: str, **budget):
    from bench.models.hf import HFBackend
    from bench.models.loading import ModelRef

    ref = ModelRef(spec="gpu-benchmark", path="gpu-benchmark")
    return HFBackend(ref, device=device, dtype=dtype, model=model, tokenizer=tokenizer, **budget)


def score_all(model, tokenizer, per_item, requests, device: str, dtype: str, rate: float, warm: int) -> dict:
    """Every method on the same requests; the first `warm` items of each run once untimed (kernels, caches)."""
    hf = backend(model, tokenizer, device, dtype)
    pairs = {tuple(map(tuple, hf.encode_pair(r.context, r.continuation))) for r in requests}
    floor_s = floor_flops(model, pairs) / rate
    warm_reqs = [r for rs in per_item[:warm] for r in rs]
    gpu_budget = {"batch_tokens": 1 << 17, "max_batch_size": 1024} if device.startswith("cuda") else {}
    methods = {
        "qdbench packed (prefix trees), default budget": hf,
        "qdbench packed (prefix trees), GPU budget": backend(model, tokenizer, device, dtype, **gpu_budget),
        "qdbench one sequence per option": backend(model, tokenizer, device, dtype, pack=False, **gpu_budget),
    }
    runs: dict = {}
    lls: dict = {}
    for name, be in methods.items():
        be.loglikelihood(warm_reqs)
        res, seconds = timed(lambda be=be: be.loglikelihood(requests), device)
        lls[name] = [r.logprob for r in res]
        runs[name] = {"seconds": round(seconds, 3), "items_per_s": round(len(per_item) / seconds, 1),
                      "share_of_floor": round(floor_s / seconds, 3)}
        print(f"  {name}: {seconds:.2f} s, {len(per_item) / seconds:.0f} items/s", flush=True)
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM

        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=64, add_bos_token=True, device=device)

        def lm_eval_ll(reqs):
            inst = [Instance("loglikelihood", {}, (r.context, r.continuation), i) for i, r in enumerate(reqs)]
            return [ll for ll, _ in lm.loglikelihood(inst, disable_tqdm=True)]

        lm_eval_ll(warm_reqs)
        res, seconds = timed(lambda: lm_eval_ll(requests), device)
        lls["lm-eval 0.4 HFLM (batch 64)"] = res
        runs["lm-eval 0.4 HFLM (batch 64)"] = {"seconds": round(seconds, 3),
                                               "items_per_s": round(len(per_item) / seconds, 1),
                                               "share_of_floor": round(floor_s / seconds, 3)}
        print(f"  lm-eval HFLM: {seconds:.2f} s", flush=True)
    except ImportError as e:
        runs["lm-eval 0.4 HFLM (batch 64)"] = {"skipped": f"lm-eval not importable: {e}"}
    single = lls["qdbench one sequence per option"]
    for name, values in lls.items():
        runs[name]["vs_one_sequence"] = agreement(per_item, single, values)
    lm_eval_s = runs.get("lm-eval 0.4 HFLM (batch 64)", {}).get("seconds")
    if lm_eval_s:
        for name in runs:
            if "seconds" in runs[name]:
                runs[name]["x_lm_eval"] = round(lm_eval_s / runs[name]["seconds"], 2)
    return {"items": len(per_item), "requests": len(requests), "distinct_pairs": len(pairs),
            "floor_s": round(floor_s, 4), "methods": runs, "lls_packed": lls[next(iter(methods))]}


def smollm2(tokenizer_dir: Path, gguf: Path | None, device: str, dtype: torch.dtype):
    """SmolLM2-135M: its real weights, converted from the GGUF file as `builtin:smollm2-135m` converts it
    (sha256 checked), else its shape with random weights."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if gguf is not None:
        folder = gguf.parent / "smollm2-135m"
        if not (folder / "model.safetensors").is_file():
            from bench.models.smollm2 import convert

            folder.mkdir(exist_ok=True)
            convert(folder, src=gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        return model.to(device).eval(), "real weights (Q4_1 GGUF release dequantized)"
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(tokenizer_dir)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    return model.to(device).eval(), "SmolLM2's shape, random weights (speed only: picks are meaningless)"


def llama_1b(vocab: int, device: str, dtype: torch.dtype, small: bool):
    """Llama-3.2-1B's shape (hidden 2048, 16 layers, 32 heads, 8 KV heads, MLP 8192, tied embeddings) with
    random weights and SmolLM2's vocabulary, built on the device."""
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2) if small else dict(hidden_size=2048, intermediate_size=8192,
                                                         num_hidden_layers=16, num_attention_heads=32,
                                                         num_key_value_heads=8)
    config = LlamaConfig(vocab_size=vocab, max_position_embeddings=8192, tie_word_embeddings=True,
                         rope_theta=500000.0, attn_implementation="sdpa", **shape)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    return model.eval()


def generation(model, tokenizer, prompts: list[str], k: int, baseline_prompts: int, device: str, dtype: str) -> dict:
    """k sampled continuations per prompt (temperature 1, top-p 0.9, 32 tokens, seeded as rtp_toxicity seeds
    them): qdbench's batched `generate` on all prompts, HF `generate` once per sample on the first few."""
    from bench.models.requests import GenerationRequest

    hf = backend(model, tokenizer, device, dtype)
    reqs = [GenerationRequest(p, max_new_tokens=32, temperature=1.0, top_p=0.9, seed=1000 * i + j)
            for i, p in enumerate(prompts) for j in range(k)]
    hf.generate(reqs[:k])
    texts, seconds = timed(lambda: hf.generate(reqs), device)
    new_tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)

    def per_sample():
        out = []
        for r in reqs[:baseline_prompts * k]:
            ids = tokenizer(r.prompt, return_tensors="pt").input_ids.to(device)
            torch.manual_seed(r.seed)
            out.append(model.generate(ids, do_sample=True, temperature=1.0, top_p=0.9, top_k=0, max_new_tokens=32,
                                      pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id))
        return out

    _, base_s = timed(per_sample, device)
    ours = seconds / len(reqs)
    theirs = base_s / (baseline_prompts * k)
    return {"prompts": len(prompts), "samples_per_prompt": k, "qdbench_s": round(seconds, 2),
            "qdbench_samples_per_s": round(len(reqs) / seconds, 1), "qdbench_new_tokens": new_tokens,
            "hf_generate_per_sample_s": round(base_s, 2), "hf_generate_samples": baseline_prompts * k,
            "hf_generate_samples_per_s": round(baseline_prompts * k / base_s, 1),
            "x_hf_generate_per_sample": round(theirs / ours, 2)}


def gptq_build(model, tokenizer, workdir: Path, calibration: dict) -> dict:
    """qdbench's GPTQ int4 recipe on a saved copy of the model, on CUDA when there is one (llm-compressor moves
    each layer to the accelerator)."""
    from bench.compress.quantize import quantize
    from bench.compress.recipes import load_recipe, parse_recipe

    src = workdir / "base"
    model.save_pretrained(src)
    tokenizer.save_pretrained(src)
    raw = load_recipe("gptq-w4a16").model_dump()
    raw["calibration"].update(calibration)
    recipe = parse_recipe(raw)
    from bench.compress.calibration import calibration_texts

    texts = calibration_texts("builtin", recipe.calibration.samples, recipe.calibration.seed)
    out = workdir / "gptq-w4a16"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary = quantize(str(src), recipe, out, tokenizer, texts)
    seconds = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    return {"recipe": "gptq-w4a16", "calibration": calibration, "seconds": round(seconds, 1),
            "safetensors_bytes": size, "layers": summary.get("layers")}


def table() -> str:
    lines = ["| measurement | figure |", "| --- | --- |"]
    env = RESULTS["sections"].get("environment", {})
    if "gpu" in env or "device" in env:
        lines.append(f"| machine | {env.get('gpu', env.get('cpu'))}, torch {env.get('torch')}, "
                     f"transformers {env.get('transformers')}, lm-eval {env.get('lm_eval')} |")
    if "matmul_tflops" in env:
        lines.append(f"| matrix rate ({env['matmul_dtype']}, n={env['matmul_n']}) | {env['matmul_tflops']} TFLOP/s |")
    for key in ("scoring_smollm2", "scoring_llama_1b"):
        s = RESULTS["sections"].get(key, {})
        for name, m in s.get("methods", {}).items():
            if "seconds" in m:
                agree = m.get("vs_one_sequence", {})
                lines.append(f"| {key} ({s.get('weights', '')}) {name} | {m['items_per_s']} items/s, "
                             f"{100 * m['share_of_floor']:.0f}% of floor, {m.get('x_lm_eval', '—')}× lm-eval, "
                             f"max |ΔLL| {agree.get('max_abs_dll', float('nan')):.3g}, same pick "
                             f"{agree.get('same_pick')}/{agree.get('items')} |")
            else:
                lines.append(f"| {key} {name} | {m} |")
        if "bf16_vs_fp32" in s:
            a = s["bf16_vs_fp32"]
            lines.append(f"| {key} bf16 vs fp32 (packed) | max |ΔLL| {a['max_abs_dll']:.3g}, median "
                         f"{a['median_abs_dll']:.3g}, same pick {a['same_pick']}/{a['items']} |")
    g = RESULTS["sections"].get("generation", {})
    if "qdbench_samples_per_s" in g:
        lines.append(f"| generation, {g['prompts']} prompts × {g['samples_per_prompt']} samples × 32 tokens | "
                     f"qdbench {g['qdbench_samples_per_s']} samples/s, HF generate per sample "
                     f"{g['hf_generate_samples_per_s']} samples/s ({g['x_hf_generate_per_sample']}×) |")
    q = RESULTS["sections"].get("gptq_build", {})
    if "seconds" in q:
        lines.append(f"| GPTQ int4 build of SmolLM2 ({q['calibration']}) | {q['seconds']} s |")
    for name, s in RESULTS["sections"].items():
        if "error" in s or "skipped" in s:
            lines.append(f"| {name} | {s.get('error') or s.get('skipped')} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True,
                   help="a folder holding bbq/ (published layout), tokenizer/ (SmolLM2's) and prompts.jsonl")
    p.add_argument("--gguf", type=Path, help="SmolLM2's GGUF file (its real weights); else random weights")
    p.add_argument("--dry-run", action="store_true", help="on the CPU, small sizes: the same code paths")
    p.add_argument("--small", action="store_true", help="small sizes on the device: every section, quickly")
    p.add_argument("--items", type=int, help="BBQ items (default 3000; dry run 24)")
    p.add_argument("--budget-s", type=float, default=420.0, help="sections that would not fit are skipped")
    p.add_argument("--only", default="", help="comma-separated sections (default: all)")
    args = p.parse_args()
    ONLY.update(filter(None, args.only.split(",")))
    dry = args.dry_run
    small = dry or args.small
    device = "cpu" if dry else "cuda"
    dtype_name = "float32" if dry else "bfloat16"
    dtype = getattr(torch, dtype_name)
    n_items = args.items or (24 if small else 3000)
    budget = args.budget_s
    RESULTS["args"] = {k: str(v) for k, v in vars(args).items()}
    os.environ.setdefault("QDBENCH_HOME", str(out_dir() / "qdbench-home") if dry else "/tmp/qdbench-home")

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.data / "tokenizer")
    per_item, requests = bbq_requests(args.data / "bbq", n_items)
    prompts = [json.loads(line)["prompt"] for line in (args.data / "prompts.jsonl").read_text().splitlines()]
    state: dict = {}

    @section("environment", budget, 5)
    def _():
        info = environment(device)
        n = 512 if dry else 8192
        rate = matmul_rate(device, dtype, n, 3 if dry else 10)
        state["rate"] = rate
        return {**info, "matmul_n": n, "matmul_dtype": dtype_name, "matmul_tflops": round(rate / 1e12, 3)}

    rate = state.get("rate") or 1e12

    @section("scoring_smollm2", budget, 30)
    def _():
        model, weights = smollm2(args.data / "tokenizer", args.gguf, device, dtype)
        state["smollm2"] = model
        res = score_all(model, tokenizer, per_item, requests, device, dtype_name, rate, warm=min(64, n_items))
        packed = res.pop("lls_packed")
        if not dry:  # bf16 against fp32 on the same weights: what bf16, the GPU default, changes
            model32 = smollm2(args.data / "tokenizer", args.gguf, device, torch.float32)[0]
            hf32 = backend(model32, tokenizer, device, "float32")
            lls32 = [r.logprob for r in hf32.loglikelihood(requests)]
            res["bf16_vs_fp32"] = agreement(per_item, lls32, packed)
            del model32, hf32
        return {"weights": weights, **res}

    @section("scoring_llama_1b", budget, 60)
    def _():
        model = llama_1b(len(tokenizer), device, dtype, small)
        res = score_all(model, tokenizer, per_item, requests, device, dtype_name, rate, warm=min(64, n_items))
        res.pop("lls_packed")
        params = sum(t.numel() for t in model.parameters())
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        return {"weights": "random (speed only)", "parameters": params, **res}

    @section("generation", budget, 60)
    def _():
        model = state.get("smollm2") or smollm2(args.data / "tokenizer", args.gguf, device, dtype)[0]
        n, k, base = (4, 2, 1) if small else (100, 10, 4)
        return generation(model, tokenizer, prompts[:n], k, base, device, dtype_name)

    @section("gptq_build", budget, 60)
    def _():
        model = smollm2(args.data / "tokenizer", args.gguf, device, torch.float32)[0].cpu()
        work = out_dir() / "gptq-work" if dry else Path("/tmp/qdbench-gptq")
        cal = {"source": "builtin", "samples": 8 if small else 32, "seq_len": 64 if small else 128}
        return gptq_build(model, tokenizer, work, cal)

    RESULTS["sections"]["vllm"] = {"skipped": "not carried: vLLM's wheel set for this image is 355 MB in seven "
                                              "parts, more than one call carries (64 MiB) and the 15-minute budget"}
    save()
    print(table(), flush=True)


if __name__ == "__main__":
    main()
