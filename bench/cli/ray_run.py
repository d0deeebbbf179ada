"""`qdbench run MATRIX --executor ray`: the command-line side of the Ray executor (resources, failures)."""

from __future__ import annotations

import sys

from bench.errors import UserError


def run_on_ray(matrix, per_task, args) -> list | None:
    """The finished family runs, or None after printing every failed job's error (some were not user errors);
    a UserError when every failure was one."""
    from bench.exec.ray_executor import Resources, run_matrix_on_ray

    for flag in ("retries", "job_cpus", "job_gpus", "job_memory"):
        value = getattr(args, flag)
        if value is not None and (value < 0 or (value == 0 and flag in ("job_cpus", "job_memory"))):
            raise UserError(f"--{flag.replace('_', '-')} must be {'≥ 0' if flag == 'retries' else 'positive'} "
                            f"(got {value})")
    resources = Resources(cpus=args.job_cpus, gpus=args.job_gpus,
                          memory_bytes=int(args.job_memory * 2**30) if args.job_memory else None)
    outcome = run_matrix_on_ray(matrix, per_task, args.address, resources, args.retries)
    for job_id, n in outcome.retried.items():
        print(f"ray: job {job_id} was retried {n} time{'s' * (n > 1)}", file=sys.stderr)
    if not outcome.failed:
        return outcome.runs
    for st in outcome.failed:
        print(f"ray: job {st.job.id} failed after {max(st.attempts, 1)} attempt(s): {st.error}", file=sys.stderr)
    if all(st.user_error for st in outcome.failed):
        raise UserError(f"{len(outcome.failed)} job(s) of matrix '{matrix.name}' failed (see above)")
    print(f"qdbench: {len(outcome.failed)} job(s) of matrix '{matrix.name}' failed (see above); finished jobs are "
          "kept: run the same command again to retry the rest", file=sys.stderr)
    return None
