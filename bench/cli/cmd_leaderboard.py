"""qdbench leaderboard build [SUBMISSIONS_OR_RUNS...] --out leaderboard/site   |   qdbench leaderboard serve

`build` re-verifies every submission (or validates run folders given directly), computes the paired deltas
from the items and writes a static site; `serve` shows it on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("leaderboard", help="build or serve the static leaderboard site")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    b = verbs.add_parser("build", help="build the site from submissions (or run folders)")
    b.add_argument("sources", nargs="*", type=Path, help="submissions folders or run folders "
                   "(default: leaderboard/submissions)")
    b.add_argument("--out", type=Path, default=Path("leaderboard/site"), help="site folder (default: leaderboard/site)")
    b.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for the intervals")
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=build)
    s = verbs.add_parser("serve", help="serve a built site on 127.0.0.1")
    s.add_argument("--site", type=Path, default=Path("leaderboard/site"))
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=serve)


def _sources(paths: list[Path]) -> list:
    """Submissions from submissions folders; run folders given directly become unsaved submissions."""
    from bench.leaderboard.bundle import find_run_dirs, validate
    from bench.leaderboard.submissions import Submission, load_all

    subs, runs = [], []
    for p in paths:
        if not p.is_dir():
            raise UserError(f"{p}: no such folder")
        if any(c.is_dir() and any(s.is_dir() and (s / "submission.json").is_file() for s in c.iterdir())
               for c in p.iterdir() if c.is_dir() and not c.is_symlink()):
            subs.extend(load_all(p))
        else:
            runs.append(p)
    if runs:
        from bench.leaderboard.accept import submission_doc

        for fam in validate(find_run_dirs(runs)):
            subs.append(Submission(Path("."), submission_doc(fam, {}), fam))
    return subs


def build(args) -> int:
    from bench.cli.checks import out_folder
    from bench.leaderboard.aggregate import build_data
    from bench.leaderboard.site import write_site

    if args.resamples < 1:
        raise UserError(f"--resamples must be positive (got {args.resamples})")
    out_folder(args.out)
    subs = _sources(args.sources or [Path("leaderboard/submissions")])
    if not subs:
        raise UserError("no submissions found; add some with `qdbench submit RUN_DIRS`")
    data = build_data(subs, n_resamples=args.resamples, seed=args.seed)
    write_site(data, args.out)
    print(f"wrote {args.out / 'index.html'}: {len(data['rows'])} variants from {len(subs)} submissions")
    return 0


def serve(args) -> int:
    from bench.leaderboard.serve import server

    if not (args.site / "index.html").is_file():
        raise UserError(f"--site {args.site}: no index.html; run `qdbench leaderboard build` first")
    srv = server(args.site, args.port, quiet=False)
    print(f"serving {args.site} on http://127.0.0.1:{srv.server_address[1]}/ (Ctrl-C stops)")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0
