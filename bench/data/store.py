"""Find, verify, import and fetch a task's data; offline first.

Resolution order for a run: `--data-dir DIR` (published layout or an imported copy), then the data imported
into the cache with `qdbench data import`, then the small sample the project ships (said loudly): one file, or
a folder in the published layout of a data set published as several files (BOLD, HolisticBias).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bench.data.jsonl import sha256_file
from bench.errors import UserError
from bench.modules import named_module
from bench.paths import home
from bench.safepath import check_writable, confined
from bench.store.atomic import staged_dir

if TYPE_CHECKING:  # the task's declarative spec, read here; the data layer imports nothing from tasks at run time
    from bench.tasks.spec import TaskSpec

IMPORT_RECORD = "qdbench-data.json"


@dataclass
class Dataset:
    docs: list[dict]
    origin: str  # data-dir | imported | sample
    path: str
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    description: str = ""

    def provenance(self) -> dict:
        return {"origin": self.origin, "path": self.path, "files_sha256": self.files,
                "description": self.description}


def data_format(spec: TaskSpec) -> ModuleType:
    return named_module("bench.data", spec.data.format, f"task '{spec.name}': field 'data.format'")


def cache_dir(spec: TaskSpec) -> Path:
    return confined(home() / "data", spec.name, what=f"task '{spec.name}': field 'name'")


def _read(spec: TaskSpec, files: list[Path], origin: str, path: Path) -> Dataset:
    fmt = data_format(spec)
    docs = fmt.load(files, spec.data) if getattr(fmt, "TAKES_SPEC", False) else fmt.load(files)
    return Dataset(docs, origin, str(path), {p.name: sha256_file(p) for p in files}, fmt.describe(docs))


def load(spec: TaskSpec, data_dir: Path | None = None, sample: bool = False) -> Dataset:
    """The task's documents; `sample=True` takes the shipped sample even where data was imported."""
    fmt = data_format(spec)
    if sample and not spec.data.sample:
        raise UserError(f"task '{spec.name}' ships no sample")
    if data_dir is not None:
        if not data_dir.is_dir():
            raise UserError(f"--data-dir {data_dir}: no such folder")
        return _read(spec, fmt.discover(data_dir), "data-dir", data_dir)
    cached = cache_dir(spec)
    if (cached / IMPORT_RECORD).is_file() and not sample:
        return _read(spec, fmt.discover(cached), "imported", cached)
    if spec.data.path is not None and not sample:
        local = Path(spec.data.path)
        if not local.exists():
            raise UserError(f"task '{spec.name}': field 'data.path': {local} does not exist")
        return _read(spec, fmt.discover(local), "task-path", local)
    if spec.data.sample:
        sample = Path(str(resources.files("bench.data") / "samples" / spec.data.sample))
        return _read(spec, fmt.discover(sample) if sample.is_dir() else [sample], "sample", sample)
    raise UserError(f"no data for task '{spec.name}': run `qdbench data import {spec.name} PATH` "
                    f"(offline) or `qdbench data fetch {spec.name}` (online), or pass --data-dir")


def import_data(spec: TaskSpec, src: Path, origin: str | None = None,
                item_id: Callable[[dict], str] | None = None) -> dict:
    """Validate the published files under `src` and copy them into the cache, all or nothing; with `item_id`
    (the task's `Task.item_id`), a duplicate item id is refused too."""
    if not src.exists():
        raise UserError(f"import path {src}: no such file or folder")
    fmt = data_format(spec)
    files = fmt.discover(src)
    docs = fmt.load(files, spec.data) if getattr(fmt, "TAKES_SPEC", False) else fmt.load(files)  # validates all
    if item_id is not None:
        _check_unique_ids(spec, docs, files[0] if len(files) == 1 else src, item_id)
    target = cache_dir(spec)
    check_writable(target, "QDBENCH_HOME data cache")
    record = {
        "task": spec.name, "format": spec.data.format, "source": origin or str(src.resolve()),
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n_items": len(docs), "description": fmt.describe(docs),
        "files": {p.name: sha256_file(p) for p in files},
        "published_sha256_mismatch": sorted(
            name for name, digest in (spec.data.source.sha256 if spec.data.source else {}).items()
            if name in {p.name for p in files} and sha256_file(next(p for p in files if p.name == name)) != digest
        ),
    }
    with staged_dir(target, replace=lambda p: (p / IMPORT_RECORD).is_file()) as tmp:
        for p in files:
            sub = "data" if p.suffix == ".jsonl" else "supplemental"
            (tmp / sub).mkdir(exist_ok=True)
            shutil.copy2(p, tmp / sub / p.name)
        (tmp / IMPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    return record


def _check_unique_ids(spec: TaskSpec, docs: list[dict], where: Path, item_id: Callable[[dict], str]) -> None:
    """Item ids pair runs item by item: a duplicate is refused at import (naming it), not first at run time."""
    seen: dict[str, int] = {}
    for n, doc in enumerate(docs, 1):
        item = item_id(doc)
        if item in seen:
            raise UserError(f"data {where}: item id '{item}' appears twice (records {seen[item]} and {n}); "
                            f"expected one record per item of task '{spec.name}'")
        seen[item] = n


def fetch(spec: TaskSpec, timeout: float = 30.0, item_id: Callable[[dict], str] | None = None) -> dict:
    """Download the pinned published files, verify them, and import them."""
    src = spec.data.source
    if src is None or not src.files:
        raise UserError(f"task '{spec.name}' declares no downloadable files; use `qdbench data import`")
    with tempfile.TemporaryDirectory() as tmp:
        for rel in src.files:
            url = f"{src.url.rstrip('/')}/{rel}"
            dest = Path(tmp) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r, dest.open("wb") as f:
                    shutil.copyfileobj(r, f)
            except (urllib.error.URLError, OSError) as e:
                raise UserError(f"cannot download {url}: {e}; offline? use `qdbench data import "
                                f"{spec.name} PATH` with a local copy") from None
            want = src.sha256.get(dest.name)
            if want and sha256_file(dest) != want:
                raise UserError(f"downloaded {url} has sha256 {sha256_file(dest)}, expected {want}")
        return import_data(spec, Path(tmp), origin=f"{src.url}@{src.revision}", item_id=item_id)


def imported() -> list[dict]:
    root = home() / "data"
    return [json.loads((d / IMPORT_RECORD).read_text()) for d in sorted(root.glob("*"))
            if (d / IMPORT_RECORD).is_file()]
