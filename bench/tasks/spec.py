"""The schema of a task YAML file (lm-eval style), validated with pydantic."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.configio import read_mapping, validate
from bench.safepath import is_safe_name


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(Strict):
    """Where the published data comes from, pinned."""

    url: str
    revision: str | None = None
    files: list[str] = Field(default_factory=list)
    sha256: dict[str, str] = Field(default_factory=dict)
    license: str | None = None


class DataSpec(Strict):
    format: str
    source: Source | None = None
    sample: str | None = None
    path: str | None = Field(None, description="a local data file or folder (relative to the task file): "
                                               "tasks kept outside the package name their data here")
    fields: dict[str, str] = Field(default_factory=dict, description="format 'generic': task field -> column "
                                                                      "or dotted key of the file")


class PromptSpec(Strict):
    template: str = ""
    choices: list[str] = Field(default_factory=list)
    delimiter: str = " "
    gold: str | None = "label"


class GenerationSpec(Strict):
    """Decoding settings of a generation task; part of what every variant must share."""

    samples: int = 1
    max_new_tokens: int = 20
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = Field(default_factory=list)


class TaskSpec(Strict):
    name: str
    version: int = 1
    description: str
    citation: str | None = None
    data: DataSpec
    request: Literal["multiple_choice", "loglikelihood", "generate_until"]
    prompt: PromptSpec
    generation: GenerationSpec | None = None
    options: dict = Field(default_factory=dict)
    item_id: str
    fields: list[str]
    group_by: list[str]
    stratify_by: list[str] = Field(default_factory=list)
    scorer: str
    metrics: list[str]
    notes: str | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not is_safe_name(v):  # it becomes a folder name: runs/<model>/<name>, the data cache
            raise ValueError(f"{v!r} is not a safe name (letters, digits and _ . + = -, starting with a letter "
                             "or digit, no '..' or '/')")
        return v

    def template_hash(self) -> str:
        blob = json.dumps({"prompt": self.prompt.model_dump(), "generation":
                           self.generation.model_dump() if self.generation else None}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def load_spec(path: Path) -> TaskSpec:
    """Read and validate one task file; errors name the file and the field."""
    return validate(TaskSpec, read_mapping(path, "task"), f"task file {path}")
