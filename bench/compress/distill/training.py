"""The optimisation loop: AdamW with linear warmup/decay under accelerate, checkpointed and resumable."""

from __future__ import annotations

import time
from pathlib import Path

from bench.compress.distill.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from bench.compress.distill.config import DistillConfig
from bench.compress.distill.data import batch_indices
from bench.compress.distill.loss import kd_loss, topk_kd_loss
from bench.errors import UserError
from bench.store.runs import _fault


def _accelerator(cfg: DistillConfig):
    import torch
    from accelerate import Accelerator

    cpu = cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda requested but no CUDA device is available")
    try:
        acc = Accelerator(cpu=cpu, mixed_precision=cfg.mixed_precision)
    except ValueError as e:
        raise UserError(f"accelerate: {e}") from None
    if acc.num_processes > 1:
        raise UserError("distillation runs in one process; launch it without accelerate's multi-process launcher")
    return acc


def _lr_lambda(warmup: int, total: int, schedule: str = "linear"):
    import math

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        frac = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1 + math.cos(math.pi * frac)) if schedule == "cosine" else max(0.0, 1 - frac)

    return f


def train(cfg: DistillConfig, student, teacher, chunks, workdir: Path, trainer_meta: dict,
          quiet: bool = False, topk=None) -> dict:
    """Run (or resume) the optimisation in place on `student`; returns what the provenance records.

    With `topk` (the teacher's cached (idx, logp) per chunk, bench/compress/distill/speed.py) the teacher is
    not run: each step reads its batch's rows of the cache."""
    import torch
    from accelerate.utils import set_seed

    from bench.compress.progress import Progress

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    acc = _accelerator(cfg)
    set_seed(cfg.seed)
    decay = [p for p in student.parameters() if p.ndim >= 2]
    no_decay = [p for p in student.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    schedule = _lr_lambda(cfg.warmup_steps, cfg.steps, cfg.lr_schedule)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    student, optimizer, scheduler = acc.prepare(student, optimizer, scheduler)
    if teacher is not None and topk is None:
        teacher = acc.prepare_model(teacher, evaluation_mode=True).eval()
    raw = acc.unwrap_model(student)

    start, losses, resumed, elapsed = 0, [], [], 0.0
    ckpt = latest_checkpoint(workdir)
    if ckpt is not None:
        state = load_checkpoint(ckpt, raw, optimizer, scheduler, acc.scaler)
        if state.get("key") != trainer_meta["key"]:
            raise UserError(f"{workdir} holds a checkpoint of other settings; remove it to start over")
        start, losses, elapsed = state["step"], state["losses"], state["elapsed_s"]
        resumed = state.get("resumed_from", []) + [start]

    t0 = time.perf_counter()
    seq_tokens = cfg.batch_size * chunks.shape[1]
    bar = Progress("nds" if cfg.no_teacher else "distill", cfg.steps, start, quiet)
    alpha = 1.0 if cfg.no_teacher else cfg.alpha
    for step in range(start, cfg.steps):
        rows = batch_indices(step, chunks.shape[0], cfg.batch_size, cfg.seed)
        ids = chunks[rows].to(acc.device)
        with acc.autocast():
            s_logits = student(input_ids=ids).logits[:, :-1].flatten(0, 1)
            labels = ids[:, 1:].flatten()
            if topk is not None and not cfg.no_teacher:
                loss = topk_kd_loss(s_logits, topk[0][rows].flatten(0, 1).to(acc.device),
                                    topk[1][rows].flatten(0, 1).to(acc.device), labels, cfg.temperature, alpha)
            else:
                t_logits = None
                if teacher is not None and not cfg.no_teacher:
                    with torch.no_grad():
                        t_logits = teacher(input_ids=ids).logits[:, :-1].flatten(0, 1)
                loss = kd_loss(s_logits, t_logits, labels, cfg.temperature, alpha)
            del s_logits
        acc.backward(loss)
        if cfg.max_grad_norm is not None:
            acc.clip_grad_norm_(student.parameters(), cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        done = step + 1 - start
        rate = done * seq_tokens / (time.perf_counter() - t0)
        lr = scheduler.get_last_lr()[0]
        bar.update(1, loss=f"{losses[-1]:.4f}", **{"tokens/s": f"{rate:.0f}", "lr": f"{lr:.2e}"})
        if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            save_checkpoint(workdir, step + 1, raw, optimizer, scheduler, acc.scaler, {
                **trainer_meta, "losses": losses, "resumed_from": resumed,
                "elapsed_s": elapsed + time.perf_counter() - t0})
        _fault("distill-step")
    this_run = time.perf_counter() - t0
    return {"losses": losses, "resumed_from": resumed, "train_s": elapsed + this_run,
            "device": str(acc.device), "threads": torch.get_num_threads(),
            "tokens_per_s": round((cfg.steps - start) * seq_tokens / this_run, 1) if this_run > 0 else None}
