"""The reliability suite's tools: commands run in forked children of the test process (the imports are paid
once), and a tally of what the suite tried, printed at the end of the session (and written to
$QDBENCH_RELIABILITY_REPORT as JSON, for benchmarks/reliability.json)."""

from __future__ import annotations

import os
import sys
import traceback
from collections import defaultdict
from pathlib import Path

TALLY: dict[str, dict] = defaultdict(lambda: {"tried": 0, "passed": 0, "items_lost": 0, "items_duplicated": 0,
                                              "cases": []})


def record(kind: str, case: str, ok: bool, lost: int = 0, duplicated: int = 0) -> None:
    t = TALLY[kind]
    t["tried"] += 1
    t["passed"] += int(ok)
    t["items_lost"] += lost
    t["items_duplicated"] += duplicated
    t["cases"].append(case)


def fork_cli(argv: list[str], env: dict[str, str | None], log: Path, wait: bool = True) -> int:
    """`qdbench ARGV` in a forked child with `env` over this environment (None removes a name); its exit code,
    or -N when signal N killed it (with wait=False: its pid, for `wait_child`). The child's stdout and stderr go
    to `log` (.out / .err)."""
    out, err = log.with_suffix(".out"), log.with_suffix(".err")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            for k, v in env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
            os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            from bench.cli.main import main

            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return wait_child(pid) if wait else pid


def wait_child(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


