"""What a full suite costs on this machine: every task × variant as `qdbench run` runs it, with seconds, items/s
and peak memory, and the time the task's whole shared data set would take, so a family can be planned.

    python benchmarks/suite_cost.py [--threads 2] [--variants base,bf16,rtn-w4a16,bnb-nf4] [--tasks bbq,...]
        [--items 200] [--out /tmp/suite_cost.jsonl] [--table]

Each (task, variant) is one fresh `qdbench run --limit N --no-request-cache` process on the task's published
files (../shared/data), timed whole (imports, model load, scoring, metrics) and by the run's own clock
(`timings.wall_s_last_session` in its manifest); peak memory is that process's maximum resident set. The
whole-data time is the process's start-up plus every available item at the measured rate; the idle estimate
takes the process's CPU seconds instead (start-up once, the run's share over its threads and scaled to every
item): what it would take on this machine with nothing else running, if its threads kept busy. Results append to
`--out` (one JSON line each; a rerun skips what is there), `--table` prints the Markdown table from it. The
load average before and after each run and the CPU are recorded: on a shared machine, read seconds together
with the load, and compare rows measured under similar load.

    python benchmarks/suite_cost.py --from-runs DIR

tabulates what finished runs under DIR (a `qdbench run MATRIX --out DIR`, e.g. a family at full scale) recorded in
their manifests instead: items, the run's seconds and items/s, its threads and the load when it ended; nothing runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.timing import cpu_flags, load  # noqa: E402

DATA = Path(os.environ.get("QDBENCH_SHARED_DATA", ROOT.parent / "shared" / "data"))
TASKS = {  # task: (data folder, extra run options, items measured per run)
    "bbq": ("bbq", [], 200),
    "stereoset": ("stereoset", [], 200),
    "crows_pairs": ("crows_pairs", [], 200),
    "mnli": ("hans", [], 200),
    "adult_fairness": ("decodingtrust", [], 200),
    "rtp_toxicity": ("realtoxicityprompts", ["--samples", "25", "--classifier", "builtin:profanity-check"], 16),
}
BASE = "builtin:smollm2-135m"
VARIANTS = {"base": [], "bf16": ["--dtype", "bfloat16"], "rtn-w4a16": "rtn-w4a16", "bnb-nf4": "bnb-nf4"}


def variant_model(name: str, python: str) -> tuple[str, list[str]]:
    """(--model value, extra options) of a variant; recipes are built once (cached by content hash)."""
    spec = VARIANTS[name]
    if isinstance(spec, list):
        return BASE, spec
    out = subprocess.run([python, "-m", "bench.cli.main", "compress", "--model", BASE, "--recipe", spec],
                         capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    folder = [line for line in out.stdout.splitlines() if line.strip()][-1].split()[-1]
    return folder, []


def run_one(python: str, task: str, model: str, extra: list[str], threads: int, items: int | None) -> dict:
    folder, task_extra, default_items = TASKS[task]
    with tempfile.TemporaryDirectory() as out:
        cmd = [python, "-m", "bench.cli.main", "run", "--model", model, "--tasks", task, "--out", out,
               "--data-dir", str(DATA / folder), "--limit", str(items or default_items), "--no-request-cache",
               "--quiet", *task_extra, *extra]
        before = load()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err = proc.stderr.read().decode(errors="replace")
        if os.waitstatus_to_exitcode(status) != 0:
            return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {status}", "load before": before}
        manifest = json.loads(next(Path(out).rglob("manifest.json")).read_text())
    timings, data = manifest["timings"], manifest["data"]
    run_s = timings["wall_s_last_session"]
    rate = data["n_items"] / run_s
    return {"items": data["n_items"], "items available": data["n_items_available"], "process s": round(wall, 1),
            "process cpu s": round(usage.ru_utime + usage.ru_stime, 1),
            "run s": round(run_s, 1), "items/s": round(rate, 3), "peak MiB": round(usage.ru_maxrss / 1024),
            "whole data s": round(wall - run_s + data["n_items_available"] / rate),
            "whole data idle s": round(idle_estimate(usage.ru_utime + usage.ru_stime, wall, run_s, threads,
                                                     data["n_items_available"] / data["n_items"])),
            "load before": before, "load after": load()}


def idle_estimate(cpu: float, wall: float, run: float, threads: int, scale: float) -> float:
    """Seconds on an otherwise idle machine: the CPU seconds split between start-up (one thread, once) and the
    run (its threads, scaled to every item) in proportion to their wall time."""
    start = cpu * (wall - run) / wall
    return start + (cpu - start) / threads * scale


def hours(s: float) -> str:
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min" if s >= 3600 else f"{s / 60:.1f} min"


def table(rows: list[dict]) -> str:
    head = ["task", "variant", "items measured", "process s (CPU s)", "run s", "items/s", "peak MiB",
            "whole shared data (items)", "whole data, est.", "idle est.", "load"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * 8 + "---|"]
    for r in rows:
        if "error" in r:
            cells = [r["task"], r["variant"], f"failed: {r['error'][:80]}"] + [""] * 7 + [str(r["load before"])]
        else:
            cells = [r["task"], r["variant"], r["items"], f"{r['process s']} ({r.get('process cpu s', '-')})",
                     r["run s"], r["items/s"], r["peak MiB"], r["items available"], hours(r["whole data s"]),
                     hours(r["whole data idle s"]) if "whole data idle s" in r else "-",
                     f"{r['load before']}–{r['load after']}"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def from_runs(root: Path) -> list[dict]:
    """One row per finished run under `root`, from its manifest (what a family at full scale cost, run by run)."""
    rows = []
    for path in sorted(root.rglob("manifest.json")):
        m = json.loads(path.read_text())
        t, hw = m["timings"], m["hardware"]
        rows.append({"family": m["variant"].get("family") or m["model"]["spec"], "variant": m["variant"]["name"],
                     "task": m["task"]["name"], "items": m["data"]["n_items"], "run s": t["wall_s_last_session"],
                     "items/s": t["items_per_s_last_session"], "resumed": t.get("items_resumed") or 0,
                     "threads": hw.get("torch_threads"), "load": hw.get("load_avg_1m"), "cpu": hw.get("cpu"),
                     "isa": hw.get("torch_cpu_capability")})
    return rows


def runs_table(rows: list[dict]) -> str:
    head = ["family", "variant", "task", "items", "run s", "items/s", "items resumed", "threads", "load (1 min)"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * 6]
    for r in rows:
        cells = [r["family"], r["variant"], r["task"], f"{r['items']:,}", f"{r['run s']:.0f}", r["items/s"],
                 r["resumed"], r["threads"], f"{r['load']:.1f}" if r["load"] is not None else "-"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    machines = sorted({f"{r['cpu']} ({r['isa']})" for r in rows})
    return "\n".join(lines) + f"\n\nmeasured on: {', '.join(machines)}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--items", type=int, help="items per run (default: per task, 16 prompts for rtp_toxicity)")
    p.add_argument("--out", type=Path, default=Path("/tmp/qdbench_suite_cost.jsonl"))
    p.add_argument("--table", action="store_true", help="only print the table of --out")
    p.add_argument("--from-runs", type=Path, help="tabulate the finished runs under this folder instead")
    args = p.parse_args()
    if args.from_runs:
        print(runs_table(from_runs(args.from_runs)))
        return
    python = sys.executable
    done = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    if not args.table:
        print(f"{cpu_flags()}; {args.threads} thread(s)")
        for variant in args.variants.split(","):
            model, extra = variant_model(variant, python)
            for task in args.tasks.split(","):
                if any(r["task"] == task and r["variant"] == variant and r["threads"] == args.threads for r in done):
                    continue
                row = {"task": task, "variant": variant, "threads": args.threads,
                       **run_one(python, task, model, extra, args.threads, args.items)}
                done.append(row)
                with args.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    print(table([r for r in done if r["threads"] == args.threads]))


if __name__ == "__main__":
    main()
