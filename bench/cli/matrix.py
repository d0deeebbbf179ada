"""`qdbench run MATRIX.yaml` and `qdbench run --family F.yaml --tasks T`: every base and variant of the matrix,
then the side-by-side table.

Options come from three places, later ones winning: the `qdbench run` flags' defaults, the matrix file
(any run option as a top-level field), the flags given on the command line. A task's own `limit` and
`options` (matrix `tasks: {name: {limit, options}}` or its suite's) win over the matrix-wide ones, but not
over the command line. `--tasks` or `--suite` with a matrix replace its tasks: the same family on other tasks
or at another scale (a task named by `--tasks` keeps the matrix's entry for it, its data folder included);
`--variants` keeps only the variants named.
"""

from __future__ import annotations

from dataclasses import replace

from bench.errors import UserError


def matrix_from(args):
    from bench.exec.plan import Family, Matrix, load_matrix

    if args.tasks and args.suite:
        raise UserError("give one of --tasks or --suite")
    if args.matrix is not None:
        matrix = load_matrix(args.matrix)
        if args.tasks or args.suite:
            matrix = _with_tasks(matrix, args.tasks, args.suite)
        if getattr(args, "variants", None):
            matrix = _with_variants(matrix, args.variants)
        return matrix, args.matrix
    if getattr(args, "variants", None):
        raise UserError("--variants picks variants of a matrix file; give one")
    from bench.compress.families import load_family
    from bench.exec.plan import family_path

    if not (args.tasks or args.suite):
        raise UserError("--family needs one of --tasks or --suite")
    path = family_path(str(args.family))
    name = load_family(path).name
    tasks = [t.strip() for t in (args.tasks or "").split(",") if t.strip()]
    return Matrix(name=name, families=[Family(published=str(path))], tasks=tasks, suite=args.suite), path


def _with_tasks(matrix, tasks: str | None, suite: str | None):
    """The matrix with the command line's tasks (its own entries kept for them) or suite instead of its own."""
    from bench.exec.suite import SuiteTask, load_suite

    if suite:
        load_suite(suite)  # a missing or malformed suite is refused here, naming it
        return matrix.model_copy(update={"tasks": {}, "suite": suite})
    entries = matrix.task_entries()
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    return matrix.model_copy(update={"tasks": {n: entries.get(n, SuiteTask()) for n in names}, "suite": None})


def _with_variants(matrix, names: str):
    """The matrix with only the variants named (each family keeps its base); a name no family has is refused."""
    from bench.exec.plan import variant_name

    wanted = {n.strip() for n in names.split(",") if n.strip()}
    if any(fam.published is not None for fam in matrix.families):
        raise UserError("--variants picks a matrix's own variants; a published family's students all run")
    listed = {variant_name(v) for fam in matrix.families for v in fam.variants}
    if unknown := sorted(wanted - listed):
        raise UserError(f"--variants: {', '.join(unknown)} not in the matrix (it has: {', '.join(sorted(listed))})")
    families = [fam.model_copy(update={"variants": [v for v in fam.variants if variant_name(v) in wanted]})
                for fam in matrix.families]
    return matrix.model_copy(update={"families": families})


def per_task_options(matrix, where: str, cli: dict, given: dict) -> dict:
    """task name -> RunOptions, by the precedence in the module docstring."""
    from bench.cli.options import defaults, file_options, run_options

    from_file = file_options(matrix.run_fields(), where)
    base = {**defaults(), **from_file, **given, **{k: cli.get(k) for k in ("out", "data_dir", "argv")}}
    out = {}
    for name, entry in matrix.task_entries().items():
        values = dict(base)
        if "limit" not in given and entry.limit is not None:
            values["limit"] = entry.limit
        if entry.data_dir is not None:  # the entry names its data: it wins over the shipped sample
            values["data_dir"], values["sample_data"] = entry.data_dir, False
        opts = run_options(values)
        task_options = {**{k: v for k, v in opts.task_options.items() if k not in given},
                        **entry.options, **{k: v for k, v in opts.task_options.items() if k in given}}
        out[name] = replace(opts, task_options=task_options)
    return out


def family_options(matrix, where: str, given: dict) -> dict[str, dict]:
    """family name -> its `run:` options (validated like the matrix-wide ones), less those given on the
    command line, which win."""
    from bench.cli.options import file_options

    out = {}
    for fam in matrix.families:
        if fam.run:
            name = fam.family_name()
            values = file_options(fam.run, f"{where}, family '{name}', field 'run'")
            out[name] = {k: v for k, v in values.items() if k not in given}
    return out


def run_matrix_file(args, banner: str | None = None) -> int:
    from bench.cli.checks import out_folder
    from bench.cli.options import given
    from bench.cli.render import console
    from bench.cli.summary import family_table
    from bench.exec.family import run_matrix
    from bench.logs import log_to
    from bench.models.device import pick_device
    from bench.tasks.registry import get_task

    if args.data_dir is not None:
        raise UserError("--data-dir does not apply to a matrix; import the data with `qdbench data import`")
    matrix, where = matrix_from(args)
    per_task = per_task_options(matrix, f"matrix file {where}", vars(args), given(getattr(args, "argv", None)))
    out_folder(args.out)
    log_to(args.out / "qdbench.log")
    pick_device(next(iter(per_task.values())).device)
    if getattr(args, "executor", "local") == "ray":
        from bench.cli.ray_run import run_on_ray

        results = run_on_ray(matrix, per_task, args)
        if results is None:
            return 1
    else:
        results = run_matrix(matrix, per_task, family_options(matrix, f"matrix file {where}",
                                                              given(getattr(args, "argv", None))))
    if banner:
        console.print(f"[bold yellow]{banner}[/]")
    console.print(family_table(results, [get_task(name) for name in per_task]))
    for r in results:
        for d in r.run_dirs.values():
            print(f"run folder: {d}")
    return 0
