"""Host memory for CPU inference: keep freed tensors' memory in the process instead of handing it back.

glibc's malloc serves a large block (tens to hundreds of MB: a layer's activations over a batch, a chunk of
logits over the vocabulary) with a fresh mmap and returns it to the system when freed, so the next forward
faults the same amount of memory in again, page by page, each page zeroed by the kernel (and, in a virtual
machine, each fault a trip through the hypervisor). Scoring StereoSet with SmolLM2-135M on CPU took about
900,000 page faults per call and 12% of its CPU time that way. Raising the mmap and trim thresholds makes
freed blocks stay in the heap and be reused; the process keeps its peak memory instead of returning it, which
is what a scoring run reaches again at its next batch anyway.

Only glibc has these knobs (`mallopt`); elsewhere, or when the user set them through the environment, nothing
changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 1 << 30  # blocks up to 1 GiB come from the heap and stay there when freed
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")

_done: list[bool] = []


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds, once per process; whether they are now raised."""
    if _done:
        return _done[0]
    ok = False
    if not any(k in os.environ for k in USER_SETTINGS):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            ok = bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD)) and bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    _done.append(ok)
    return ok
