"""Live progress of the long parts of a distillation (the teacher writing its corpus, the teacher's top-k pass,
training): one plain line on stderr every few seconds with the numbers that say whether to wait — step, live
loss, tokens/s, learning rate, ETA.

The CLI turns every tqdm bar off (bench/logs.py keeps library chatter out of the terminal), and a plain line
also reads well in a log file, so this is not a tqdm bar.
"""

from __future__ import annotations

import sys
import time

EVERY_S = 10.0


def _hms(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Counts `total` units from `start`; `update` prints a line at most every EVERY_S seconds and at the end."""

    def __init__(self, desc: str, total: int, start: int = 0, quiet: bool = False, unit: str = "step"):
        self.desc, self.total, self.start, self.done, self.quiet, self.unit = desc, total, start, start, quiet, unit
        self.t0 = self.last = time.perf_counter()

    def update(self, n: int = 1, **fields) -> None:
        self.done += n
        now = time.perf_counter()
        if self.quiet or (now - self.last < EVERY_S and self.done < self.total):
            return
        self.last = now
        rate = (self.done - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        extra = "".join(f" {k} {v}" for k, v in fields.items())
        print(f"{self.desc}: {self.unit} {self.done}/{self.total}{extra}, elapsed {_hms(now - self.t0)}, "
              f"ETA {_hms(eta) if eta != float('inf') else '?'}", file=sys.stderr, flush=True)
