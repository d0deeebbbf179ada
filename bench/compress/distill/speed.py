"""What makes a distillation step cheap on a CPU: the teacher run once per corpus, and the student's output
layer and loss computed in token chunks.

The teacher's top-k log-probabilities are the same at every step that meets a chunk again, so they are
computed once per (teacher, corpus, seq_len, T, k), stored as safetensors under $QDBENCH_HOME/teacher-topk and
read back; a temperature sweep and every student depth share one teacher pass per temperature. A step then
runs only the student.

A [batch·seq, vocab] float32 logits tensor is 400 MB for batch 8 × seq 256 × SmolLM2's 49,152 tokens; the
loss makes several such temporaries (log-softmax at T and at 1, their gradients). Each is a fresh mmap that
the kernel zero-fills page by page — the system time that was as large as the user time. `chunked_head_loss`
computes output layer and loss over 256-token chunks under activation checkpointing, so no temporary exceeds
about 50 MB and the allocator reuses its memory; the output layer's matmul runs twice (forward, then again in
backward), a few percent of a step. Measured in benchmarks/distill_step.py.
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
    from tqdm import tqdm

    path = topk_cache_path(teacher_fingerprint, chunks, temperature, k)
    if path.is_file():
        t = load_file(str(path))
        return t["idx"], t["logp"]
    idx, logp = [], []
    step = 8
    for i in tqdm(range(0, chunks.shape[0], step), disable=quiet, desc="teacher top-k (once per corpus)",
                  unit="batch", dynamic_ncols=True):
        a, b = teacher_topk(teacher, chunks[i:i + step], temperature, k)
        idx.append(a)
        logp.append(b)
    idx_t, logp_t = torch.cat(idx).contiguous(), torch.cat(logp).contiguous()
    write_with(path, lambda tmp: save_file({"idx": idx_t, "logp": logp_t}, str(tmp)))
    return idx_t, logp_t


def can_chunk(model) -> bool:
    """Whether the output layer is a plain linear map of the last hidden state (no logit soft-capping or
    scaling), so that computing it in chunks gives the model's own logits."""
    cfg = model.config
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None) not in (None, 1, 1.0):
        return False
    head = model.get_output_embeddings()
    return head is not None and hasattr(model, "get_decoder") and type(head).__name__ == "Linear"


def chunked_head_loss(model, ids, topk, temperature: float, alpha: float, chunk: int = 256,
                      parts: dict | None = None):
    """α·CE + (1 − α)·T²·KL_topk over next-token positions of `ids`, identical to `topk_kd_loss` on the
    model's full logits, with the output layer and loss run chunk by chunk under checkpointing.

    `topk` is (idx, logp) [B, L-1, k] or None (hard labels only). `parts`, when given, receives the detached
    mean CE and KL for display."""
    import torch
    from torch.utils.checkpoint import checkpoint

    from bench.compress.distill.loss import topk_kd_terms

    hidden = model.get_decoder()(input_ids=ids).last_hidden_state[:, :-1].flatten(0, 1)
    head = model.get_output_embeddings()
    labels = ids[:, 1:].flatten()
    n = labels.numel()
    t_idx = t_logp = None
    if topk is not None and alpha < 1:
        t_idx, t_logp = topk[0].flatten(0, 1), topk[1].flatten(0, 1)

    def piece(h, lab, ti, tl):
        ce, kl = topk_kd_terms(head(h), ti, tl, lab, temperature, reduction="sum")
        return ce, kl if kl is not None else torch.zeros((), device=h.device)

    ce_sum = kl_sum = 0
    for i in range(0, n, chunk):
        sl = slice(i, i + chunk)
        ce, kl = checkpoint(piece, hidden[sl], labels[sl], None if t_idx is None else t_idx[sl],
                            None if t_logp is None else t_logp[sl], use_reentrant=False)
        ce_sum, kl_sum = ce_sum + ce, kl_sum + kl
    ce, kl = ce_sum / n, kl_sum / n
    if parts is not None:
        parts["ce"] = float(ce.detach())
        parts["kl"] = float(kl.detach()) if t_idx is not None else None
    if t_idx is None:
        return ce
    return alpha * ce + (1 - alpha) * temperature**2 * kl
