"""Published teacher–student pairs (`configs/families/*.yaml`): a teacher and the students distilled from it,
pinned by hub id and revision, so one command can evaluate a whole published family when online."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.configio import read_mapping, validate
from bench.errors import UserError
from bench.paths import repo_root

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


class HubModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="a hub id (org/name); or builtin:NAME or a local folder, for offline families")
    revision: str | None = Field(None, description="hub ids: a 40-hex commit; 'main' only while unconfirmed")
    revision_confirmed: bool = Field(False, description="checked against the hub by a person")
    parameters: str | None = None
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _hub_id(cls, v: str) -> str:
        if not (HUB_ID.match(v) or v.startswith("builtin:") or Path(v).expanduser().is_dir()):
            raise ValueError(f"'{v}' is not a hub id like org/name (nor builtin:NAME or a local folder)")
        return v

    @model_validator(mode="after")
    def _pinned(self):
        if not HUB_ID.match(self.id) or Path(self.id).expanduser().is_dir():
            if self.revision is not None:
                raise ValueError(f"revision: '{self.id}' is not a hub id; a revision applies to hub ids only")
            return self
        if self.revision is None:
            raise ValueError(f"revision: hub model '{self.id}' needs a revision (a 40-hex commit)")
        if not COMMIT.match(self.revision) and self.revision != "main":
            raise ValueError(f"revision '{self.revision}' must be a 40-hex commit or 'main'")
        if self.revision == "main" and self.revision_confirmed:
            raise ValueError("revision 'main' moves; it cannot be marked confirmed")
        return self


class Student(HubModel):
    name: str = Field(pattern=r"^[\w.-]+$")
    method: str = Field(description="how the published student was made, in a few words")
    init_from: str | None = Field(None, description="the checkpoint the student started from, if not the teacher")


class FamilyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[\w.-]+$")
    kind: Literal["published-distillation"] = "published-distillation"
    description: str
    teacher: HubModel
    students: list[Student] = Field(min_length=1)
    references: list[str] = Field(default_factory=list)
    same_tokenizer: bool = Field(description="whether the students share the teacher's vocabulary")

    @model_validator(mode="after")
    def _unique(self):
        names = [s.name for s in self.students]
        if len(set(names)) != len(names):
            raise ValueError(f"student names repeat: {names}")
        return self

    def unconfirmed(self) -> list[str]:
        return [m.id for m in [self.teacher, *self.students] if not m.revision_confirmed]


def families_dir() -> Path:
    return repo_root() / "configs" / "families"


def load_family(path: Path) -> FamilyConfig:
    fam = validate(FamilyConfig, read_mapping(path, "family config"), f"family config '{path}'")
    if fam.name != Path(path).stem:
        raise UserError(f"family config '{path}': name '{fam.name}' must match the file name")
    return fam


def list_families(folder: Path | None = None) -> dict[str, FamilyConfig]:
    return {p.stem: load_family(p) for p in sorted((folder or families_dir()).glob("*.yaml"))}
