"""A build's own peak resident memory.

`ru_maxrss` only grows over a process's life, so in a family run (one process building variant after variant)
every build after the largest would report that one's peak. On Linux the process's high-water mark is reset
when a build starts (/proc/self/clear_refs, mode 5) and read from /proc/self/status when it ends; elsewhere the
process's lifetime peak is reported and the note says so.
"""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Start measuring this process's peak from now; False where the OS does not allow it."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def _hwm_bytes() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss(since_reset: bool, children: bool = False) -> tuple[int, str]:
    """(bytes, what they measure): this process's peak since `reset_peak` where that worked, else since it
    started; with `children`, also the largest child process waited for (its peak cannot be reset)."""
    own = _hwm_bytes() if since_reset else None
    note = "peak resident memory of this build's process during the build"
    if own is None:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        note = "peak resident memory of the process that built it, since that process started"
    if children:
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        if child > own:
            return child, ("peak resident memory of the largest build process this process started "
                           "(bench/compress/portable.py), since it started")
    return own, note
