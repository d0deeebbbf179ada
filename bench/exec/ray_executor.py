"""Run a matrix on a Ray cluster: one job per model of a family, then one job per (model, task) evaluation.

The plan becomes jobs with dependencies: each family's base model is resolved once, each variant is built once
after it (into the shared variants cache), and each run waits for its model. Every job writes where the local
executor would (the same run folders, the same cache), so the results are the same and a job that died
resumes from its last atomic part when Ray retries it; a finished job finds its work done and returns.
Workers must reach the run folder and `$QDBENCH_HOME` at the same paths (one machine, or a shared file system).
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.errors import UserError
from bench.exec.family import FamilyRun, build_variant
from bench.exec.local import RunOptions
from bench.exec.plan import Matrix, PlannedRun, plan
from bench.threads import USER_SETTINGS

# environment a worker needs to see what the driver sees (caches, task folders, offline mode, test hooks)
ENV_PREFIXES = ("QDBENCH_", "HF_", "TRANSFORMERS_", "OMP_NUM_THREADS", *USER_SETTINGS, "TOKENIZERS_PARALLELISM")


@dataclass(frozen=True)
class Resources:
    """What each job asks Ray for; `gpus=None` means one GPU per job where the cluster has any and the device
    is not `cpu`."""

    cpus: float = 1.0
    gpus: float | None = None
    memory_bytes: int | None = None


@dataclass(frozen=True)
class Job:
    """One unit of work: `model` resolves or builds a (family, variant) model, `evaluate` runs it on one task."""

    id: str
    kind: str
    run: PlannedRun
    needs: str | None = None


@dataclass
class JobState:
    job: Job
    state: str = "pending"  # pending -> running -> done | failed
    attempts: int = 0
    error: str | None = None
    user_error: bool = False
    value: object = None


@dataclass
class Outcome:
    runs: list[FamilyRun]
    failed: list[JobState] = field(default_factory=list)
    retried: dict[str, int] = field(default_factory=dict)


def jobs(runs: list[PlannedRun]) -> list[Job]:
    """The plan as jobs in submission order: a model job before the evaluations that need it, the family's base
    before its variants."""
    out: list[Job] = []
    models: set[str] = set()
    for r in runs:
        model_id = f"{r.family}/{r.variant}"
        if model_id not in models:
            models.add(model_id)
            needs = None if r.recipe is None else f"{r.family}/base"
            out.append(Job(model_id, "model", r, needs))
        out.append(Job(f"{model_id}/{r.task}", "evaluate", r, model_id))
    return out


def run_matrix_on_ray(matrix: Matrix, per_task: dict[str, RunOptions], address: str | None = None,
                      resources: Resources = Resources(), retries: int = 2) -> Outcome:
    """Execute the matrix as Ray jobs (`per_task`: task name -> RunOptions, as the local executor takes them)
    and wait for all of them; failures are collected, not raised."""
    ray = _import_ray()
    from bench.exec.local import prepare
    from bench.tasks.registry import get_task

    quiet = all(o.quiet for o in per_task.values())
    per_task = {name: replace(o, out=Path(o.out).resolve(), quiet=True) for name, o in per_task.items()}
    planned = plan(matrix)
    for name in dict.fromkeys(r.task for r in planned):  # data errors before any job starts
        for w in prepare(get_task(name), per_task[name]).warnings:
            if not quiet:
                print(f"note: {name}: {w}", file=sys.stderr)
    started_here = _connect(ray, address)
    try:
        return _execute(ray, jobs(planned), per_task, resources, retries, quiet)
    finally:
        if started_here:
            ray.shutdown()


def _execute(ray, job_list: list[Job], per_task: dict[str, RunOptions], resources: Resources, retries: int,
             quiet: bool) -> Outcome:
    board = _board_class(ray).options(num_cpus=0).remote()
    gpus = resources.gpus
    if gpus is None:
        on_cpu = all(o.device == "cpu" for o in per_task.values())
        gpus = 1.0 if not on_cpu and ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    task_options = {"num_cpus": resources.cpus, "num_gpus": gpus, "max_retries": retries,
                    "retry_exceptions": True, "runtime_env": {"env_vars": _worker_env()}}
    if resources.memory_bytes:
        task_options["memory"] = resources.memory_bytes
    remote = ray.remote(_run_job).options(**task_options)
    states = {j.id: JobState(j) for j in job_list}
    refs: dict[str, object] = {}
    for j in job_list:  # dependencies as object refs: Ray starts a job once the job it needs has finished
        refs[j.id] = remote.remote(j, per_task, refs[j.needs] if j.needs else None, board)
    waiting = {ref: job_id for job_id, ref in refs.items()}
    shown = None
    while waiting:
        ready, _ = ray.wait(list(waiting), num_returns=len(waiting), timeout=0.5)
        for ref in ready:
            st = states[waiting.pop(ref)]
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as e:
                st.state, st.error = "failed", _last_line(e)
                continue
            if result["ok"]:
                st.state, st.value = "done", result["value"]
            else:
                st.state, st.error, st.user_error = "failed", result["error"], result["user_error"]
        for job_id, n in ray.get(board.attempts.remote()).items():
            states[job_id].attempts = n
            if states[job_id].state == "pending":
                states[job_id].state = "running"
        counts = Counter(s.state for s in states.values())
        view = " · ".join(f"{counts[k]} {k}" for k in ("pending", "running", "done", "failed"))
        if view != shown and not quiet:
            print(f"ray: {view} (of {len(states)} jobs)", file=sys.stderr)
            shown = view
    return _outcome(states)


def _outcome(states: dict[str, JobState]) -> Outcome:
    """The finished models with their finished runs, in plan order; the failed jobs; how often each was retried."""
    runs: dict[str, FamilyRun] = {}
    for st in states.values():
        r = st.job.run
        if st.job.kind == "model" and st.state == "done":
            runs[st.job.id] = FamilyRun(r.family, r.variant, st.value["ref"].path, {})
        elif st.state == "done":
            runs[st.job.needs].run_dirs[r.task] = Path(st.value)
    failed = [s for s in states.values() if s.state == "failed"]
    retried = {s.job.id: s.attempts - 1 for s in states.values() if s.attempts > 1}
    return Outcome([fr for fr in runs.values() if fr.run_dirs], failed, retried)


def _run_job(job: Job, per_task: dict[str, RunOptions], needed: dict | None, board) -> dict:
    """Body of every job (runs in a Ray worker). A user error is a result (retrying cannot fix it); any other
    exception, or the worker dying, makes Ray retry the job."""
    board.started.remote(job.id, os.getpid())
    if needed is not None and not needed["ok"]:
        return {"ok": False, "user_error": needed["user_error"], "error": f"needs {job.needs}, which failed"}
    try:
        if job.kind == "model":
            return {"ok": True, "value": _model(job, needed)}
        from bench.exec.local import evaluate
        from bench.tasks.registry import get_task

        r, model = job.run, needed["value"]
        opts = replace(per_task[r.task], run_name=r.run_name, variant=model["variant"])
        run_dir = evaluate(model["ref"], [get_task(r.task)], opts)[0]
        return {"ok": True, "value": str(run_dir)}
    except UserError as e:
        return {"ok": False, "user_error": True, "error": str(e)}


def _model(job: Job, needed: dict | None) -> dict:
    from bench.models.loading import resolve

    r = job.run
    base = resolve(r.base, r.revision) if needed is None else needed["value"]["ref"]
    ref, variant = build_variant(r, base, quiet=True)
    return {"ref": ref, "variant": variant}


def _board_class(ray):
    @ray.remote
    class JobBoard:
        """Which jobs have started, how often (a retry starts a job again), and in which process."""

        def __init__(self):
            self.starts: dict[str, list[int]] = {}

        def started(self, job_id: str, pid: int) -> None:
            self.starts.setdefault(job_id, []).append(pid)

        def attempts(self) -> dict[str, int]:
            return {k: len(v) for k, v in self.starts.items()}

        def pids(self) -> dict[str, list[int]]:
            return dict(self.starts)

    return JobBoard


def _connect(ray, address: str | None) -> bool:
    """Join the cluster at `address`, or start a local one; True when this call started it (and must stop it)."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 configure_logging=True)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise UserError(f"--address {address}: cannot connect to a Ray cluster ({_last_line(e)})") from None
    return True


def _import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'qdbench[ray]'") from None
    return ray


def _worker_env() -> dict[str, str]:
    from bench.paths import home

    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    env["QDBENCH_HOME"] = str(home().resolve())
    return env


def _last_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(e).__name__
