"""The fields a submitted run must carry (its manifest, with the provenance a reader needs, and its metrics), the
submission document that lists them, and the variant provenance `submit` may read from qdbench's own caches.

Types are strict (a string is not a number, a float is not an integer) and numbers finite: a value that would
fail later (in a sum, a date, a JSON writer) fails here, naming its field, before any check is said to pass.
Extra fields of a run are kept (runs grow new provenance); the submission document, which qdbench alone writes,
has no others.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bench.errors import UserError
from bench.leaderboard.limits import MAX_RUNS, NAME
from bench.leaderboard.safety import text_problem

Number = float | int | None


def _iso_time(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not an ISO 8601 time (e.g. 2026-12-02T04:58:23+00:00)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value[:40]!r} has no time zone (e.g. +00:00)")
    return value


def _plain_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


IsoTime = Annotated[str, AfterValidator(_iso_time)]
Text = Annotated[str, AfterValidator(_plain_text)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, StringConstraints(pattern=NAME.pattern)]
Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ModelInfo(_Open):
    spec: str
    kind: str
    path: str | None = None
    fingerprint: dict = Field(description="content hash of a local folder, or the hub revision")
    dtype: str
    parameters: int = Field(ge=0)


class RecipeInfo(_Open):
    """The recipe fields a submission derives a variant's method and bits from."""

    method: str | None = None
    weight_bits: Count | None = None
    activation_bits: Count | None = None


class VariantInfo(_Open):
    family: str
    name: str
    recipe: RecipeInfo | None = None
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


class Timings(_Open):
    started: IsoTime | None = None
    finished: IsoTime | None = None
    wall_s_last_session: Seconds | None = None
    items_resumed: Count | None = None
    items_per_s_last_session: Seconds | None = None


class Hardware(_Open):
    platform: Text | None = None
    machine: Text | None = None
    cpu: Text | None = None
    device: Text | None = None
    cpu_count: Count | None = None
    torch_threads: Count | None = None
    load_avg_1m: Seconds | None = None


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
    hardware: Hardware
    timings: Timings


class Metrics(_Open):
    schema_: Literal["qdbench.metrics/1"] = Field(alias="schema")
    task: str
    n_items: int = Field(ge=1)
    metrics: dict[str, Number]
    by_group: dict[str, dict[str, dict[str, Number]]]


class VariantProvenance(_Open):
    """The fields of a variant folder's qdbench_variant.json that a submission records (bench/compress/variants)."""

    bytes_on_disk: Count | None = None
    weights_bytes_in_memory: Count | None = None
    load_time_quantization: dict | None = None
    student_parameters: Count | None = None
    wall_s: Seconds | None = None
    load_s: Seconds | None = None
    bits_per_param: Seconds | None = None


Value = float | int
Interval = Annotated[list[Value], Field(min_length=2, max_length=2)]


class HeldOutProof(_Closed):
    documents_sha256: Sha256
    n_documents: Count
    n_tokens: Count
    kl: Value
    kl_ci: Interval
    ppl: Value
    ppl_ci: Interval
    teacher_ppl: Value


class VersusControl(_Closed):
    kd_kl: Value
    control_kl: Value
    kl_diff: Value
    kl_diff_ci: Interval
    kl_diff_p: Value
    kd_ppl: Value
    control_ppl: Value
    ppl_ratio: Value
    ppl_ratio_ci: Interval


class ControlRef(_Closed):
    key: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8,64}$")] | None


class DistillationProof(_Closed):
    """A student's proof of distillation as the submitter measured it (bench/compress/distill/proof.report):
    held-out KL from the teacher and perplexity, against its non-distilled control where that was built."""

    kind: Literal["distilled", "nds"]
    held_out: dict[Name, HeldOutProof]
    control: ControlRef | None = None
    versus: dict[Name, VersusControl] | None = None
    distilled: bool | None = None
    verdict: Text | None = None


class VariantDoc(_Closed):
    """What a submission says about one variant. method, kind and the bits are derived from the manifests again
    wherever they are shown; bytes, parameters and build times are the submitter's measurement."""

    method: Text
    kind: Literal["base", "quantized", "distilled"]
    weight_bits: Count | None
    activation_bits: Count | None
    bytes: Count | None
    bytes_source: Text
    parameters: Count | None
    build_wall_s: Seconds | None = None
    build_load_s: Seconds | None = None
    bits_per_param: Seconds | None = None
    distillation: DistillationProof | None = None


class Production(_Closed):
    evaluation_wall_s: Seconds
    variant_build_wall_s: Seconds
    first_run_started: IsoTime | None
    last_run_finished: IsoTime | None
    clock_span_s: float | None
    reported_total_s: Seconds | None
    load_avg_1m_range: Annotated[list[Seconds], Field(min_length=2, max_length=2)] | None
    hardware: Hardware


class FileEntry(_Closed):
    sha256: Sha256
    bytes: Count


class RunEntry(_Closed):
    variant: Name
    task: Name
    path: str
    files: dict[Literal["manifest.json", "metrics.json", "items.parquet"], FileEntry]


class Submission(_Closed):
    schema_: Literal["qdbench.submission/2"] = Field(alias="schema")
    id: str
    family: Name
    submitted: IsoTime
    qdbench_version: Text
    submitter: Text | None
    notes: Text | None
    content_sha256: Sha256
    submission_sha256: Sha256
    checks: list[Text]
    variants: dict[Name, VariantDoc]
    production: Production
    runs: Annotated[list[RunEntry], Field(min_length=1, max_length=MAX_RUNS)]


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
