"""Variant recipes: `configs/variants/*.yaml`, validated so that a bad value names its file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench.configio import read_mapping, validate
from bench.errors import UserError
from bench.paths import repo_root
from bench.store.provenance import digest

Method = Literal["rtn", "gptq", "awq", "smoothquant-gptq", "fp8-dynamic", "bnb-nf4", "bnb-int8", "prequantized"]
CALIBRATED = {"gptq", "awq", "smoothquant-gptq"}
LLMCOMPRESSOR = {"rtn", "gptq", "awq", "smoothquant-gptq", "fp8-dynamic"}
BNB = {"bnb-nf4", "bnb-int8"}
# Weight bit widths each method supports, and the activation bits it implies (16 = not quantized).
WEIGHT_BITS = {"rtn": {2, 3, 4, 8}, "gptq": {2, 3, 4, 8}, "awq": {2, 3, 4, 8}, "smoothquant-gptq": {8},
               "fp8-dynamic": {8}, "bnb-nf4": {4}, "bnb-int8": {8}}
ACTIVATION_BITS = {"smoothquant-gptq": 8, "fp8-dynamic": 8}


class Calibration(BaseModel):
    """Text the calibrated methods (GPTQ, AWQ, SmoothQuant) run through the model to fit their scales.

    `auto` is the papers' setting for real models (128 windows of 2,048 tokens of WikiText-2, as GPTQ and AWQ
    calibrate; needs the network once) and the built-in texts for the built-in tiny models (tests, demo).
    See bench/compress/calibration.py for the sources."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field("auto", description="auto, builtin, wikitext, c4, hf:DATASET_ID, or a .txt/.jsonl path")
    subset: str | None = Field(None, description="hf: sources: the data set's configuration (e.g. wikitext-2-raw-v1)")
    split: str = "train"
    revision: str | None = Field(None, description="hf: sources: the data set's commit or tag (default: main, "
                                                   "recorded as the commit it resolved to)")
    text_field: str = "text"
    samples: int | None = Field(None, gt=0, le=100_000, description="default: 64 builtin, 128 otherwise")
    seq_len: int | None = Field(None, gt=0, le=32_768, description="default: 128 builtin, 2048 otherwise")
    seed: int = 1234


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$")
    method: Method
    description: str = ""
    weight_bits: int | None = None
    activation_bits: int = 16
    group_size: int | None = Field(None, gt=0, description="None: one scale per output channel")
    symmetric: bool = True
    ignore: list[str] = Field(default_factory=lambda: ["lm_head"])
    smoothing_strength: float = Field(0.8, gt=0, lt=1)
    calibration: Calibration = Field(default_factory=Calibration)
    model: str | None = Field(None, description="prequantized only: a hub id or local folder (GPTQ/AWQ format)")

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        m = self.method
        if m == "prequantized":
            if not self.model:
                raise ValueError("field 'model': method 'prequantized' needs `model`: a hub id or a local folder")
            return self
        if self.model is not None:
            raise ValueError(f"field 'model': applies only to method 'prequantized', not '{m}'")
        if self.weight_bits not in WEIGHT_BITS[m]:
            raise ValueError(f"field 'weight_bits': {self.weight_bits} is not supported by method '{m}'; "
                             f"expected one of {sorted(WEIGHT_BITS[m])}")
        want_a = ACTIVATION_BITS.get(m, 16)
        if self.activation_bits != want_a:
            raise ValueError(f"field 'activation_bits': {self.activation_bits} does not fit method '{m}', which "
                             f"{'quantizes activations to 8 bits' if want_a == 8 else 'keeps activations at 16'}"
                             f" (expected {want_a})")
        if self.group_size is not None and (m in BNB or m in ("fp8-dynamic", "smoothquant-gptq")):
            raise ValueError(f"field 'group_size': does not apply to method '{m}' (leave it out)")
        return self

    @property
    def calibrated(self) -> bool:
        return self.method in CALIBRATED

    def content(self) -> dict:
        """What determines the variant's weights (not its name or description)."""
        d = self.model_dump(exclude={"name", "description"})
        if not self.calibrated:
            d.pop("calibration")
        return d

    def hash(self) -> str:
        return digest(self.content())


def variants_dir() -> Path:
    return repo_root() / "configs" / "variants"


def available() -> list[str]:
    return sorted(p.stem for p in variants_dir().glob("*.yaml"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name, or a YAML file by path."""
    path = Path(name_or_path).expanduser()
    if not path.suffix and not path.exists():
        path = variants_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise UserError(f"unknown variant recipe '{name_or_path}'; expected a file path or one of: "
                            + ", ".join(available()))
    raw = read_mapping(path, "variant recipe")
    raw.setdefault("name", path.stem)
    return parse_recipe(raw, str(path))


def parse_recipe(raw: dict, where: str = "recipe") -> Recipe:
    return validate(Recipe, raw, where)


MIN_FALLBACK_GROUP = 32  # the smallest group size vLLM's int4 kernels take


def group_sizes(recipe: Recipe, inputs: dict[str, int]) -> dict[str, int | None]:
    """The group size each layer (name -> input size) gets: the recipe's where it divides the layer's input
    size, else the largest power of two below it, down to 32, that does (e.g. 64 for SmolLM2's 576). A model's
    layers rarely all share the multiples of 128 the usual recipes assume; a smaller group is slightly more
    accurate and costs a little more scale storage, so the fallback never helps a variant look worse. The sizes
    used are recorded in the variant's provenance. A layer none of them divides is an error naming it."""
    g = recipe.group_size
    if g is None:
        return dict.fromkeys(inputs)
    candidates = [g] + [2 ** k for k in range(g.bit_length() - 1, 4, -1) if MIN_FALLBACK_GROUP <= 2 ** k < g]
    out: dict[str, int | None] = {}
    for name, dim in inputs.items():
        fits = [c for c in candidates if dim % c == 0]
        if not fits:
            tried = ", ".join(map(str, candidates))
            raise UserError(f"recipe '{recipe.name}': layer '{name}' has input dimension {dim}, which no group size "
                            f"of {tried} divides; choose a group_size that divides it, or group_size: null for "
                            "one scale per output channel")
        out[name] = fits[0]
    return out
