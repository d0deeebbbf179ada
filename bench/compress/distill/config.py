"""The distillation config: every setting that decides a student, validated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.configio import validate

TEACHER_AS_STUDENT = "teacher"


class DistillConfig(BaseModel):
    """Everything that decides a distilled student; all but `checkpoint_every` enter its cache key."""

    model_config = ConfigDict(extra="forbid")

    teacher: str = Field(description="builtin:NAME, a local model folder, or a hub id")
    teacher_revision: str | None = None
    teacher_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    student: str = Field(description="builtin:NAME, an HF config.json, a model folder, a hub id, or 'teacher'")
    student_init: Literal["random", "checkpoint", "teacher_layers"] = "random"
    teacher_layers: list[int] | None = Field(None, description="teacher layers copied into the student, in order")
    temperature: float = Field(2.0, gt=0)
    alpha: float = Field(0.5, ge=0, le=1)
    corpus: list[str] = Field(default_factory=lambda: ["teacher"],
                              description="teacher[:N[:SEED]] (text the teacher writes; the default), .txt/.jsonl "
                                          "files, folders, synthetic[:N[:SEED]], or hub data sets")
    text_field: str = "text"
    seq_len: int = Field(128, ge=4)
    batch_size: int = Field(8, ge=1)
    steps: int = Field(200, ge=1)
    lr: float = Field(1e-3, gt=0)
    warmup_steps: int = Field(0, ge=0)
    lr_schedule: Literal["linear", "cosine"] = Field(
        "linear", description="decay after warmup: linear to 0, or cosine to 0")
    topk: int = Field(64, ge=0, description="teacher top-k log-probabilities cached once per corpus; the KD "
                                            "term is the KL over those k tokens plus one tail outcome (0: the "
                                            "live teacher's full distribution at every step)")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (not part of the key)")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float | None = Field(1.0, gt=0)
    seed: int = 0
    no_teacher: bool = False
    checkpoint_every: int = Field(100, ge=1)
    chain: list[str] = Field(default_factory=list, description="intermediate students: teacher → ... → student")
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    save_dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="dtype of the saved weights; bfloat16 rounds the float32 student once "
                               "(bench/compress/distill/storage.py)")
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @field_validator("corpus", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _consistent(self):
        if self.teacher_layers is not None:
            if self.student_init != "teacher_layers":
                raise ValueError("teacher_layers is only used with student_init: teacher_layers")
            if not self.teacher_layers or any(i < 0 for i in self.teacher_layers):
                raise ValueError("teacher_layers must be a non-empty list of layer indices >= 0")
        if self.student == TEACHER_AS_STUDENT and self.student_init == "checkpoint":
            raise ValueError("student 'teacher' with student_init checkpoint would copy the teacher; use "
                             "teacher_layers or random")
        if self.no_teacher and self.chain:
            raise ValueError("chain (iterative distillation) needs a teacher; drop no_teacher or chain")
        return self


def parse_config(data: dict) -> DistillConfig:
    """Validate a config dict; a bad field becomes one UserError naming it."""
    return validate(DistillConfig, data, "distill config")
