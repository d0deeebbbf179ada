"""qdbench submit RUN_DIRS... [--to leaderboard/submissions]

Validate a bundle of a family's runs (schemas, provenance, hashes, a base for every variant, identical items,
every metric recomputed from the items) and add it to the submissions folder atomically, or refuse it whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import UserError

if TYPE_CHECKING:
    from bench.leaderboard.submissions import Submission


def add_parser(sub) -> None:
    p = sub.add_parser("submit", help="validate a family's runs and add them to the leaderboard's submissions")
    p.add_argument("runs", nargs="+", type=Path, help="run folders, or folders holding them (e.g. runs/FAMILY)")
    p.add_argument("--to", type=Path, default=Path("leaderboard/submissions"),
                   help="submissions folder (default: leaderboard/submissions)")
    p.add_argument("--submitter", help="who submits (shown on the site)")
    p.add_argument("--notes", help="free text shown with the submission (e.g. how the runs were made)")
    p.add_argument("--total-seconds", type=float, help="wall time it took to produce the runs, end to end, if "
                   "measured (recorded beside the per-run times the manifests give)")
    p.add_argument("--supersedes", type=Path, metavar="SUBMISSION",
                   help="an accepted submission of the same family (its folder, or FAMILY/ID under --to) that these "
                   "runs extend: every run of it must be among them, byte for byte; variants whose folders are not "
                   "on this machine keep the bytes it measured for the same weights; it is removed once this one is "
                   "added")
    p.add_argument("--remeasured", action="append", default=[], metavar="VARIANT/TASK",
                   help="with --supersedes: a run of it that was measured again (e.g. on the build of the variant "
                   "that made its other runs); the new run of that variant and task replaces it (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="validate only; add nothing")
    p.set_defaults(func=submit)


def submit(args) -> int:
    import math

    from bench.cli.checks import out_folder
    from bench.leaderboard.accept import accept, prepare
    from bench.leaderboard.bundle import find_run_dirs, fingerprint, validate, variant_of
    from bench.leaderboard.safety import check_text

    if args.total_seconds is not None and not (math.isfinite(args.total_seconds) and args.total_seconds >= 0):
        raise UserError(f"--total-seconds must be a finite, non-negative number of seconds (got {args.total_seconds})")
    out_folder(args.to, "--to")
    meta = {"submitter": check_text(args.submitter, "--submitter") if args.submitter else None,
            "notes": check_text(args.notes, "--notes") if args.notes else None,
            "reported_total_s": args.total_seconds}
    if args.remeasured and not args.supersedes:
        raise UserError("--remeasured names runs of the submission that --supersedes replaces; give --supersedes")
    families = validate(find_run_dirs(args.runs))
    old = superseded(args.supersedes, args.to, families, args.remeasured) if args.supersedes else None
    if old is not None:
        meta["carried"] = {"id": old.doc["id"], "variants": {
            name: (fingerprint(next(r for r in old.family.runs if variant_of(r) == name).manifest), size)
            for name, size in old.doc["variants"].items()}}
    prepared = prepare(families, args.to, meta)  # every check and the documents, before anything is said to pass
    for fam in families:
        variants = sorted({variant_of(r) for r in fam.runs})
        tasks = sorted({r.task for r in fam.runs})
        print(f"family {fam.name}: {len(variants)} variants ({', '.join(variants)}) × {len(tasks)} tasks "
              f"({', '.join(tasks)}): all checks passed")
    if args.dry_run:
        print("dry run: nothing added")
        return 0
    for path in accept(prepared, args.to):
        print(f"added {path}")
    if old is not None:
        import shutil

        shutil.rmtree(old.path)
        print(f"removed {old.path} (superseded: every run of it is in the new submission"
              + (", or measured again)" if args.remeasured else ")"))
    return 0


def superseded(path: Path, root: Path, families: list, remeasured: list[str] = ()) -> Submission:
    """The accepted submission `path` (verified as `build` reads it), refused unless the new runs are one family,
    the same, and hold every run of it byte for byte, or a new run of the same variant and task for each run
    named in `remeasured` ('VARIANT/TASK'): replacing it then loses nothing."""
    from bench.leaderboard.bundle import variant_of
    from bench.leaderboard.submissions import load_submission

    if not (path / "submission.json").is_file() and (root / path / "submission.json").is_file():
        path = root / path  # as the help has it: FAMILY/ID under --to
    if not (path / "submission.json").is_file():
        raise UserError(f"--supersedes {path}: not an accepted submission (no submission.json there, nor under "
                        f"--to {root})")
    old = load_submission(path.resolve(), root.resolve())
    if len(families) != 1 or families[0].name != old.doc["family"]:
        raise UserError(f"--supersedes {path}: it is family '{old.doc['family']}'; the runs given are "
                        f"{', '.join(sorted(f.name for f in families))}")
    new = {(variant_of(r), r.task): families[0].hashes[r.path] for r in families[0].runs}
    olds = {(variant_of(r), r.task) for r in old.family.runs}
    again = {tuple(name.split("/", 1)): name for name in remeasured}
    for key, name in again.items():
        if key not in olds:
            raise UserError(f"--remeasured {name}: {path} has no run of that variant and task (VARIANT/TASK)")
    for r in old.family.runs:
        key = (variant_of(r), r.task)
        if not (key in again and key in new) and new.get(key) != old.family.hashes[r.path]:
            raise UserError(f"--supersedes {path}: its run {variant_of(r)}/{r.task} is not among the runs given "
                            "(the same files); a submission is replaced only by one that keeps all of its runs")
    return old
