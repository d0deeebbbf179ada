"""Run directories: `manifest.json`, `items.parquet`, `metrics.json`, written so that nothing is lost.

While a run is in progress its finished items sit in `.work/part-*.parquet`, each written atomically; a run
killed at any point and started again skips the items already in a part. The three final files are written
at the end, the manifest last, so a folder with a manifest is a complete run. The manifest records the
sha256 of the other two (`integrity`), and every reader checks them (`verify_run`).

One process writes a run folder at a time (`RunStore.lock`, an flock on `.lock`); the holder repairs what a
killed or concurrent writer left: unreadable or duplicate parts, a damaged plan, temporary files, a `.work/`
left inside a finished run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import UserError
from bench.store.atomic import write_json, write_with
from bench.store.faults import fault as _fault
from bench.store.provenance import sha256_file

if TYPE_CHECKING:
    import pandas as pd

MANIFEST, ITEMS, METRICS, WORK, PLAN = "manifest.json", "items.parquet", "metrics.json", ".work", "plan.json"
LOCK = ".lock"
INTEGRITY = "integrity"  # manifest field: {file name: sha256} of items.parquet and metrics.json


class RunStore:
    """One run directory (one model × task)."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.work = run_dir / WORK

    def is_complete(self) -> bool:
        return (self.dir / MANIFEST).is_file()

    def manifest(self) -> dict:
        return json.loads((self.dir / MANIFEST).read_text())

    def _check_ours(self) -> None:
        if self.dir.exists() and not self.dir.is_dir():
            raise UserError(f"{self.dir} is a file, not a run folder; use another --out")
        if self.is_complete() or self.work.is_dir() or not self.dir.exists():
            return
        if any(p.name != LOCK for p in self.dir.iterdir()):
            raise UserError(f"{self.dir} exists and is not a qdbench run; use another --out")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run folder for writing; a second writer gets a UserError naming the holder's pid."""
        self._check_ours()
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise UserError(f"{self.dir}: another qdbench process (pid {holder}) is writing this run; wait "
                                "for it to finish and run the command again") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)

    def clean_if_idle(self) -> None:
        """Remove a `.work/` and temporary files left inside a finished run, if no process holds the run."""
        if not (self.is_complete() and (self.work.exists() or any(self.dir.glob(".*.tmp")))):
            return
        with contextlib.suppress(UserError, OSError), self.lock():
            self._recover()

    def _recover(self) -> None:
        """Under the lock: drop what a killed or concurrent writer left half-done."""
        for tmp in [*self.dir.glob(".*.tmp"), *self.work.glob(".*.tmp")]:
            tmp.unlink(missing_ok=True)
        if self.is_complete():
            shutil.rmtree(self.work, ignore_errors=True)
            return
        plan = self.work / PLAN
        if self.work.is_dir():
            try:
                ok = isinstance(json.loads(plan.read_text()).get("run_key"), str)
            except (OSError, ValueError, AttributeError):
                ok = False
            if not ok:  # without the plan the parts cannot be told apart from another run's: start again
                shutil.rmtree(self.work)
                return
        for part in self.parts():
            try:
                pq.read_table(part, columns=["item_id"])
            except (OSError, pa.ArrowException):
                part.unlink()  # its items are simply run again

    def begin(self, run_key: str) -> None:
        """Start or resume; a different run in the same folder is an error, never overwritten. Call it holding
        `lock()`."""
        self._check_ours()
        self._recover()
        if self.is_complete():
            if self.manifest().get("run_key") != run_key:
                raise UserError(f"{self.dir} already holds a finished run with other settings; "
                                "use another --out or remove that folder")
            return
        plan = self.work / PLAN
        if plan.is_file():
            if json.loads(plan.read_text()).get("run_key") != run_key:
                raise UserError(f"{self.dir} holds an unfinished run with other settings; rerun that "
                                "command to finish it, or remove the folder")
        else:
            write_json(plan, {"run_key": run_key})

    def parts(self) -> list[Path]:
        return sorted(self.work.glob("part-*.parquet"))

    def done_ids(self) -> set[str]:
        ids: set[str] = set()
        for p in self.parts():
            ids.update(pq.read_table(p, columns=["item_id"]).column("item_id").to_pylist())
        return ids

    def append(self, rows: list[dict]) -> None:
        parts = self.parts()
        n = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        table = pa.Table.from_pylist(rows)

        def writer(tmp: Path) -> None:
            pq.write_table(table, tmp)
            _fault("part-written")

        write_with(self.work / f"part-{n:06d}.parquet", writer)
        _fault("part-done")

    def items(self) -> pd.DataFrame:
        import pandas as pd

        parts = self.parts()
        return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True) if parts else \
            pd.DataFrame()

    def items_in_order(self, order: list[str]) -> pd.DataFrame:
        """Every item of `order` exactly once, in that order. A row written twice (the same item, the same
        settings) is kept once; rows of other items are dropped; a missing item is redone by the next run."""
        df = self.items()
        if df.empty:
            df = pd.DataFrame({"item_id": pd.Series([], dtype=object)})
        df = df[df["item_id"].isin(set(order))].drop_duplicates("item_id")
        if len(df) != len(set(order)):
            raise UserError(f"{self.dir}: {len(set(order)) - len(df)} items are missing from the finished parts; "
                            "run the same command again to compute them")
        return df.set_index("item_id").loc[order].reset_index()

    def finalize(self, records: pd.DataFrame, metrics: dict, manifest: dict) -> None:
        """Write the three files, the manifest last (it marks the run complete, with the sha256 of the other
        two), then drop the parts."""
        write_with(self.dir / ITEMS, lambda tmp: records.to_parquet(tmp, index=False))
        write_json(self.dir / METRICS, metrics)
        write_json(self.dir / MANIFEST, sealed(self.dir, manifest))
        shutil.rmtree(self.work, ignore_errors=True)


