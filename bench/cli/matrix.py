"""`qdbench run MATRIX.yaml`: every base and variant of the matrix, then the side-by-side table.

`run` calls it when given a matrix file.
"""

from __future__ import annotations

from bench.errors import UserError


def run_matrix_file(args, banner: str | None = None) -> int:
    from bench.cli.checks import out_folder
    from bench.cli.render import console
    from bench.cli.summary import family_table
    from bench.exec.family import run_matrix
    from bench.exec.local import RunOptions
    from bench.exec.plan import load_matrix
    from bench.models.hf import pick_device
    from bench.tasks.registry import get_tasks

    if args.data_dir is not None:
        raise UserError("--data-dir does not apply to a matrix; import the data with `qdbench data import`")
    out_folder(args.out)
    pick_device(args.device)
    matrix = load_matrix(args.matrix)
    opts = RunOptions(out=args.out, limit=args.limit, sample_data=args.sample_data, device=args.device,
                      dtype=args.dtype, batch_tokens=args.batch_tokens, chunk_items=args.chunk_items,
                      trust_remote_code=args.trust_remote_code, quiet=args.quiet)
    if args.executor == "ray":
        from bench.cli.ray_run import run_on_ray

        results = run_on_ray(matrix, opts, args)
        if results is None:
            return 1
    else:
        results = run_matrix(matrix, opts)
    if banner:
        console.print(f"[bold yellow]{banner}[/]")
    console.print(family_table(results, get_tasks(",".join(matrix.tasks))))
    for r in results:
        for d in r.run_dirs.values():
            print(f"run folder: {d}")
    return 0
