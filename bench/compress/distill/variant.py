"""A distilled student as a cached variant: its content-hash key, and the folder built (or reused) for it."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from bench.compress.corpus import Corpus, load_corpus
from bench.compress.distill.config import DistillConfig
from bench.compress.distill.data import token_chunks
from bench.compress.distill.proof import measure
from bench.compress.distill.speed import cached_teacher_topk
from bench.compress.distill.storage import cast_copy, sizes
from bench.compress.distill.student import (
    build_student,
    check_tokenizers,
    read_config,
    student_config,
    student_source,
)
from bench.compress.distill.training import train
from bench.compress.peak_memory import peak_rss, reset_peak
from bench.compress.teacher_text import held_out_texts
from bench.errors import UserError
from bench.models.loading import ModelRef, fingerprint, load_causal_lm, load_tokenizer, resolve, save_tokenizer
from bench.paths import home
from bench.store.atomic import staged_dir, write_json
from bench.store.provenance import digest, libraries

DISTILL_VERSION = 1
PROVENANCE = "qdbench_variant.json"


def _identity(ref: ModelRef) -> dict:
    out = {"spec": ref.spec, "kind": ref.kind, "revision": ref.revision}
    if ref.kind != "hub":
        out["fingerprint"] = fingerprint(Path(ref.path))["sha256"]
    return out


def _student_identity(spec: str) -> dict:
    kind, ref, path = student_source(spec)
    if kind == "teacher":
        return {"spec": spec}
    if kind == "config":
        return {"spec": spec, "config_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return _identity(ref)


def variant_key(cfg: DistillConfig, teacher: ModelRef, corpus: Corpus) -> str:
    """A content hash of every input that changes the weights (teacher and student bytes, corpus bytes,
    settings, library versions); T and α do not enter an NDS key, so one control serves a temperature sweep."""
    import torch
    import transformers

    settings = cfg.model_dump(exclude={"checkpoint_every", "teacher", "student", "corpus", "threads"})
    if settings["save_dtype"] == "float32":
        settings.pop("save_dtype")  # float32 students keep the keys they had before storage dtypes existed
    if cfg.no_teacher:
        settings.pop("temperature")
        settings.pop("alpha")
        settings.pop("topk")
    blob = {"version": DISTILL_VERSION, "settings": settings, "teacher": _identity(teacher),
            "student": _student_identity(cfg.student), "corpus": corpus.sha256,
            "chain": [_student_identity(s) for s in cfg.chain], "torch": torch.__version__,
            "transformers": transformers.__version__, "cuda": torch.cuda.is_available() and cfg.device != "cpu"}
    return digest(blob)[:16]


def control_key(cfg: DistillConfig, teacher: ModelRef, corpus: Corpus) -> str:
    """The key of the non-distilled control of a KD student: the same settings with no teacher."""
    return variant_key(cfg.model_copy(update={"no_teacher": True, "chain": []}),
                       teacher, corpus)


def _teacher_id(ref: ModelRef) -> str:
    return fingerprint(Path(ref.path))["sha256"] if ref.kind != "hub" else f"{ref.spec}@{ref.revision}"


def distill(cfg: DistillConfig, out: Path | None = None, quiet: bool = False) -> Path:
    """Train (or reuse) the student `cfg` describes; returns its model folder.

    Without `out` the folder is $QDBENCH_HOME/variants/distill-<key>; with `out`, that folder (reused only if
    it holds this very variant)."""
    started = time.perf_counter()
    measured = reset_peak()
    base = resolve(cfg.teacher, cfg.teacher_revision)
    corpus = load_corpus(cfg.corpus, cfg.text_field, teacher=base, quiet=quiet)
    key = variant_key(cfg, base, corpus)
    final = Path(out) if out is not None else home() / "variants" / f"distill-{key}"
    if (final / PROVENANCE).is_file():
        if json.loads((final / PROVENANCE).read_text()).get("key") == key:
            return final
        raise UserError(f"{final} holds another variant; use another --out or remove that folder")
    if final.exists() and any(final.iterdir()):
        raise UserError(f"{final} exists and is not a qdbench variant; use another --out")
    if cfg.save_dtype != "float32":  # one training: the float32 student, then its weights stored compactly
        return cast_copy(distill(cfg.model_copy(update={"save_dtype": "float32"}), quiet=quiet), final,
                         cfg.save_dtype, key)

    teacher_ref, chain = base, []
    for i, spec in enumerate(cfg.chain):
        stage = cfg.model_copy(update={"teacher": teacher_ref.path if teacher_ref is not base else cfg.teacher,
                                       "teacher_revision": teacher_ref.revision, "student": spec, "chain": []})
        folder = distill(stage, quiet=quiet)
        chain.append({"stage": i, "student": spec, "folder": str(folder),
                      "fingerprint": fingerprint(folder)["sha256"]})
        teacher_ref = resolve(str(folder))

    tcfg = read_config(teacher_ref)
    tokenizer = load_tokenizer(teacher_ref)
    check_tokenizers(cfg, tokenizer)
    teacher = load_causal_lm(teacher_ref, dtype=cfg.teacher_dtype).eval()  # also measures the proof
    stage_cfg = cfg.model_copy(update={"chain": []})
    student = build_student(stage_cfg, tcfg, teacher)
    chunks, n_tokens = token_chunks(corpus.documents, tokenizer, cfg.seq_len)

    workdir = final.with_name(f".{final.name}.work")
    workdir.mkdir(parents=True, exist_ok=True)
    topk = None
    if not cfg.no_teacher and cfg.topk > 0:
        topk = cached_teacher_topk(teacher, _teacher_id(teacher_ref), chunks, cfg.temperature, cfg.topk, quiet)
    result = train(cfg, student, None if cfg.no_teacher else teacher, chunks, workdir, {"key": key},
                   quiet=quiet, topk=topk)
    proof = measure(teacher, student.eval(), tokenizer, held_out_texts(base, quiet=quiet))
    peak, peak_note = peak_rss(measured)

    with staged_dir(final) as tmp:
        student.eval().save_pretrained(tmp, safe_serialization=True)
        save_tokenizer(tokenizer, tmp)
        write_json(tmp / PROVENANCE, {
            "schema": "qdbench.variant/1", "kind": "nds" if cfg.no_teacher else "distilled", "key": key,
            "family": cfg.teacher, "base": _identity(base),
            "teacher": None if cfg.no_teacher else _identity(teacher_ref), "chain": chain,
            "no_teacher": cfg.no_teacher,
            "temperature": None if cfg.no_teacher else cfg.temperature,
            "alpha": None if cfg.no_teacher else cfg.alpha,
            "corpus": {"sources": corpus.sources, "sha256": corpus.sha256,
                       "n_documents": len(corpus.documents), "n_tokens": n_tokens},
            "steps": cfg.steps, "tokens": cfg.steps * cfg.batch_size * cfg.seq_len, "seed": cfg.seed,
            "student": cfg.student, "student_init": cfg.student_init,
            "teacher_layers": student_config(stage_cfg, tcfg)[1],
            "student_parameters": sum(p.numel() for p in student.parameters()),
            **sizes(tmp, student), "wall_s": round(time.perf_counter() - started, 3),
            "train_s": round(result["train_s"], 3), "device": result["device"],
            "loss_first": result["losses"][0], "loss_last": result["losses"][-1],
            "threads": result["threads"], "tokens_per_s": result["tokens_per_s"],
            "peak_rss_mb": round(peak / 2**20, 1), "peak_rss_note": peak_note, "proof": proof,
            "control_key": None if cfg.no_teacher else control_key(cfg, base, corpus),
            "resumed_from": result["resumed_from"], "libraries": libraries(),
            "config": cfg.model_dump()})
    shutil.rmtree(workdir, ignore_errors=True)
    return final
