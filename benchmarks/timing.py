"""What every benchmark here shares: the machine's name and load, the GEMM rate now, the FLOP floor of a set of
scoring requests, interleaved rounds.

On a shared machine the load drifts within minutes, so methods run interleaved (A B C, A B C, ...) and each
figure is the median over rounds of a ratio taken within a round.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def load() -> float:
    return round(os.getloadavg()[0], 1)


def cpu_flags() -> str:
    """CPU model and the vector extensions that decide CPU speed (AVX2, AVX-512 and its BF16/VNNI, AMX)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = re.search(r"model name\s*:\s*(.*)", text)
    flags = sorted(set(re.findall(r"\b(avx512[a-z_0-9]*|avx2|amx[a-z_0-9]*)\b", text)))
    return f"{model.group(1).strip() if model else 'CPU'}; {' '.join(flags)}"


def gemm_rate(seconds: float = 0.5, dtype=None) -> float:
    """FLOP/s of a 1024³ matrix product on this thread count, now."""
    import torch

    dtype = dtype or torch.float32
    a, b = torch.randn(1024, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return n * 2 * 1024**3 / (time.perf_counter() - t0)


def floor_flops(model, pairs: set) -> float:
    """FLOPs the best kernel needs for these (context ids, continuation ids) pairs, each distinct prefix once:
    2·P·(distinct prefix tokens) + 2·d·V·(scored positions) + 4·d·L·Σ keys attended (P: non-embedding
    parameters in matrices)."""
    cfg = model.config
    d, layers, vocab = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
    params = sum(t.numel() for t in model.parameters() if t.dim() > 1) - model.get_input_embeddings().weight.numel()
    prefixes = {seq[:j] for ctx, cont in pairs for seq in [ctx + cont[:-1]] for j in range(1, len(seq) + 1)}
    scored = {(ctx + cont)[:j] for ctx, cont in pairs for j in range(len(ctx), len(ctx) + len(cont))}
    keys = sum(map(len, prefixes))
    return 2 * params * len(prefixes) + 2 * d * vocab * len(scored) + 4 * d * layers * keys


def interleaved(methods: dict[str, Callable[[], object]], rounds: int,
                before: Callable[[str], object] | None = None) -> tuple[dict, dict, list]:
    """Run the methods A B C, A B C, ... `rounds` times: per method its wall seconds per round, its process CPU
    seconds (this process's threads only: a method running in another process, like vLLM's worker, shows
    none) and whatever `before(name)` returned just before it ran (e.g. the GEMM rate then); its last output;
    the load average at the start of each round. CPU seconds barely change with the machine's load: at one
    thread they are close to what the wall clock would say on an idle machine."""
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    pre: dict[str, list] = {name: [] for name in methods}
    outs: dict[str, object] = {}
    loads = []
    for _ in range(rounds):
        loads.append(load())
        for name, fn in methods.items():
            if before is not None:
                pre[name].append(before(name))
            t0, c0 = time.perf_counter(), time.process_time()
            outs[name] = fn()
            seconds[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return {"s": seconds, "cpu s": cpu, "before": pre}, outs, loads


def median_ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a[i] / b[i]."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))