def sealed(run_dir: Path, manifest: dict) -> dict:
    """`manifest` with `integrity`: the sha256 of the run folder's items.parquet and metrics.json, as written."""
    return {**manifest, INTEGRITY: {name: sha256_file(Path(run_dir) / name) for name in (ITEMS, METRICS)}}


def verify_run(run_dir: Path, manifest: dict | None = None, required: bool = True) -> None:
    """A UserError naming the file if items.parquet or metrics.json is not the one the manifest recorded. A
    manifest without `integrity` is refused, since deleting the field must not turn the check off; `required=False`
    is for the submission check, which recomputes every metric from the items instead."""
    run_dir = Path(run_dir)
    if manifest is None:
        manifest = _read_json(run_dir / MANIFEST, {})
    recorded = manifest.get(INTEGRITY)
    if recorded is None:
        if not required:
            return
        raise UserError(f"{run_dir / MANIFEST}: field '{INTEGRITY}' missing, so its files cannot be checked (an "
                        "edited manifest, or a run made before runs recorded their files' sha256): run it again")
    if not isinstance(recorded, dict):
        raise UserError(f"{run_dir / MANIFEST}: field '{INTEGRITY}' is damaged; remove the run folder and run again")
    for name in (ITEMS, METRICS):
        path = run_dir / name
        if not path.is_file():
            raise UserError(f"{path}: missing; the run folder is damaged: remove it and run again")
        if recorded.get(name) != sha256_file(path):
            raise UserError(f"{path}: its sha256 differs from the one in {MANIFEST}; the file was changed or "
                            "damaged after the run: remove the run folder and run again")


