"""Fixtures of the reliability suite, and its tally printed at the end of the session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reliability.harness import TALLY, fork_cli


@pytest.fixture
def child(tmp_path):
    """fork_cli with logs in the test's folder: child(argv, **env) -> (exit code, stdout, stderr)."""
    n = [0]

    def run(argv: list[str], **env: str | None) -> tuple[int, str, str]:
        n[0] += 1
        log = tmp_path / f"child-{n[0]}.log"
        rc = fork_cli([str(a) for a in argv], env, log)
        return rc, log.with_suffix(".out").read_text(), log.with_suffix(".err").read_text()

    return run


def pytest_terminal_summary(terminalreporter):
    if not TALLY:
        return
    lines = [f"{kind}: {t['passed']} of {t['tried']} as promised" + (
        f"; items lost {t['items_lost']}, duplicated {t['items_duplicated']}" if kind.startswith("kill") else "")
        for kind, t in sorted(TALLY.items())]
    terminalreporter.write_sep("-", "reliability suite")
    for line in lines:
        terminalreporter.write_line(line)
    report = os.environ.get("QDBENCH_RELIABILITY_REPORT")
    if report:
        Path(report).write_text(json.dumps(dict(sorted(TALLY.items())), indent=2) + "\n")
