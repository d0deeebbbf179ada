"""One progress display per run: items done of the total, items/s and the time left, advancing per batch.

The backend reports finished batches in its own units (requests); within a chunk of items they are turned
into a fraction of the chunk's items, and the count is set exactly when the chunk is written.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


def _speed(task) -> float | None:
    """Items per second since this session started: steadier than a recent-window estimate when the backend
    reports a chunk's batches in bursts."""
    done = task.completed - task.fields.get("initial", 0)
    return done / task.elapsed if task.elapsed and done > 0 else None


class ItemsPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        speed = _speed(task)
        return Text("– items/s" if speed is None else f"{speed:.2f} items/s")


class TimeLeft(ProgressColumn):
    def render(self, task) -> Text:
        speed = _speed(task)
        if task.finished:
            return Text("ETA 0:00:00")
        if not speed or task.total is None:
            return Text("ETA -:--:--")
        left = int((task.total - task.completed) / speed)
        return Text(f"ETA {left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}")


class ItemProgress:
    def __init__(self, label: str, total: int, done: int = 0, quiet: bool = False):
        self.quiet = quiet
        self.done = float(done)
        self._progress = None
        if not quiet:
            console = Console(stderr=True)
            if not console.is_terminal:
                console = Console(stderr=True, width=160)
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      ItemsPerSecond(), TimeLeft(),
                                      TextColumn("elapsed"), TimeElapsedColumn(), console=console,
                                      refresh_per_second=2 if console.is_terminal else 0.1)
            self._task = self._progress.add_task(label, total=total, completed=done, initial=done)

    def __enter__(self) -> ItemProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def within(self, n_items: int, n_units: int) -> Callable[[int], None] | None:
        """A callback for the backend while it answers `n_units` requests for `n_items` items."""
        if self._progress is None or n_units <= 0:
            return None
        start, seen = self.done, [0]

        def advance(units: int) -> None:
            seen[0] = min(seen[0] + units, n_units)
            self._progress.update(self._task, completed=start + n_items * seen[0] / n_units)
        return advance

    def finish_chunk(self, n_items: int) -> None:
        self.done += n_items
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done)
