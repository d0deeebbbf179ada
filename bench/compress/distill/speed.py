"""What makes a distillation step cheap on a CPU: the teacher run once per corpus, not at every step.

The teacher's top-k log-probabilities are the same at every step that meets a chunk again, so they are
computed once per (teacher, corpus, seq_len, T, k), stored as safetensors under $QDBENCH_HOME/teacher-topk and
read back; a temperature sweep and every student depth share one teacher pass per temperature. A step then
runs only the student, and no longer makes the teacher's [batch·seq, vocab] float32 logits and their
log-softmax (400 MB each for batch 8 × seq 256 × SmolLM2's 49,152 tokens): those fresh allocations, zero-filled
page by page by the kernel, were most of the system time of a live-teacher step. Measured in
benchmarks/distill_step.py and benchmarks/distill.md (computing the student's output layer in checkpointed
token chunks to avoid its own large temporaries was tried and measured slower, so it is not used).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.paths import home
from bench.store.atomic import write_with

TOPK_VERSION = 1


def teacher_topk(teacher, ids, temperature: float, k: int, batch: int = 8):
    """The teacher's top-k token ids (int32) and log-probabilities at `temperature` (float32) for next-token
    positions 0..L-2 of `ids` [B, L]: two [B, L-1, k] tensors."""
    import torch
    import torch.nn.functional as F

    out_idx, out_logp = [], []
    with torch.no_grad():
        for i in range(0, ids.shape[0], batch):
            logits = teacher(input_ids=ids[i:i + batch]).logits[:, :-1].float()
            logp = F.log_softmax(logits / temperature, dim=-1)
            top = logp.topk(k, dim=-1)
            out_idx.append(top.indices.to(torch.int32))
            out_logp.append(top.values)
            del logits, logp
    return torch.cat(out_idx), torch.cat(out_logp)


def topk_cache_path(teacher_fingerprint: str, chunks, temperature: float, k: int) -> Path:
    """The cache file for a teacher, the exact token chunks it reads, a temperature and k."""
    h = hashlib.sha256(f"{TOPK_VERSION}:{teacher_fingerprint}:{temperature!r}:{k}:{tuple(chunks.shape)}".encode())
    h.update(chunks.numpy().tobytes())
    return home() / "teacher-topk" / f"{h.hexdigest()[:24]}.safetensors"


def cached_teacher_topk(teacher, teacher_fingerprint: str, chunks, temperature: float, k: int,
                        quiet: bool = False):
    """`teacher_topk` over every chunk of the corpus, read from the cache or computed once and stored."""
    import torch
    from safetensors.torch import load_file, save_file

    from bench.compress.progress import Progress

    path = topk_cache_path(teacher_fingerprint, chunks, temperature, k)
    if path.is_file():
        t = load_file(str(path))
        return t["idx"], t["logp"]
    idx, logp = [], []
    step = 8
    bar = Progress(f"teacher top-{k} at T={temperature:g} (once per corpus)", chunks.shape[0], quiet=quiet,
                   unit="chunk")
    for i in range(0, chunks.shape[0], step):
        a, b = teacher_topk(teacher, chunks[i:i + step], temperature, k)
        idx.append(a)
        logp.append(b)
        bar.update(a.shape[0])
    idx_t, logp_t = torch.cat(idx).contiguous(), torch.cat(logp).contiguous()
    write_with(path, lambda tmp: save_file({"idx": idx_t, "logp": logp_t}, str(tmp)))
    return idx_t, logp_t
