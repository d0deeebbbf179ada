"""The fields a submitted run must carry: its manifest (with the provenance a reader needs) and its metrics.

Extra fields are kept (runs grow new provenance); missing or mistyped required ones are refused by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import UserError

Number = float | int | None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ModelInfo(_Open):
    spec: str
    kind: str
    fingerprint: dict = Field(description="content hash of a local folder, or the hub revision")
    dtype: str
    parameters: int = Field(ge=0)


class VariantInfo(_Open):
    family: str
    name: str
    recipe: dict | None = None
    recipe_hash: str | None = None


class TaskInfo(_Open):
    name: str
    yaml_sha256: str
    template_hash: str


class DataInfo(_Open):
    origin: str
    files_sha256: dict[str, str]
    n_items: int = Field(ge=1)
    items_sha256: str


class Manifest(_Open):
    schema_: Literal["qdbench.run/1"] = Field(alias="schema")
    status: Literal["complete"]
    run_key: str
    qdbench_version: str
    model: ModelInfo
    variant: VariantInfo
    task: TaskInfo
    data: DataInfo
    seed: int
    libraries: dict[str, str]
    hardware: dict
    timings: dict


class Metrics(_Open):
    schema_: Literal["qdbench.metrics/1"] = Field(alias="schema")
    task: str
    n_items: int = Field(ge=1)
    metrics: dict[str, Number]
    by_group: dict[str, dict[str, dict[str, Number]]]


def check(model: type[BaseModel], doc: dict, path: Path) -> BaseModel:
    """Validate `doc`; the first problem is reported as 'file: field a.b: reason'."""
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise UserError(f"{path}: field '{loc}': {err['msg']}") from None


def require_libraries(manifest: Manifest, path: Path) -> None:
    for lib in ("python", "torch", "transformers"):
        if lib not in manifest.libraries:
            raise UserError(f"{path}: field 'libraries.{lib}': missing; required provenance")
    if manifest.variant.name != "base" and not manifest.variant.recipe_hash:
        raise UserError(f"{path}: field 'variant.recipe_hash': missing for variant '{manifest.variant.name}'; "
                        "a variant must name the recipe that made it")
