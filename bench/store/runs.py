"""Run directories: `manifest.json`, `items.parquet`, `metrics.json`, written so that nothing is lost.

While a run is in progress its finished items sit in `.work/part-*.parquet`, each written atomically; a run
killed at any point and started again skips the items already in a part. The three final files are written
at the end, the manifest last, so a folder with a manifest is a complete run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import UserError
from bench.store.atomic import write_json, write_with

if TYPE_CHECKING:
    import pandas as pd

MANIFEST, ITEMS, METRICS, WORK, PLAN = "manifest.json", "items.parquet", "metrics.json", ".work", "plan.json"


def _fault(point: str) -> None:
    """Testing hook: QDBENCH_KILL_AT=point:N sends SIGKILL to this process the Nth time `point` is reached."""
    spec = os.environ.get("QDBENCH_KILL_AT", "")
    if not spec.startswith(point + ":"):
        return
    _fault.count = getattr(_fault, "count", 0) + 1  # type: ignore[attr-defined]
    if _fault.count >= int(spec.split(":")[1]):  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGKILL)


class RunStore:
    """One run directory (one model × task)."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.work = run_dir / WORK

    def is_complete(self) -> bool:
        return (self.dir / MANIFEST).is_file()

    def manifest(self) -> dict:
        return json.loads((self.dir / MANIFEST).read_text())

    def begin(self, run_key: str) -> None:
        """Start or resume; a different run in the same folder is an error, never overwritten."""
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
        elif self.dir.exists() and any(self.dir.iterdir()):
            raise UserError(f"{self.dir} exists and is not a qdbench run; use another --out")
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
        n = len(self.parts())
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
        """Every finished item exactly once, in `order`; anything else means the parts are damaged."""
        df = self.items()
        if len(df) != len(order) or set(df["item_id"]) != set(order) or not df["item_id"].is_unique:
            raise RuntimeError(f"{self.dir}: parts do not hold every item exactly once")
        return df.set_index("item_id").loc[order].reset_index()

    def finalize(self, records: pd.DataFrame, metrics: dict, manifest: dict) -> None:
        """Write the three files, the manifest last (it marks the run complete), then drop the parts."""
        write_with(self.dir / ITEMS, lambda tmp: records.to_parquet(tmp, index=False))
        write_json(self.dir / METRICS, metrics)
        write_json(self.dir / MANIFEST, manifest)
        shutil.rmtree(self.work, ignore_errors=True)


def load_run(run_dir: Path, items: bool = True) -> tuple[dict, dict, pd.DataFrame | None]:
    """manifest, metrics and items of a finished run; a clear error otherwise. With `items=False` the items
    file is only checked to be readable parquet (no pandas: for commands that print summaries)."""
    store = RunStore(run_dir)
    if not store.is_complete():
        if store.work.is_dir():
            raise UserError(f"{run_dir} is an unfinished run ({len(store.done_ids())} items done); run the "
                            "same command again to resume it")
        raise UserError(f"{run_dir} is not a qdbench run folder (no {MANIFEST})")
    manifest = _read_json(run_dir / MANIFEST, {"task": dict, "model": dict, "data": dict})
    if not isinstance(manifest["task"].get("name"), str):
        raise UserError(f"{run_dir / MANIFEST}: field 'task.name' missing; not a qdbench run manifest")
    metrics = _read_json(run_dir / METRICS, {"metrics": dict})
    if not (run_dir / ITEMS).is_file():
        raise UserError(f"{run_dir / ITEMS}: missing; the run folder is damaged: remove it and run again")
    try:
        if not items:
            pq.read_metadata(run_dir / ITEMS)
            return manifest, metrics, None
        import pandas as pd

        items = pd.read_parquet(run_dir / ITEMS)
    except (OSError, pa.ArrowException) as e:
        raise UserError(f"{run_dir / ITEMS}: cannot read the run's items ({str(e).splitlines()[0]}); the run "
                        "folder is damaged: remove it and run again") from None
    return manifest, metrics, items


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
