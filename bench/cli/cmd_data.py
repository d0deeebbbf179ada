"""qdbench data import TASK PATH | data fetch TASK | data list"""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="import (offline) or fetch (online) a task's published data")
    dsub = p.add_subparsers(dest="data_action", required=True, metavar="ACTION")
    imp = dsub.add_parser("import", help="validate and copy published files from a local folder")
    imp.add_argument("task")
    imp.add_argument("path", type=Path)
    imp.set_defaults(func=do_import)
    fetch = dsub.add_parser("fetch", help="download the pinned published files, then import them")
    fetch.add_argument("task")
    fetch.set_defaults(func=do_fetch)
    lst = dsub.add_parser("list", help="show what has been imported")
    lst.set_defaults(func=do_list)


def _report(record: dict) -> None:
    print(f"imported {record['task']}: {record['description']}")
    for name, digest in record["files"].items():
        print(f"  {name}  sha256 {digest[:16]}…")
    if record.get("published_sha256_mismatch"):
        print("  warning: differs from the published sha256: " + ", ".join(record["published_sha256_mismatch"]))


def do_import(args) -> int:
    from bench.data.store import import_data
    from bench.tasks.registry import get_task

    task = get_task(args.task)
    _report(import_data(task.spec, args.path, item_id=task.item_id))
    return 0


def do_fetch(args) -> int:
    from bench.data.store import fetch
    from bench.tasks.registry import get_task

    task = get_task(args.task)
    _report(fetch(task.spec, item_id=task.item_id))
    return 0


def do_list(args) -> int:
    from bench.data.store import imported

    records = imported()
    if not records:
        print("nothing imported yet; tasks use their built-in samples")
    for r in records:
        print(f"{r['task']}: {r['description']} (from {r['source']}, {r['imported_at']})")
    return 0
