"""Testing hooks that kill this process at a named point, so tests can prove a killed command loses nothing.

- `QDBENCH_KILL_AT=POINT:N` sends SIGKILL the Nth time POINT is reached in this process; POINT `any` counts
  every point, so a seeded random N is a seeded random point of the command.
- `QDBENCH_KILL_ONCE=FILE` kills only if FILE does not exist yet (it is created first): a retried or resumed
  process (a Ray retry, the same command run again) then runs through.
- `QDBENCH_FAULT_LOG=FILE` appends the name of every point reached, one a line: how a test counts the points
  of a command before drawing one, and learns where a kill landed.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def fault(point: str) -> None:
    log = os.environ.get("QDBENCH_FAULT_LOG")
    if log:
        with open(log, "a") as f:
            f.write(point + "\n")
    spec = os.environ.get("QDBENCH_KILL_AT", "")
    name, _, n = spec.rpartition(":")
    if not name or name not in (point, "any"):
        return
    _reached[name] += 1
    if _reached[name] < int(n):
        return
    once = os.environ.get("QDBENCH_KILL_ONCE")
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)