def load_run(run_dir: Path, items: bool = True) -> tuple[dict, dict, pd.DataFrame | None]:
    """manifest, metrics and items of a finished run, checked against the manifest's sha256 and for the shape
    readers rely on; a clear error naming the file otherwise. With `items=False` the items file is only checked
    to be non-empty parquet with an item_id column (no pandas: for commands that print summaries)."""
    store = RunStore(run_dir)
    if not store.is_complete():
        if store.work.is_dir():
            raise UserError(f"{run_dir} is an unfinished run ({len(store.done_ids())} items done); run the "
                            "same command again to resume it")
        raise UserError(f"{run_dir} is not a qdbench run folder (no {MANIFEST})")
    manifest = _read_json(run_dir / MANIFEST, {"task": dict, "model": dict, "data": dict})
    verify_run(run_dir, manifest)
    metrics = _read_json(run_dir / METRICS, {"metrics": dict})
    _check_metrics(run_dir / METRICS, metrics)
    if not (run_dir / ITEMS).is_file():
        raise UserError(f"{run_dir / ITEMS}: missing; the run folder is damaged: remove it and run again")
    try:
        if not items:
            meta = pq.read_metadata(run_dir / ITEMS)
            if meta.num_rows == 0 or "item_id" not in meta.schema.names:
                raise UserError(f"{run_dir / ITEMS}: holds no items (or no 'item_id' column); the run folder is "
                                "damaged: remove it and run again")
            return manifest, metrics, None
        import pandas as pd

        items = pd.read_parquet(run_dir / ITEMS)
    except (OSError, pa.ArrowException) as e:
        raise UserError(f"{run_dir / ITEMS}: cannot read the run's items ({str(e).splitlines()[0]}); the run "
                        "folder is damaged: remove it and run again") from None
    if items.empty or "item_id" not in items.columns:
        raise UserError(f"{run_dir / ITEMS}: holds no items (or no 'item_id' column); the run folder is damaged: "
                        "remove it and run again")
    return manifest, metrics, items


MANIFEST_FIELDS = {("task", "name"): str, ("model", "spec"): str, ("model", "kind"): str,
                   ("data", "origin"): str, ("data", "n_items"): int, ("data", "n_items_available"): int}


def check_summary_fields(path: Path, manifest: dict) -> None:
    """The manifest fields a run's summary prints (model, data counts), so a damaged one is one error line."""
    for (section, name), kind in MANIFEST_FIELDS.items():
        value = manifest[section].get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserError(f"{path}: field '{section}.{name}' missing or not a {kind.__name__}; not a complete "
                            "qdbench run manifest")
    for section, name in (("model", "fingerprint"), ("task", "options")):
        if not isinstance(manifest[section].get(name, {}), dict):
            raise UserError(f"{path}: field '{section}.{name}' is not an object; not a qdbench run manifest")


def _is_value(v) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _check_metrics(path: Path, metrics: dict) -> None:
    for name, value in metrics["metrics"].items():
        if not _is_value(value):
            raise UserError(f"{path}: metric '{name}' is {value!r}, expected a number or null; the run folder is "
                            "damaged: remove it and run again")
    for section in ("by_group", "by_group_n"):
        groups = metrics.get(section, {})
        ok = isinstance(groups, dict) and all(
            isinstance(per, dict) and all(isinstance(vals, dict if section == "by_group" else int)
                                          for vals in per.values()) for per in groups.values())
        if ok and section == "by_group":
            ok = all(_is_value(v) for per in groups.values() for vals in per.values() for v in vals.values())
        if not ok:
            raise UserError(f"{path}: field '{section}' is not {{FIELD: {{VALUE: ...}}}} as schema "
                            "qdbench.metrics/1 has it; the run folder is damaged: remove it and run again")


def _read_json(path: Path, fields: dict[str, type]) -> dict:
    """A run file that must be a JSON object holding `fields` (name -> type); a clear error if it is damaged."""
    if not path.is_file():
        raise UserError(f"{path}: missing; the run folder is damaged: remove it and run again")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot read ({e}); the run folder is damaged: remove it and run again") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a JSON object; not a qdbench run file")
    for name, kind in fields.items():
        if not isinstance(doc.get(name), kind):
            raise UserError(f"{path}: field '{name}' missing; not a qdbench run file")
    return doc
